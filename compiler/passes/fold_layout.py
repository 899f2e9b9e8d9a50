"""fold-layout: cancel the layout transposes around crossbar jobs, and sink the rest.

The crossbar jobs read and write channels-last (NHWC) images; the ONNX ops around them are
channels-first (NCHW). ``combined-stationary-map`` puts a transpose on each side of every
convolution; between two convolutions they meet, separated by elementwise work (ReLU, the DAC's
quantization, residual adds) and pooling. This pass moves each NHWC→NCHW transpose down through
ops that do not care about the layout (elementwise ops, which commute with it exactly) and turns
layout-sensitive cores' kernels (pooling, normalisation) into their channels-last form
(``layout = "nhwc"``: the same kernel on the same data, so the same bits), until the transpose
meets its inverse and both vanish. A transpose that only moves size-1 axes becomes a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..backend.layout import NCHW_TO_NHWC, NHWC_TO_NCHW, TRANSPOSE, perm_params
from ..dialects import imc
from ..dialects import onnx as onnx_dialect
from ..ir.attributes import DictAttr, IntegerAttr, StringAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..ir.types import RankedTensorType
from ..pm import Pass, register_pass
from ._fusion import run_patterns

#: Elementwise ops with one tensor operand: op(transpose(x)) == transpose(op(x)) exactly.
UNARY = {
    onnx_dialect.ONNX_OPS[t].name
    for t in (
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp", "Log",
        "Sqrt", "Neg", "Abs", "Erf", "Reciprocal", "Floor", "Ceil", "Sign", "Identity", "Cast",
        "Dropout",
    )
}  # fmt: skip
#: Elementwise binary ops (numpy broadcasting); both operands transposed alike commute.
BINARY = {onnx_dialect.ONNX_OPS[t].name for t in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Pow")}
#: Channels-first ops whose kernel also runs channels-last (operand 0 and result 0 only).
NHWC_CAPABLE = {
    onnx_dialect.ONNX_OPS[t].name
    for t in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LRN")
}


def perm_of(op: Operation) -> tuple[int, ...] | None:
    """The permutation of a transpose kernel, None for any other op."""
    if not isinstance(op, imc.KernelOp) or op.get_attr("kernel") != TRANSPOSE:
        return None
    perm = op.get_attr("params").get("perm")
    return tuple(perm) if perm is not None else None


def _transposed(v: Value) -> tuple[Operation, tuple[int, ...]] | None:
    """(transpose op, perm) when ``v`` is a transpose's result used by one op only."""
    op = v.owner
    perm = perm_of(op) if isinstance(op, Operation) else None
    if perm is None or len(v.users()) != 1:
        return None
    return op, perm


def _clone_kernel(op: imc.KernelOp, operands, result_types, **changes) -> imc.KernelOp:
    attrs = dict(op.attributes)
    attrs.update(changes)
    return imc.KernelOp.create(list(operands), list(result_types), attrs, location=op.location)


def _transpose(src: Operation, x: Value, perm, anchor: Operation, rw: PatternRewriter) -> Value:
    """A transpose like ``src`` (unit, cores) of ``x`` by ``perm``, inserted before ``anchor``."""
    t = RankedTensorType(tuple(x.type.shape[p] for p in perm), x.type.element_type)
    params = perm_params(perm)
    new = _clone_kernel(src, [x], [t], params=params, buffers=imc.unallocated())
    new.location = anchor.location
    return rw.insert_before(anchor, new).results[0]


class CancelTransposes(RewritePattern):
    """transpose(transpose(x, p), q) -> x when q undoes p, else one transpose."""

    root = imc.KernelOp.name

    def match_and_rewrite(self, op, rw):
        q = perm_of(op)
        src = op.operands[0].owner
        p = perm_of(src) if q is not None and isinstance(src, Operation) else None
        if p is None:
            return NoMatch("not a transpose of a transpose")
        composed = tuple(p[i] for i in q)
        x = src.operands[0]
        if composed == tuple(range(len(composed))):
            rw.replace_op(op, [x])
            return True
        rw.replace_op(op, [_transpose(op, x, composed, op, rw)])
        return True


