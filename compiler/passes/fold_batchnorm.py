"""fold-batchnorm: fold inference-mode BatchNormalization into the weights of the op before it.

In inference a BatchNormalization is the per-channel affine map ``y = x * s + t`` with
``s = scale / sqrt(var + epsilon)`` and ``t = B - mean * s`` (channels on axis 1). When ``x`` comes
from an op whose output channel ``c`` is a linear function of a constant weight slice, scaling that
slice by ``s[c]`` and adjusting the bias gives the same result with one op fewer; on an IMC target
the BatchNormalization then costs nothing at all. The folded weights are computed in float64 and
rounded once to the weight's type, so the result equals the unfolded graph up to float32 rounding.

Producers handled (each used only by the BatchNormalization):

- ``onnx.Conv``: output channel ``c`` is weight slice ``W[c]``;
- ``onnx.Gemm`` with a constant ``B``: output column ``n`` (axis 1) is column ``n`` of ``B'``;
- ``onnx.MatMul`` with a constant 2-D weight whose channel axis is axis 1 of its output: the
  right-hand weight of a 2-D product, or the left-hand weight of a ``[batch, M, L]`` product;
- ``nn.linear`` with a 2-D output (channel = output feature = weight row).

Any other BatchNormalization is left as it is, with the reason given to ``debug-patterns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dialects.nn import LinearOp
from ..dialects.onnx import AddOp, BatchNormalizationOp, ConvOp, GemmOp, MatMulOp
from ..ir.attributes import DenseElementsAttr, FloatAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern, is_trivially_dead
from ..ir.types import NoneType
from ..pm import Pass, register_pass
from ..util.memory import ErasedBytes
from ._fusion import const_array, constant, constant_hint, describe, run_patterns


def _affine(bn: Operation) -> tuple[np.ndarray, np.ndarray] | NoMatch:
    """The BatchNormalization's per-channel ``(s, t)`` in float64, or why it is not foldable."""
    if bn.get_attr("training_mode", 0):
        return NoMatch("training_mode is set (the statistics are computed from the batch)")
    if any(r.uses for r in bn.results[1:]):
        return NoMatch("its running-statistics outputs are used")
    if not bn.get_attr("spatial", 1):
        return NoMatch("spatial=0 (per-activation statistics) is not folded")
    arrays = []
    for index, what in enumerate(("scale", "B", "mean", "var"), start=1):
        array = const_array(bn.operands[index])
        if array is None:
            return NoMatch(f"parameter '{what}' is not a constant ({describe(bn.operands[index])})")
        arrays.append(array.astype(np.float64).reshape(-1))
    scale, shift, mean, var = arrays
    s = scale / np.sqrt(var + float(np.float32(bn.get_attr("epsilon", 1e-5))))
    return s, shift - mean * s


