"""fuse-attention: scaled dot-product attention, head reshapes included, becomes ``nn.attention``.

The pattern starts at a Softmax over the last axis and matches, around it::

    qh = head_split(q)           kt = head_split(k) transposed    vh = head_split(v)
    s  = MatMul(qh, kt)  then Div(s, c) or Mul(s, c)   (optional: the scale)
    s  = Add(s, mask)                                   (optional, either operand order)
    p  = Softmax(s, axis=-1)
    p  = Where(zero_mask, 0, p)                         (optional: torch's masked_fill(·, 0))
    o  = MatMul(p, vh)
    y  = Reshape(Transpose(o, [.., 2, 1, 3]), [.., S, H*D])   (the heads merged back)

``head_split(x)`` is a Reshape of ``x`` ``[*batch, S, H*D]`` to ``[*batch, S, H, D]`` followed by
Transposes (composed, so torch's fused ``[0, 2, 3, 1]`` for K and the pair
``[0, 2, 1, 3]`` + ``[0, 1, 3, 2]`` both work); multiplications of a head-split Q or K by a scalar
constant anywhere along it fold into the scale. A Reshape counts as a head split or merge only when
its target provably keeps the leading dimensions: each entry is a matching constant, ``0`` (copy),
a lone ``-1``, or the very dimension of the reshaped value read back through
``Shape``/``Gather``/``Unsqueeze``/``Concat``/``Cast`` (how dynamic-shape exports spell it).

The result ``nn.attention(q, k, v, mask, zero_mask)`` takes the projected ``q``, ``k``, ``v`` before
head splitting; the Reshapes, Transposes and the scale disappear into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dialects.nn import AttentionOp, broadcasts
from ..dialects.onnx import (
    AddOp,
    CastOp,
    ConcatOp,
    DivOp,
    GatherOp,
    IdentityOp,
    MatMulOp,
    MulOp,
    ReshapeOp,
    ShapeOp,
    SoftmaxOp,
    SqueezeOp,
    TransposeOp,
    UnsqueezeOp,
    WhereOp,
)
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..ir.types import RankedTensorType
from ..pm import Pass, register_pass
from ._fusion import (
    const_array,
    defining_op,
    describe,
    int_list_attr,
    no_value,
    other_operand,
    replace_with,
    run_patterns,
    scalar_const,
    shape_op_dims,
    sole_user,
)

# --- symbolic shape vectors --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SymDim:
    """Dimension ``axis`` of ``value``, not known at compile time."""

    value: Value
    axis: int

    def is_dim(self, value: Value, axis: int) -> bool:
        return self.value is value and self.axis == axis


def _dim(value: Value, axis: int) -> int | SymDim:
    d = value.type.shape[axis]
    return SymDim(value, axis) if d is None else d


def shape_vector(value: Value, depth: int = 0) -> tuple[list[int | SymDim], int] | None:
    """The entries of a 0-D or 1-D integer tensor as ints or symbolic dimensions, and its rank;
    None if it is computed in a way this does not follow."""
    array = const_array(value)
    if array is not None:
        if array.ndim > 1 or array.dtype.kind not in "iu":
            return None
        return [int(v) for v in array.reshape(-1)], array.ndim
    op = defining_op(value)
    if op is None or depth > 16:
        return None
    follow = _SHAPE_RULES.get(type(op))
    return follow(op, depth + 1) if follow else None


def _shape_of(op: Operation, depth: int):
    dims = shape_op_dims(op)
    if dims is None:
        return None
    x, start = op.operands[0], op.get_attr("start", 0)
    start = min(max(start + x.type.rank if start < 0 else start, 0), x.type.rank)
    return [_dim(x, start + i) for i in range(len(dims))], 1


def _gather(op: Operation, depth: int):
    data = shape_vector(op.operands[0], depth)
    index = const_array(op.operands[1])
    if (
        data is None
        or index is None
        or data[1] != 1
        or op.get_attr("axis", 0) != 0
        or index.ndim > 1
    ):
        return None
    entries = data[0]
    picked = [int(i) for i in index.reshape(-1)]
    if any(not -len(entries) <= i < len(entries) for i in picked):
        return None
    return [entries[i] for i in picked], index.ndim


def _unsqueeze(op: Operation, depth: int):
    data = shape_vector(op.operands[0], depth)
    axes = int_list_attr(op, "axes")
    if axes is None and len(op.operands) > 1:
        array = const_array(op.operands[1])
        axes = None if array is None else [int(a) for a in array.reshape(-1)]
    if data is None or data[1] != 0 or axes not in ([0], [-1]):
        return None
    return data[0], 1


def _squeeze(op: Operation, depth: int):
    data = shape_vector(op.operands[0], depth)
    if data is None or data[1] != 1 or len(data[0]) != 1:
        return None
    return data[0], 0


def _concat(op: Operation, depth: int):
    if op.get_attr("axis", 0) not in (0, -1):
        return None
    entries = []
    for part in op.operands:
        data = shape_vector(part, depth)
        if data is None or data[1] != 1:
            return None
        entries += data[0]
    return entries, 1


def _passthrough(op: Operation, depth: int):
    t = op.results[0].type
    if not isinstance(t, RankedTensorType) or str(t.element_type) not in ("i64", "i32"):
        return None
    return shape_vector(op.operands[0], depth)


_SHAPE_RULES = {
    ShapeOp: _shape_of,
    GatherOp: _gather,
    UnsqueezeOp: _unsqueeze,
    SqueezeOp: _squeeze,
    ConcatOp: _concat,
    CastOp: _passthrough,
    IdentityOp: _passthrough,
}


def _keeps_leading(reshape: Operation, target: list, count: int) -> bool:
    """Whether the first ``count`` entries of a Reshape target copy its input's first ``count``
    dimensions (``-1`` allowed once, when every other entry is accounted for)."""
    x = reshape.operands[0]
    literal_zero = bool(reshape.get_attr("allowzero", 0))
    inferred = 0
    for axis, entry in enumerate(target[:count]):
        if isinstance(entry, SymDim):
            if not entry.is_dim(x, axis):
                return False
        elif entry == -1:
            inferred += 1
        elif entry == 0 and not literal_zero:
            continue
        elif entry != x.type.shape[axis]:
            return False
    return inferred == 0 or (inferred == 1 and -1 not in target[count:])


def split_heads(reshape: Operation) -> tuple[Value, int, int] | NoMatch:
    """``Reshape(x [*b, S, E]) -> [*b, S, H, D]`` as ``(x, H, D)``, or why it is not a head split."""
    x, out = reshape.operands[0], reshape.results[0].type
    if out.rank != x.type.rank + 1 or x.type.rank < 2:
        return NoMatch(f"the Reshape {x.type} -> {out} does not add exactly one axis")
    width = x.type.shape[-1]
    target = shape_vector(reshape.operands[1])
    if width is None or target is None or len(target[0]) != out.rank:
        return NoMatch(
            f"the head split Reshape's target is not a known shape ({describe(reshape.operands[1])})"
        )
    entries = target[0]
    heads, dim = entries[-2], entries[-1]
    if heads == -1 and isinstance(dim, int) and dim > 0 and width % dim == 0:
        heads = width // dim
    if dim == -1 and isinstance(heads, int) and heads > 0 and width % heads == 0:
        dim = width // heads
    if not isinstance(heads, int) or not isinstance(dim, int) or heads * dim != width:
        return NoMatch(f"the Reshape does not split the last axis ({width}) into heads x width")
    if not _keeps_leading(reshape, entries, x.type.rank - 1):
        return NoMatch("the head split Reshape does not keep the leading dimensions")
    return x, heads, dim


def merge_heads(reshape: Operation, heads: int, dim: int) -> bool:
    """Whether ``Reshape(o [*b, S, H, D]) -> [*b, S, H*D]`` merges the last two axes."""
    o = reshape.operands[0]
    target = shape_vector(reshape.operands[1])
    if target is None or len(target[0]) != o.type.rank - 1:
        return False
    entries = target[0]
    if entries[-1] not in (heads * dim, -1):
        return False
    return _keeps_leading(reshape, entries, o.type.rank - 2)


@dataclass
class HeadView:
    """A head-split value: ``transpose(reshape(base, [*b, S, H, D]), perm) * scale``."""

    base: Value
    heads: int
    dim: int
    perm: list[int]
    scale: float


def head_view(value: Value) -> HeadView | NoMatch:
    """Walk back from an attention operand over Transposes and scalar Mul/Div to the head split."""
    outer = list(range(value.type.rank))
    scale = 1.0
    current = value
    for _ in range(16):
        op = defining_op(current)
        if op is None:
            return NoMatch(f"{describe(current)} is not a head-split tensor")
        if isinstance(op, TransposeOp):
            rank = current.type.rank
            perm = int_list_attr(op, "perm") or list(reversed(range(rank)))
            outer = [perm[o] for o in outer]
            current = op.operands[0]
        elif isinstance(op, (MulOp, DivOp)) and scalar_const(op.operands[1]):
            if op.results[0].type != op.operands[0].type:
                return NoMatch("a scale factor changes the shape of Q or K")
            c = scalar_const(op.operands[1])
            scale = scale * c if isinstance(op, MulOp) else scale / c
            current = op.operands[0]
        elif isinstance(op, MulOp) and scalar_const(op.operands[0]):
            if op.results[0].type != op.operands[1].type:
                return NoMatch("a scale factor changes the shape of Q or K")
            scale *= scalar_const(op.operands[0])
            current = op.operands[1]
        elif isinstance(op, ReshapeOp):
            split = split_heads(op)
            if isinstance(split, NoMatch):
                return split
            base, heads, dim = split
            return HeadView(base, heads, dim, outer, scale)
        else:
            return NoMatch(f"{describe(current)} is not a Reshape/Transpose of a projection")
    return NoMatch("too many ops between the projection and the attention product")


def _layout(batch: int, *tail: int) -> list[int]:
    """A permutation keeping ``batch`` leading axes and ordering the last three as ``tail``
    (0 = sequence, 1 = head, 2 = width, relative to the head-split layout)."""
    return list(range(batch)) + [batch + t for t in tail]


# --- the pattern --------------------------------------------------------------------------------------


@dataclass
class _Scores:
    matmul: Operation
    scale: float
    ops: list[Operation]


def _scores(value: Value) -> _Scores | None:
    """``MatMul(qh, kt)`` optionally divided or multiplied by a scalar constant."""
    op = defining_op(value)
    if op is None:
        return None
    if isinstance(op, MatMulOp):
        return _Scores(op, 1.0, [op])
    if not isinstance(op, (DivOp, MulOp)):
        return None
    for inner in op.operands:
        c = scalar_const(other_operand(op, inner))
        mm = defining_op(inner, MatMulOp)
        if not c or mm is None or (isinstance(op, DivOp) and inner is not op.operands[0]):
            continue
        if op.results[0].type != inner.type:
            continue  # the "scale" broadcasts the scores to another shape
        return _Scores(mm, 1.0 / c if isinstance(op, DivOp) else c, [mm, op])
    return None


def _zero_mask(p: Value) -> tuple[Value | None, Value] | NoMatch:
    """Skip ``Where(cond, 0, p)`` after the softmax: (cond or None, the probabilities used)."""
    where = sole_user(p, WhereOp)
    if where is None:
        return None, p
    cond, fill, kept = where.operands
    fill_array = const_array(fill)
    if kept is not p or fill_array is None or np.any(fill_array != 0):
        return NoMatch("the Where after the softmax is not masked_fill(cond, 0)")
    cast = defining_op(cond, CastOp)
    if cast is not None and str(cast.operands[0].type.element_type) == "i1":
        cond = cast.operands[0]  # Cast of a boolean to boolean
    if str(cond.type.element_type) != "i1":
        return NoMatch("the Where condition is not boolean")
    if where.results[0].type != p.type:
        return NoMatch("the Where broadcasts the probabilities to another shape")
    return cond, where.results[0]


def _masked_scores(x: Value) -> tuple[_Scores, Value | None] | NoMatch:
    """The softmax input as (scaled) ``MatMul(Q, Kᵀ)``, optionally plus an additive mask."""
    scores = _scores(x)
    if scores is not None:
        return scores, None
    add = defining_op(x, AddOp)
    for candidate in add.operands if add is not None else ():
        scores = _scores(candidate)
        if scores is None:
            continue
        mask = other_operand(add, candidate)
        if x.type.shape != candidate.type.shape or mask.type.element_type != x.type.element_type:
            return NoMatch(f"the mask {mask.type} changes the scores' shape or type")
        return scores, mask
    return NoMatch(f"the softmax input is not (masked, scaled) MatMul(Q, K^T) ({describe(x)})")


def _merged_context(pv: Operation) -> tuple[Operation, Operation] | NoMatch:
    """The Transpose and Reshape that merge the heads of ``MatMul(p, vh)`` back together."""
    transpose = sole_user(pv.results[0], TransposeOp)
    if transpose is None:
        return NoMatch("the context is not merged back by a Transpose and a Reshape")
    # Dynamic-shape exports also read the transposed value's Shape to build the Reshape target.
    found = transpose.results[0].users()
    reshapes = [op for op in found if isinstance(op, ReshapeOp)]
    if len(reshapes) != 1 or any(not isinstance(op, (ReshapeOp, ShapeOp)) for op in found):
        return NoMatch("the transposed context is not used only by one Reshape (and Shapes)")
    return transpose, reshapes[0]


def _head_views(qk: Operation, pv: Operation) -> list[HeadView] | NoMatch:
    """The head views of Q, Kᵀ and V, checked for the layouts attention needs."""
    views = []
    for what, value in (("Q", qk.operands[0]), ("K", qk.operands[1]), ("V", pv.operands[1])):
        view = head_view(value)
        if isinstance(view, NoMatch):
            return NoMatch(f"{what}: {view.reason}")
        views.append(view)
    q, k, v = views
    batch = q.base.type.rank - 2
    expected = (("Q", q, _layout(batch, 1, 0, 2)), ("K^T", k, _layout(batch, 1, 2, 0)),
                ("V", v, _layout(batch, 1, 0, 2)))  # fmt: skip
    for what, view, perm in expected:
        if view.perm != perm:
            return NoMatch(f"{what} heads are permuted {view.perm}, expected {perm}")
    if not q.heads == k.heads == v.heads or q.dim != k.dim:
        return NoMatch("Q, K and V are split into different numbers or widths of heads")
    if v.scale != 1.0:
        return NoMatch("V is scaled")
    return views


class FuseAttention(RewritePattern):
    """Softmax-centred scaled dot-product attention with head reshapes → ``nn.attention``."""

    root = SoftmaxOp

    def match_and_rewrite(self, sm: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        x = sm.operands[0]
        axis = sm.get_attr("axis", -1 if sm.opset >= 13 else 1)
        if axis not in (-1, x.type.rank - 1):
            return NoMatch(f"softmax axis {axis} is not the last axis")
        found = _masked_scores(x)
        if isinstance(found, NoMatch):
            return found
        scores, mask = found
        if any(len(o.results[0].uses) != 1 for o in scores.ops) or len(x.uses) != 1:
            return NoMatch("the attention scores are also used elsewhere")
        zero = _zero_mask(sm.results[0])
        if isinstance(zero, NoMatch):
            return zero
        zero_mask, probs = zero
        pv = sole_user(probs, MatMulOp)
        if pv is None or pv.operands[0] is not probs:
            return NoMatch("the probabilities are not used only as the left operand of a MatMul")
        merged = _merged_context(pv)
        views = _head_views(scores.matmul, pv)
        for result in (merged, views):
            if isinstance(result, NoMatch):
                return result
        (transpose, reshape), (q, k, v) = merged, views
        batch = q.base.type.rank - 2
        if int_list_attr(transpose, "perm") != _layout(batch, 1, 0, 2) or not merge_heads(
            reshape, v.heads, v.dim
        ):
            return NoMatch("the context is not transposed and reshaped back to [*batch, S, H*D]")
        scores_shape = (*q.base.type.shape[:-1], k.base.type.shape[-2])
        scores_shape = (*scores_shape[:-2], q.heads, *scores_shape[-2:])
        for name, value in (("mask", mask), ("zero mask", zero_mask)):
            if value is not None and not broadcasts(value.type.shape, scores_shape):
                return NoMatch(f"the {name} {value.type} does not broadcast to the scores")
        none = no_value(rewriter, reshape)
        fused = AttentionOp.build(
            q.base, k.base, v.base, mask or none, zero_mask or none, q.heads,
            scores.scale * q.scale * k.scale, reshape.location, reshape.results[0].type,
        )  # fmt: skip
        return replace_with(rewriter, reshape, fused)


@register_pass
@dataclass(frozen=True)
class FuseAttentionPass(Pass):
    """Turns softmax attention with its head Reshape/Transpose ops, scale, additive mask and
    post-softmax zero mask into one ``nn.attention`` on the projected Q, K and V."""

    name = "fuse-attention"
    summary = "MatMul/scale/mask/Softmax/MatMul attention with head reshapes -> nn.attention"

    debug_patterns: bool = field(
        default=False, metadata={"help": "print why softmaxes were not fused (stderr)"}
    )

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [FuseAttention()], self.debug_patterns)