class TransposeAsView(RewritePattern):
    """A transpose that keeps the order of every axis longer than 1 is a view of the same bytes."""

    root = imc.KernelOp.name

    def match_and_rewrite(self, op, rw):
        perm = perm_of(op)
        if perm is None:
            return NoMatch("not a transpose")
        shape = op.operands[0].type.shape
        kept = [p for p in perm if shape[p] != 1]
        if kept != sorted(kept):
            return NoMatch("moves data")
        view = imc.ReshapeOp.create([op.operands[0]], [op.results[0].type], location=op.location)
        rw.replace_op(op, [rw.insert_before(op, view).results[0]])
        return True


class SinkThroughElementwise(RewritePattern):
    """op(transpose(x)) -> transpose(op(x)) for elementwise ops (one or two transposed operands
    by the same permutation, other operands scalars) and the DAC's quantization."""

    root = None

    def match_and_rewrite(self, op, rw):
        if isinstance(op, imc.QuantOp | imc.DQuantOp):
            if isinstance(op, imc.DQuantOp):
                return NoMatch("per-row quantization depends on the layout")
            return self._unary(op, rw)
        if not isinstance(op, imc.KernelOp) or op.get_attr("layout"):
            return NoMatch("not an elementwise kernel")
        kernel = op.get_attr("kernel")
        if kernel in UNARY:
            return self._unary(op, rw)
        if kernel in BINARY:
            return self._binary(op, rw)
        return NoMatch(f"'{kernel}' is not elementwise")

    def _unary(self, op, rw):
        inner = _transposed(op.operands[0])
        if inner is None or len(op.results[0].uses) == 0:
            return NoMatch("operand 0 is not transposed")
        src, perm = inner
        if any(_size(v) not in (0, 1) for v in op.operands[1:] if _is_tensor(v)):
            return NoMatch("extra tensor operands")
        x = src.operands[0]
        t = op.results[0].type
        inner_type = RankedTensorType(x.type.shape, t.element_type)
        new = _clone_like(op, [x, *op.operands[1:]], [inner_type, *op.result_types[1:]])
        y = rw.insert_before(op, new).results[0]
        out = _transpose(src, y, perm, op, rw)
        rw.replace_op(op, [out, *new.results[1:]])
        return True

    def _binary(self, op, rw):
        if len(op.operands) != 2:
            return NoMatch("not exactly two operands")
        a, b = op.operands
        ta, tb = _transposed(a), _transposed(b)
        if ta is None or tb is None or ta[1] != tb[1] or a.type.shape != b.type.shape:
            return NoMatch("operands not transposed alike")
        perm = ta[1]
        x1, x2 = ta[0].operands[0], tb[0].operands[0]
        inner_type = RankedTensorType(x1.type.shape, op.results[0].type.element_type)
        new = _clone_like(op, [x1, x2], [inner_type])
        y = rw.insert_before(op, new).results[0]
        rw.replace_op(op, [_transpose(ta[0], y, perm, op, rw)])
        return True


class SplitSharedTranspose(RewritePattern):
    """A transpose whose result several ops use, every one of which takes it in (another
    transpose composes with it; an elementwise op or a channels-last kernel moves it below
    itself), becomes one transpose per user, so that each copy cancels or sinks on its own
    path: a residual block's input, read by the next convolution and by the residual add."""

    root = imc.KernelOp.name

    def match_and_rewrite(self, op, rw):
        perm = perm_of(op)
        if perm is None:
            return NoMatch("not a transpose")
        v = op.results[0]
        users = v.users()
        if len(users) < 2:
            return NoMatch("one user or none")
        if not all(_takes_in(user, v, perm) for user in users):
            return NoMatch("a user would keep the transpose where it is")
        for user in users[1:]:
            copy = _transpose(op, op.operands[0], perm, user, rw)
            copy.owner.location = op.location
            for i, operand in enumerate(user.operands):
                if operand is v:
                    user.set_operand(i, copy)
            rw.modify_op(user)
        return True


def _takes_in(user: Operation, v: Value, perm) -> bool:
    """Whether ``user`` of the transposed ``v`` (by ``perm``) cancels or sinks the transpose,
    as `CancelTransposes`, `SinkThroughElementwise` and `ChannelsLastKernel` would."""
    if perm_of(user) is not None or isinstance(user, imc.QuantOp):
        return True
    if not isinstance(user, imc.KernelOp) or user.get_attr("layout"):
        return False
    kernel = user.get_attr("kernel")
    tensors = [w for w in user.operands[1:] if _is_tensor(w) and _size(w) not in (0, 1)]
    if kernel in UNARY:
        return user.operands[0] is v and not tensors and bool(user.results[0].uses)
    if kernel in NHWC_CAPABLE:
        unused = not any(r.uses for r in user.results[1:])
        return user.operands[0] is v and perm == NHWC_TO_NCHW and unused
    if kernel in BINARY and len(user.operands) == 2:
        a, b = user.operands
        return a.type.shape == b.type.shape and all(
            w is v or (_transposed(w) or (None, None))[1] == perm for w in (a, b)
        )
    return False


