"""fuse-layernorm: layer normalisation, decomposed or not, becomes ``nn.layer_norm``.

Exporters before opset 17 spell ``LayerNorm(x)`` as nine ops (torch's form)::

    m = ReduceMean(x, axes, keepdims=1)     d = Sub(x, m)
    p = Pow(d, 2)  (or Mul(d, d))           v = ReduceMean(p, axes, keepdims=1)
    e = Add(v, eps)                         s = Sqrt(e)
    n = Div(d, s)  (or Mul(d, Reciprocal(s)))
    g = Mul(n, gamma)                       y = Add(g, beta)

with ``axes`` the trailing axes; the operands of Add and Mul may come in either order and the
affine tail (``gamma``, ``beta``) is optional. The pattern starts at the normalising Div (or Mul)
and walks back to ``x`` and forward over the affine tail, taking ``gamma``/``beta`` only when they
vary over the normalised axes alone. ``onnx.LayerNormalization`` becomes the same op when only its
first output is used and its statistics are computed in the input's type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dialects.nn import LayerNormOp
from ..dialects.onnx import (
    AddOp,
    DivOp,
    LayerNormalizationOp,
    MulOp,
    PowOp,
    ReciprocalOp,
    ReduceMeanOp,
    SqrtOp,
    SubOp,
)
from ..ir.attributes import FloatAttr, IntegerAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..ir.types import NoneType
from ..pm import Pass, register_pass
from ._fusion import (
    const_array,
    constant,
    constant_hint,
    defining_op,
    describe,
    invalid,
    is_float_tensor,
    is_scalar,
    no_value,
    normalize_axes,
    other_operand,
    reduce_axes,
    replace_with,
    run_patterns,
    scalar_const,
    sole_user,
    used_only_by,
)


def _trailing_mean(value: Value) -> tuple[Operation, Value, list[int]] | NoMatch:
    """``value = ReduceMean(x, trailing axes, keepdims=1)`` → (op, x, axes)."""
    op = defining_op(value, ReduceMeanOp)
    if op is None:
        return NoMatch(f"expected a ReduceMean, found {describe(value)}")
    x = op.operands[0]
    rank = x.type.rank
    axes = reduce_axes(op)
    axes = normalize_axes(axes, rank) if axes is not None else None
    if not axes:
        return NoMatch("the ReduceMean axes are not known constants")
    if axes != list(range(rank - len(axes), rank)):
        return NoMatch(
            f"the ReduceMean axes {axes} are not the trailing axes of a rank-{rank} tensor"
        )
    if not op.get_attr("keepdims", 1):
        return NoMatch("the ReduceMean drops the reduced axes (keepdims=0)")
    return op, x, axes


def _squared(value: Value, d: Value) -> Operation | None:
    """The op computing ``d * d`` as ``Pow(d, 2)`` or ``Mul(d, d)``."""
    op = defining_op(value, PowOp, MulOp)
    if op is None or op.operands[0] is not d:
        return None
    if isinstance(op, PowOp):
        return op if is_scalar(op.operands[1], 2.0, 0.0) else None
    return op if op.operands[1] is d else None


def _std_of(std: Value) -> tuple[list[Operation], Value, float] | NoMatch:
    """``std = Sqrt(Add(var, eps))`` → (ops, var, eps)."""
    sqrt = defining_op(std, SqrtOp)
    if sqrt is None:
        return NoMatch(f"the divisor is not a Sqrt ({describe(std)})")
    add = defining_op(sqrt.operands[0], AddOp)
    if add is None:
        return NoMatch(f"the Sqrt input is not an Add of epsilon ({describe(sqrt.operands[0])})")
    for var in add.operands:
        eps = scalar_const(other_operand(add, var))
        if eps is not None and defining_op(var, ReduceMeanOp):
            return [add, sqrt], var, eps
    return NoMatch("the Sqrt input is not ReduceMean(...) + a scalar constant epsilon")


def _affine_operand(op: Operation, n: Value, x_shape, axes: list[int]) -> Value | None:
    """The other operand of a Mul/Add applied to ``n`` if it varies over the normalised axes only
    and leaves ``n``'s shape unchanged."""
    other = other_operand(op, n)
    if other is None or op.results[0].type != n.type:
        return None
    shape = other.type.shape
    lead = len(shape) - len(axes)
    if lead < 0 or any(d != 1 for d in shape[:lead]):
        return None
    normalised = tuple(x_shape[a] for a in axes)
    if shape[lead:] == normalised:
        return other
    return other if const_array(other) is not None else None


