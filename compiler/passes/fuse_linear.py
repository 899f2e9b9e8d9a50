"""fuse-linear: products with a constant weight (plus a constant bias) become ``nn.linear``.

A static weight is what an IMC crossbar holds, so every such product should be one op the mapping
passes recognise, whatever the exporter wrote:

- ``MatMul(x, W)`` with a constant 2-D ``W`` ``[in, out]`` → ``nn.linear(x, Wᵀ)``;
- ``Add(nn.linear(...), c)`` (either operand order) with a constant ``c`` that varies only along
  the last axis → the bias of that ``nn.linear`` (so ``MatMul`` + ``Add(bias)`` is one op);
- ``Gemm(A, B, C)`` with a constant ``B``: ``transB`` picks the weight layout, ``alpha`` is
  multiplied into the weight, ``beta * C`` becomes the bias when it is a row vector (otherwise it
  stays an ``onnx.Add`` after the linear), and ``transA=1`` transposes ``A`` first.

The new weight is ``[out, in]`` (see ``nn.linear``); folding ``alpha``/``beta`` into constants
changes results by float32 rounding only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dialects.nn import LinearOp
from ..dialects.onnx import AddOp, GemmOp, MatMulOp, TransposeOp
from ..ir.attributes import ArrayAttr, IntegerAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..ir.types import NoneType, RankedTensorType
from ..pm import Pass, register_pass
from ._fusion import (
    const_array,
    constant,
    constant_hint,
    defining_op,
    describe,
    invalid,
    no_value,
    other_operand,
    replace_with,
    run_patterns,
)


def _transposed_hint(value: Value) -> str | None:
    """Name the transposed weight: exporters store ``<name>.weight.T``, so ``.T`` comes off."""
    hint = constant_hint(value, "")
    if hint is None:
        return None
    return hint[:-2] if hint.endswith(".T") else hint + ".T"


def _row_vector(c: np.ndarray, out: int) -> np.ndarray | None:
    """``c`` as a bias ``[out]`` if it broadcasts along the last axis only, else None."""
    if c.ndim and any(d != 1 for d in c.shape[:-1]):
        return None
    if c.size not in (1, out):
        return None
    return np.broadcast_to(c.reshape(-1), (out,))


class MatMulToLinear(RewritePattern):
    """``MatMul(x, W)`` with a constant 2-D float ``W`` → ``nn.linear(x, Wᵀ, none)``."""

    root = MatMulOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        x, w_value = op.operands
        w = const_array(w_value)
        if w is None:
            if const_array(x) is not None:
                return NoMatch("the constant is the left operand (W @ x), not a weight x @ W")
            return NoMatch(f"operand B is not a constant ({describe(w_value)})")
        if w.ndim != 2:
            return NoMatch(
                f"the constant weight has rank {w.ndim}; only 2-D weights are linear layers"
            )
        if w.dtype.kind != "f":
            return NoMatch(f"the weight is {w.dtype}, not a float tensor")
        weight = constant(rewriter, op, w.T, _transposed_hint(w_value), w_value.owner.location)
        linear = LinearOp.build(x, weight, no_value(rewriter, op), op.location, op.results[0].type)
        return replace_with(rewriter, op, linear)


class LinearBiasAdd(RewritePattern):
    """``Add(nn.linear(x, W, b), c)`` with ``c`` constant along the last axis → ``nn.linear(x, W,
    b + c)``."""

    root = AddOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        for value in op.operands:
            linear = defining_op(value, LinearOp)
            if linear is not None:
                break
        else:
            return NoMatch("neither operand is an nn.linear result")
        c_value = other_operand(op, value)
        c = const_array(c_value)
        if c is None:
            return NoMatch(f"the other operand is not a constant ({describe(c_value)})")
        if len(value.uses) != 1:
            return NoMatch("the nn.linear result has other users")
        if op.results[0].type != value.type:
            return NoMatch(
                f"the Add broadcasts the linear result {value.type} to {op.results[0].type}"
            )
        weight = linear.operands[1]
        out = weight.type.shape[0]
        row = _row_vector(c, out)
        if row is None:
            return NoMatch(
                f"the constant {list(c.shape)} is not a bias (it varies along other axes)"
            )
        old_bias = linear.operands[2]
        if isinstance(old_bias.type, NoneType):
            bias_array = row.astype(c.dtype)
        else:
            old = const_array(old_bias)
            if old is None:
                return NoMatch(f"the linear's bias is not a constant ({describe(old_bias)})")
            bias_array = (old.astype(np.float64) + row).astype(old.dtype)
        hint = constant_hint(c_value, "")
        bias = constant(rewriter, op, bias_array, hint, op.location)
        fused = LinearOp.build(linear.operands[0], weight, bias, linear.location, value.type)
        return replace_with(rewriter, op, fused)


def _gemm_bias(op: Operation, out: int):
    """Split Gemm's ``beta * C`` into a bias ``[out]`` and/or a tensor still to be added after
    the product: ``(bias array | None, extra value/array | None)``, or why it cannot be done."""
    c_value = op.operands[2]
    if isinstance(c_value.type, NoneType):
        return None, None
    beta = op.get_attr("beta", 1.0)
    c = const_array(c_value)
    if c is None:
        if beta != 1.0:
            return NoMatch(f"C is not a constant ({describe(c_value)}) and beta is {beta}")
        return None, c_value
    scaled = c if beta == 1.0 else (c.astype(np.float64) * beta).astype(c.dtype)
    row = _row_vector(scaled, out)
    if row is not None:
        return np.ascontiguousarray(row), None
    return None, c_value if beta == 1.0 else scaled  # a full [M, N] or column C: an Add after


def _transposed_input(op: Operation, rewriter: PatternRewriter) -> Value:
    """Gemm's A, transposed by a new onnx.Transpose when ``transA`` is set."""
    a = op.operands[0]
    if not op.get_attr("transA", 0):
        return a
    t = RankedTensorType(tuple(reversed(a.type.shape)), a.type.element_type)
    perm = ArrayAttr((IntegerAttr(1), IntegerAttr(0)))
    tr = TransposeOp.create([a], [t], {"perm": perm}, location=op.location)
    return rewriter.insert_before(op, tr).results[0]