class ChannelsLastKernel(RewritePattern):
    """pool(transpose_NHWC→NCHW(x)) -> transpose(pool{layout = nhwc}(x)) for the kernels that
    run channels-last; concat along channels likewise (axis 1 becomes the last)."""

    root = imc.KernelOp.name

    def match_and_rewrite(self, op, rw):
        kernel = op.get_attr("kernel")
        if op.get_attr("layout"):
            return NoMatch("already channels-last")
        if kernel == onnx_dialect.ONNX_OPS["Concat"].name:
            return self._concat(op, rw)
        if kernel not in NHWC_CAPABLE:
            return NoMatch("no channels-last form")
        inner = _transposed(op.operands[0])
        if inner is None or inner[1] != NHWC_TO_NCHW:
            return NoMatch("operand 0 is not an NHWC image seen as NCHW")
        if any(r.uses for r in op.results[1:]):
            return NoMatch("uses a secondary result")
        src = inner[0]
        y = op.results[0].type
        nhwc = RankedTensorType(tuple(y.shape[p] for p in NCHW_TO_NHWC), y.element_type)
        new = _clone_kernel(
            op, [src.operands[0], *op.operands[1:]], [nhwc, *op.result_types[1:]],
            layout=StringAttr("nhwc"),
        )  # fmt: skip
        rw.insert_before(op, new)
        rw.replace_op(op, [_transpose(src, new.results[0], NHWC_TO_NCHW, op, rw), *new.results[1:]])
        return True

    def _concat(self, op, rw):
        axis = op.get_attr("params").get("axis")
        inners = [_transposed(v) for v in op.operands]
        if any(i is None or i[1] != NHWC_TO_NCHW for i in inners):
            return NoMatch("operands are not all NHWC images seen as NCHW")
        rank = op.results[0].type.rank
        if axis is None or axis % rank != 1:
            return NoMatch("not a concatenation along channels")
        xs = [i[0].operands[0] for i in inners]
        y = op.results[0].type
        nhwc = RankedTensorType(tuple(y.shape[p] for p in NCHW_TO_NHWC), y.element_type)
        params = _with(op.attributes["params"], axis=IntegerAttr(3))
        new = rw.insert_before(op, _clone_kernel(op, xs, [nhwc], params=params))
        rw.replace_op(op, [_transpose(inners[0][0], new.results[0], NHWC_TO_NCHW, op, rw)])
        return True


def _with(params, **changes):
    entries = dict(params.entries)
    entries.update(changes)
    return DictAttr(tuple(entries.items()))


def _clone_like(op: Operation, operands, result_types) -> Operation:
    attrs = dict(op.attributes)
    if "buffers" in attrs:
        attrs["buffers"] = imc.unallocated()
    return type(op).create(list(operands), list(result_types), attrs, location=op.location)


def _is_tensor(v: Value) -> bool:
    return isinstance(v.type, RankedTensorType)


def _size(v: Value) -> int:
    n = 1
    for d in v.type.shape:
        n *= d
    return n


@register_pass
@dataclass(frozen=True)
class FoldLayoutPass(Pass):
    """Cancels layout transposes around crossbar jobs: sinks them through elementwise ops, runs
    pooling and normalisation kernels channels-last, turns size-1 transposes into views."""

    name = "fold-layout"
    summary = "Cancel and sink the NCHW/NHWC transposes around crossbar jobs"

    debug_patterns: bool = field(default=False, metadata={"help": "explain declined matches"})

    def run(self, module: ModuleOp) -> bool:
        patterns = [
            CancelTransposes(),
            SinkThroughElementwise(),
            ChannelsLastKernel(),
            SplitSharedTranspose(),
        ]
        changed = run_patterns(module, patterns, self.debug_patterns, max_iter=100)
        changed |= run_patterns(module, [TransposeAsView()], self.debug_patterns)
        return changed