def _as_normalised(rewriter, anchor: Operation, value: Value, shape) -> Value:
    """``value`` (a broadcastable gamma/beta) with exactly the normalised shape."""
    if value.type.shape == tuple(shape):
        return value
    array = const_array(value)
    array = array.reshape(array.shape[max(array.ndim - len(shape), 0) :])  # drop leading 1s
    array = np.broadcast_to(array, shape)
    return constant(
        rewriter, anchor, np.ascontiguousarray(array), constant_hint(value, ""), anchor.location
    )


@dataclass
class _Normalisation:
    """A matched ``(x - mean(x)) / sqrt(var(x) + eps)``: its input, axes, epsilon and ops."""

    x: Value
    axes: list[int]
    eps: float
    ops: list[Operation]


def _divisor(op: Operation) -> tuple[Value, Value, list[Operation]] | NoMatch:
    """``(d, std, ops)`` of ``Div(d, std)`` or ``Mul(d, Reciprocal(std))``."""
    if isinstance(op, DivOp):
        return op.operands[0], op.operands[1], [op]
    for std_inv in op.operands:
        recip = defining_op(std_inv, ReciprocalOp)
        if recip is not None:
            return other_operand(op, std_inv), recip.operands[0], [recip, op]
    return NoMatch("neither operand is a Reciprocal (not a normalising Mul)")


def _normalisation(op: Operation) -> _Normalisation | NoMatch:
    """Walk back from the normalising Div/Mul over the whole statistics chain."""
    divisor = _divisor(op)
    if isinstance(divisor, NoMatch):
        return divisor
    d, std, chain = divisor
    if not is_float_tensor(d):
        return NoMatch("the normalised value is not a float tensor")
    sub = defining_op(d, SubOp)
    if sub is None:
        return NoMatch(f"the dividend is not x - mean ({describe(d)})")
    mean = _trailing_mean(sub.operands[1])
    if isinstance(mean, NoMatch):
        return mean
    mean_op, x, axes = mean
    if sub.operands[0] is not x:
        return NoMatch("the Sub does not subtract the mean of its own first operand")
    std_parts = _std_of(std)
    if isinstance(std_parts, NoMatch):
        return std_parts
    eps_ops, var, eps = std_parts
    variance = _trailing_mean(var)
    if isinstance(variance, NoMatch):
        return variance
    var_op, squared, var_axes = variance
    if var_axes != axes:
        return NoMatch(f"the two ReduceMeans use different axes ({axes} and {var_axes})")
    square = _squared(squared, d)
    if square is None:
        return NoMatch(f"the variance is not the mean of (x - mean)^2 ({describe(squared)})")
    ops = [mean_op, sub, square, var_op, *eps_ops, *chain]
    for inner in ops[:-1]:  # everything but the last op must feed only the pattern
        if not used_only_by(inner.results[0], ops):
            return NoMatch(f"an intermediate value ({describe(inner.results[0])}) has other users")
    return _Normalisation(x, axes, eps, ops)