class GemmToLinear(RewritePattern):
    """``Gemm(A, B, C)`` with a constant ``B`` → ``nn.linear`` (see the module docs)."""

    root = GemmOp

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        b_value, c_value = op.operands[1], op.operands[2]
        b = const_array(b_value)
        if b is None:
            return NoMatch(f"operand B is not a constant ({describe(b_value)})")
        if b.dtype.kind != "f":
            return NoMatch(f"the weight is {b.dtype}, not a float tensor")
        trans_b, alpha = bool(op.get_attr("transB", 0)), op.get_attr("alpha", 1.0)
        weight_array = b if trans_b else b.T
        if alpha != 1.0:
            weight_array = (weight_array.astype(np.float64) * alpha).astype(b.dtype)
        split = _gemm_bias(op, weight_array.shape[0])
        if isinstance(split, NoMatch):
            return split
        bias_array, extra = split
        x = _transposed_input(op, rewriter)
        weight = constant(
            rewriter, op, weight_array, constant_hint(b_value, "" if trans_b else ".T"), op.location
        )
        if bias_array is None:
            bias = no_value(rewriter, op)
        else:
            bias = constant(rewriter, op, bias_array, constant_hint(c_value, ""), op.location)
        linear = LinearOp.build(x, weight, bias, op.location, op.results[0].type)
        problem = invalid(linear)
        if problem:
            return problem
        result = rewriter.insert_before(op, linear).results[0]
        if extra is not None:
            if isinstance(extra, np.ndarray):
                extra = constant(rewriter, op, extra, constant_hint(c_value, ""), op.location)
            add = AddOp.create([result, extra], [op.results[0].type], location=op.location)
            result = rewriter.insert_before(op, add).results[0]
        rewriter.replace_op(op, [result])
        return True


@register_pass
@dataclass(frozen=True)
class FuseLinearPass(Pass):
    """Turns MatMul/Gemm with a constant 2-D weight, and a following constant bias Add, into
    ``nn.linear`` (weight ``[out, in]``)."""

    name = "fuse-linear"
    summary = "MatMul/Gemm with a constant weight (+ bias Add) -> nn.linear"

    debug_patterns: bool = field(
        default=False, metadata={"help": "print why products were not fused (stderr)"}
    )

    def run(self, module: ModuleOp) -> bool:
        patterns = [MatMulToLinear(), LinearBiasAdd(), GemmToLinear()]
        return run_patterns(module, patterns, self.debug_patterns)
