"""fuse-gelu: GELU, decomposed or not, becomes ``nn.gelu``.

Two decompositions are recognised, each ending in ``0.5 * x * (1 + f)``:

- exact (erf): ``f = Erf(x / sqrt(2))``, the ``/ sqrt(2)`` spelled ``Div(x, 1.414..)`` or
  ``Mul(x, 0.707..)``;
- tanh: ``f = Tanh(sqrt(2/pi) * (x + 0.044715 * x^3))``, ``x^3`` spelled ``Pow(x, 3)`` or as
  products of ``x``.

The final product may associate as ``(x * (1 + f)) * 0.5`` (torch), ``((1 + f) * 0.5) * x`` or
``(x * 0.5) * (1 + f)``, with the operands of every Add and Mul in either order. Patterns start at
the Erf or Tanh and walk back to ``x`` and forward over the product. Constants match to a relative
1e-6 (float32 spellings of sqrt(2) and sqrt(2/pi) are not exact). ``onnx.Gelu`` maps directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..dialects.nn import GeluOp
from ..dialects.onnx import AddOp, DivOp, ErfOp, MulOp, PowOp, TanhOp
from ..dialects.onnx import GeluOp as OnnxGeluOp
from ..ir.attributes import StringAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..pm import Pass, register_pass
from ._fusion import (
    defining_op,
    describe,
    is_float_tensor,
    is_scalar,
    other_operand,
    replace_with,
    run_patterns,
    sole_user,
)

SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
TANH_CUBIC = 0.044715


def _scaled_input(value: Value, factor: float) -> Value | None:
    """``x`` if ``value`` is ``x * factor`` (Mul, either order) or ``x / (1 / factor)`` (Div)."""
    op = defining_op(value, MulOp, DivOp)
    if op is None:
        return None
    if isinstance(op, DivOp):
        return op.operands[0] if is_scalar(op.operands[1], 1.0 / factor) else None
    for x in op.operands:
        if is_scalar(other_operand(op, x), factor):
            return x
    return None


def _one_plus(f: Value) -> Operation | NoMatch:
    """The Add computing ``1 + f`` (either order), ``f``'s only user."""
    add = sole_user(f, AddOp)
    if add is None:
        return NoMatch(f"the {describe(f)} is not used only by an Add of 1")
    if not is_scalar(other_operand(add, f), 1.0):
        return NoMatch("the Add after it does not add the constant 1")
    return add


def _half_x_times(a: Value, x: Value) -> Operation | NoMatch:
    """The last Mul of ``0.5 * x * a`` in any association, or why there is none."""
    first = sole_user(a, MulOp)
    if first is None:
        return NoMatch("1 + f is not used only by a Mul")
    other = other_operand(first, a)
    if other is x or is_scalar(other, 0.5):
        second = sole_user(first.results[0], MulOp)
        if second is None:
            return NoMatch("the product is not completed by a second Mul")
        last = other_operand(second, first.results[0])
        wanted_ok = is_scalar(last, 0.5) if other is x else last is x
        return second if wanted_ok else NoMatch("the second Mul is not by 0.5 / by x")
    half = defining_op(other, MulOp)
    if half is not None and len(other.uses) == 1:
        if any(v is x and is_scalar(other_operand(half, v), 0.5) for v in half.operands):
            return first
    return NoMatch("1 + f is not multiplied by x and 0.5")


def _replace(
    rewriter: PatternRewriter, last: Operation, x: Value, approximate: str
) -> bool | NoMatch:
    if last.results[0].type != x.type:
        return NoMatch(f"the constants broadcast x {x.type} to {last.results[0].type}")
    fused = GeluOp.create(
        [x],
        [last.results[0].type],
        {"approximate": StringAttr(approximate)},
        location=last.location,
    )
    return replace_with(rewriter, last, fused)


class ErfGelu(RewritePattern):
    """``x * 0.5 * (1 + Erf(x / sqrt(2)))`` → ``nn.gelu {approximate = "none"}``."""

    root = ErfOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        x = _scaled_input(op.operands[0], 1.0 / SQRT_2)
        if x is None:
            return NoMatch(f"the Erf input is not x / sqrt(2) ({describe(op.operands[0])})")
        if not is_float_tensor(x):
            return NoMatch("x is not a float tensor")
        if len(op.operands[0].uses) != 1:
            return NoMatch("x / sqrt(2) has other users")
        add = _one_plus(op.results[0])
        if isinstance(add, NoMatch):
            return add
        last = _half_x_times(add.results[0], x)
        if isinstance(last, NoMatch):
            return last
        return _replace(rewriter, last, x, "none")


def _cube_of(value: Value) -> Value | None:
    """``x`` if ``value`` is ``x^3`` as ``Pow(x, 3)``, ``x * (x * x)`` or ``(x * x) * x``."""
    op = defining_op(value, PowOp, MulOp)
    if op is None:
        return None
    if isinstance(op, PowOp):
        return op.operands[0] if is_scalar(op.operands[1], 3.0, 0.0) else None
    for x in op.operands:
        square = defining_op(other_operand(op, x), MulOp)
        if square is not None and square.operands[0] is x and square.operands[1] is x:
            return x
    return None


class TanhGelu(RewritePattern):
    """``0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`` → ``nn.gelu {approximate =
    "tanh"}``."""

    root = TanhOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        inner = _scaled_input(op.operands[0], SQRT_2_OVER_PI)
        add = defining_op(inner, AddOp) if inner is not None else None
        if add is None:
            return NoMatch(
                f"the Tanh input is not sqrt(2/pi) * (x + ...) ({describe(op.operands[0])})"
            )
        for x in add.operands:
            cubed = _scaled_input(other_operand(add, x), TANH_CUBIC)
            if cubed is not None and _cube_of(cubed) is x:
                break
        else:
            return NoMatch("the Tanh argument is not sqrt(2/pi) * (x + 0.044715 * x^3)")
        if not is_float_tensor(x):
            return NoMatch("x is not a float tensor")
        if len(op.operands[0].uses) != 1 or len(inner.uses) != 1:
            return NoMatch("the Tanh argument has other users")
        plus = _one_plus(op.results[0])
        if isinstance(plus, NoMatch):
            return plus
        last = _half_x_times(plus.results[0], x)
        if isinstance(last, NoMatch):
            return last
        return _replace(rewriter, last, x, "tanh")


class OnnxGelu(RewritePattern):
    """``onnx.Gelu`` (opset 20) → ``nn.gelu`` with the same ``approximate``."""

    root = OnnxGeluOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        approximate = op.get_attr("approximate", "none")
        if approximate not in ("none", "tanh"):
            return NoMatch(f"unknown approximate '{approximate}'")
        if not is_float_tensor(op.operands[0]):
            return NoMatch("x is not a float tensor")
        return _replace(rewriter, op, op.operands[0], approximate)


@register_pass
@dataclass(frozen=True)
class FuseGeluPass(Pass):
    """Turns the erf and tanh decompositions of GELU and ``onnx.Gelu`` into ``nn.gelu``."""

    name = "fuse-gelu"
    summary = "Decomposed GELU (erf and tanh forms) and onnx.Gelu -> nn.gelu"

    debug_patterns: bool = field(
        default=False, metadata={"help": "print why candidate ops were not fused (stderr)"}
    )

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [ErfGelu(), TanhGelu(), OnnxGelu()], self.debug_patterns)