class DecomposedLayerNorm(RewritePattern):
    """The torch-exported ReduceMean ... Div chain (plus optional Mul gamma, Add beta) →
    ``nn.layer_norm``."""

    def __init__(self, root: type[Operation]):
        self.root = root

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        core = _normalisation(op)
        if isinstance(core, NoMatch):
            return core
        x, axes = core.x, core.axes
        gamma, beta, last = self._affine_tail(op.results[0], x, axes)
        normalised = tuple(x.type.shape[a] for a in axes)
        if None in normalised:
            return NoMatch(f"the normalised axes of {x.type} are not static")
        if last.results[0].type != x.type:
            return NoMatch(f"the constants broadcast x {x.type} to {last.results[0].type}")
        gamma, beta = (
            no_value(rewriter, last) if v is None else _as_normalised(rewriter, last, v, normalised)
            for v in (gamma, beta)
        )
        attrs = {"axis": IntegerAttr(axes[0] - x.type.rank), "epsilon": FloatAttr(core.eps)}
        fused = LayerNormOp.create(
            [x, gamma, beta], [last.results[0].type], attrs, location=last.location
        )
        return replace_with(rewriter, last, fused)

    @staticmethod
    def _affine_tail(n: Value, x: Value, axes: list[int]):
        """(gamma, beta, last op) following the normalisation ``n``; absent parts are None."""
        last = n.owner
        gamma = beta = None
        mul = sole_user(n, MulOp)
        if mul is not None:
            gamma = _affine_operand(mul, n, x.type.shape, axes)
            if gamma is not None:
                last, n = mul, mul.results[0]
        add = sole_user(n, AddOp)
        if add is not None:
            beta = _affine_operand(add, n, x.type.shape, axes)
            if beta is not None:
                last = add
        return gamma, beta, last


class OnnxLayerNorm(RewritePattern):
    """``onnx.LayerNormalization`` (only ``Y`` used) → ``nn.layer_norm``."""

    root = LayerNormalizationOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        if any(r.uses for r in op.results[1:]):
            return NoMatch("its Mean or InvStdDev output is used")
        x, scale, bias = op.operands[:3]
        if str(x.type.element_type) != "f32" or op.get_attr("stash_type", 1) != 1:
            return NoMatch(
                "statistics are not computed in the input type (only f32 with stash_type=1)"
            )
        rank = x.type.rank
        axis = op.get_attr("axis", -1)
        axis = axis + rank if axis < 0 else axis
        axes = list(range(axis, rank))
        normalised = tuple(x.type.shape[axis:])
        if None in normalised:
            return NoMatch(f"the normalised axes of {x.type} are not static")
        values = []
        for what, value in (("Scale", scale), ("B", bias)):
            if isinstance(value.type, NoneType):
                values.append(no_value(rewriter, op))
                continue
            if value.type.shape != normalised and const_array(value) is None:
                return NoMatch(f"{what} {value.type} is not a constant of the normalised shape")
            if len(value.type.shape) > len(normalised):
                return NoMatch(f"{what} {value.type} has more axes than the normalised shape")
            values.append(_as_normalised(rewriter, op, value, normalised))
        attrs = {
            "axis": IntegerAttr(axes[0] - rank),
            "epsilon": FloatAttr(op.get_attr("epsilon", 1e-5)),
        }
        fused = LayerNormOp.create([x, *values], [op.results[0].type], attrs, location=op.location)
        problem = invalid(fused)
        if problem:
            return problem
        rewriter.insert_before(op, fused)
        rewriter.replace_all_uses_with(op.results[0], fused.results[0])
        rewriter.erase_op(op)
        return True


@register_pass
@dataclass(frozen=True)
class FuseLayerNormPass(Pass):
    """Turns decomposed layer norms (torch's ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add
    chain and its variants) and ``onnx.LayerNormalization`` into ``nn.layer_norm``."""

    name = "fuse-layernorm"
    summary = "Decomposed LayerNorm chains and onnx.LayerNormalization -> nn.layer_norm"

    debug_patterns: bool = field(
        default=False, metadata={"help": "print why candidate ops were not fused (stderr)"}
    )

    def run(self, module: ModuleOp) -> bool:
        patterns = [
            DecomposedLayerNorm(DivOp),
            DecomposedLayerNorm(MulOp),
            OnnxLayerNorm(),
        ]
        return run_patterns(module, patterns, self.debug_patterns)