class FoldBatchNorm(RewritePattern):
    """BatchNormalization(Conv | Gemm | MatMul | nn.linear with a constant weight) → that op with
    folded weights."""

    root = BatchNormalizationOp

    def __init__(self):
        #: The weights erased by this run's folds (collected every few tens of megabytes).
        self.erased = ErasedBytes()

    def match_and_rewrite(self, bn: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        x = bn.operands[0]
        producer = x.owner
        if not isinstance(producer, Operation):
            return NoMatch("its input is a function argument, not a Conv/Gemm/MatMul output")
        fold = _FOLDERS.get(type(producer))
        if fold is None:
            return NoMatch(
                f"its input comes from {producer.name}; only Conv, Gemm, MatMul and nn.linear "
                "with a constant weight fold"
            )
        if len(x.uses) != 1:
            return NoMatch(f"the {producer.name} result has other users")
        affine = _affine(bn)
        if isinstance(affine, NoMatch):
            return affine
        s, t = affine
        folded = fold(producer, s, t, bn, rewriter)
        if isinstance(folded, NoMatch):
            return folded
        # The other results (running statistics) are unused, as _affine checked.
        rewriter.replace_all_uses_with(bn.results[0], folded)
        rewriter.erase_op(bn)
        self.erased.add(_erase_unfolded(producer))
        return True


def _erase_unfolded(producer: Operation) -> int:
    """Erase the op that was folded and the constants only it used; returns their bytes.

    The driver would erase them too, but only once every BatchNormalization is folded: every
    folded weight would be in memory twice by then. They are erased directly, not through the
    rewriter, which would queue the constants for a visit and so keep them until the sweep ends
    (the visit finds nothing to do: the folded op's input feeds the new op).
    """
    if not is_trivially_dead(producer):
        return 0
    feeders = [v.owner for v in producer.operands if isinstance(v.owner, Operation)]
    producer.erase()
    erased = 0
    for op in feeders:
        if op.parent is not None and is_trivially_dead(op):
            erased += sum(
                a.array.nbytes for a in op.attributes.values() if isinstance(a, DenseElementsAttr)
            )
            op.erase()
    return erased


def _weight(value: Value, what: str) -> np.ndarray | NoMatch:
    array = const_array(value)
    if array is None:
        return NoMatch(f"the {what} is not a constant ({describe(value)})")
    if array.dtype.kind != "f":
        return NoMatch(f"the {what} is {array.dtype}, not a float tensor")
    return array


def _optional_bias(value: Value, size: int, what: str) -> np.ndarray | NoMatch:
    """A bias operand's constant, or zeros when it is absent."""
    if isinstance(value.type, NoneType):
        return np.zeros(size)
    return _weight(value, what)


def _new_const(rewriter, anchor, array, like: Value, suffix: str, dtype) -> Value:
    return constant(
        rewriter, anchor, array.astype(dtype), constant_hint(like, suffix), anchor.location
    )


def _fold_conv(conv: Operation, s, t, bn: Operation, rewriter: PatternRewriter):
    w = _weight(conv.operands[1], "Conv weight")
    if isinstance(w, NoMatch):
        return w
    if w.shape[0] != s.size:
        return NoMatch(
            f"the Conv has {w.shape[0]} output channels, the BatchNormalization {s.size}"
        )
    b = _optional_bias(conv.operands[2], w.shape[0], "Conv bias")
    if isinstance(b, NoMatch):
        return b
    w_new = w.astype(np.float64) * s.reshape((-1,) + (1,) * (w.ndim - 1))
    b_new = b.astype(np.float64) * s + t
    operands = [
        conv.operands[0],
        _new_const(rewriter, bn, w_new, conv.operands[1], ".bnfold", w.dtype),
        _new_const(rewriter, bn, b_new, conv.operands[1], ".bnfold_bias", w.dtype),
    ]
    new = ConvOp.create(
        operands, [bn.results[0].type], dict(conv.attributes), location=conv.location
    )
    return rewriter.insert_before(bn, new).results[0]


def _fold_gemm(gemm: Operation, s, t, bn: Operation, rewriter: PatternRewriter):
    b = _weight(gemm.operands[1], "Gemm weight B")
    if isinstance(b, NoMatch):
        return b
    trans_b = bool(gemm.get_attr("transB", 0))
    n = b.shape[0] if trans_b else b.shape[1]
    if n != s.size:
        return NoMatch(f"the Gemm has {n} outputs, the BatchNormalization {s.size} channels")
    alpha, beta = gemm.get_attr("alpha", 1.0), gemm.get_attr("beta", 1.0)
    b_new = b.astype(np.float64) * (s[:, None] if trans_b else s[None, :]) * alpha
    c = gemm.operands[2]
    if isinstance(c.type, NoneType):
        c_new = t
    else:
        c_array = _weight(c, "Gemm bias C")
        if isinstance(c_array, NoMatch):
            return c_array
        c_new = c_array.astype(np.float64) * beta * s + t
    attrs = dict(gemm.attributes)
    attrs["alpha"], attrs["beta"] = FloatAttr(1.0), FloatAttr(1.0)
    operands = [
        gemm.operands[0],
        _new_const(rewriter, bn, b_new, gemm.operands[1], ".bnfold", b.dtype),
        _new_const(rewriter, bn, c_new, gemm.operands[1], ".bnfold_bias", b.dtype),
    ]
    new = GemmOp.create(operands, [bn.results[0].type], attrs, location=gemm.location)
    return rewriter.insert_before(bn, new).results[0]


def _fold_matmul(mm: Operation, s, t, bn: Operation, rewriter: PatternRewriter):
    rank = bn.results[0].type.rank
    lhs, rhs = const_array(mm.operands[0]), const_array(mm.operands[1])
    if rhs is not None and rhs.ndim == 2 and rank == 2:
        w, side, scale_shape, shift_shape = rhs, 1, (1, -1), (-1,)
    elif lhs is not None and lhs.ndim == 2 and rank == 3:
        w, side, scale_shape, shift_shape = lhs, 0, (-1, 1), (-1, 1)
    else:
        return NoMatch(
            "the MatMul has no constant 2-D weight whose output features lie on axis 1 "
            "(the BatchNormalization's channel axis)"
        )
    if w.dtype.kind != "f":
        return NoMatch(f"the MatMul weight is {w.dtype}, not a float tensor")
    w_new = w.astype(np.float64) * s.reshape(scale_shape)
    weight = _new_const(rewriter, bn, w_new, mm.operands[side], ".bnfold", w.dtype)
    operands = [mm.operands[0], weight] if side == 1 else [weight, mm.operands[1]]
    product = MatMulOp.create(operands, [mm.results[0].type], location=mm.location)
    rewriter.insert_before(bn, product)
    shift = _new_const(
        rewriter, bn, t.reshape(shift_shape), mm.operands[side], ".bnfold_bias", w.dtype
    )
    add = AddOp.create([product.results[0], shift], [bn.results[0].type], location=bn.location)
    return rewriter.insert_before(bn, add).results[0]


def _fold_linear(linear: Operation, s, t, bn: Operation, rewriter: PatternRewriter):
    if bn.results[0].type.rank != 2:
        return NoMatch("nn.linear output is not 2-D, so its features are not the channel axis 1")
    w = _weight(linear.operands[1], "nn.linear weight")
    if isinstance(w, NoMatch):
        return w
    b = _optional_bias(linear.operands[2], w.shape[0], "nn.linear bias")
    if isinstance(b, NoMatch):
        return b
    weight = _new_const(
        rewriter, bn, w.astype(np.float64) * s[:, None], linear.operands[1], ".bnfold", w.dtype
    )
    new_bias = _new_const(
        rewriter, bn, b.astype(np.float64) * s + t, linear.operands[1], ".bnfold_bias", w.dtype
    )
    new = LinearOp.build(linear.operands[0], weight, new_bias, linear.location, bn.results[0].type)
    return rewriter.insert_before(bn, new).results[0]


_FOLDERS = {
    ConvOp: _fold_conv,
    GemmOp: _fold_gemm,
    MatMulOp: _fold_matmul,
    LinearOp: _fold_linear,
}


@register_pass
@dataclass(frozen=True)
class FoldBatchNormPass(Pass):
    """Folds inference-mode BatchNormalization into a preceding Conv, Gemm, MatMul or nn.linear
    with a constant weight (see the module docs for the exact rules)."""

    name = "fold-batchnorm"
    summary = "Fold BatchNormalization into the constant weights of the Conv/Gemm/MatMul before it"

    debug_patterns: bool = field(
        default=False, metadata={"help": "print why a BatchNormalization was not folded (stderr)"}
    )

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [FoldBatchNorm()], self.debug_patterns)
