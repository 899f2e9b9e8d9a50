"""Helpers shared by the onnx-level folding and fusion passes (not a pass itself).

Matching reads the IR through small questions (is this value a constant? which op defines it? who
uses it?); rewriting creates constants and ``none`` values next to the op being replaced. Every
pass built from these runs its patterns with :func:`run_patterns`, which prints why patterns did
not apply when the pass's ``debug-patterns`` option is on, in the same form as ``canonicalize``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import numpy as np

from ..dialects.onnx import ConstantOp, NoValueOp
from ..interp import nn_ops  # noqa: F401  (the interpreter runs the nn ops these passes create)
from ..ir.attributes import DenseElementsAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation, Value
from ..ir.diagnostics import Location, NameLoc, VerificationError
from ..ir.ops import verify_op
from ..ir.rewriter import GreedyRewriteDriver, NoMatch, PatternRewriter, RewritePattern
from ..ir.types import NoneType, RankedTensorType, is_float, none

# --- running patterns ------------------------------------------------------------------------------


def run_patterns(
    module: ModuleOp, patterns: Sequence[RewritePattern], debug: bool, max_iter: int = 10
) -> bool:
    """Apply ``patterns`` greedily (no folding hooks) and, with ``debug``, print each distinct
    reason a pattern gave for not matching, once, in first-seen order."""
    driver = GreedyRewriteDriver(list(patterns), max_iterations=max_iter, fold=False, explain=debug)
    changed = driver.run(module)
    seen: set[tuple[str, str, str, str]] = set()
    for failure in driver.failures:
        if failure in seen:
            continue
        seen.add(failure)
        pattern, op, loc, reason = failure
        print(f"note: pattern {pattern} did not match {op} at {loc}: {reason}", file=sys.stderr)
    return changed


# --- reading the IR --------------------------------------------------------------------------------


def defining_op(value: Value, *classes: type[Operation]) -> Operation | None:
    """The op defining ``value`` if it is an instance of one of ``classes`` (any op when no class
    is given)."""
    owner = value.owner
    if not isinstance(owner, Operation):
        return None
    return owner if not classes or isinstance(owner, classes) else None


def describe(value: Value) -> str:
    """How a value is produced, for NoMatch reasons: ``onnx.Relu result``, ``argument #0``."""
    owner = value.owner
    if isinstance(owner, Operation):
        return f"{owner.name} result"
    return f"argument #{value.index}"


def const_array(value: Value) -> np.ndarray | None:
    """The constant tensor behind ``value``, if an ``onnx.Constant`` defines it."""
    op = defining_op(value, ConstantOp)
    return None if op is None else op.attributes["value"].array


def scalar_const(value: Value) -> float | None:
    """The value of a one-element numeric constant (any rank), else None."""
    array = const_array(value)
    if array is None or array.size != 1 or array.dtype == np.bool_:
        return None
    return float(array.reshape(-1)[0])


def is_scalar(value: Value, expected: float, rel: float = 1e-6) -> bool:
    """Whether ``value`` is a one-element constant within ``rel`` of ``expected`` (float32
    spellings of irrational constants such as sqrt(2) differ from the exact value by ~1e-8)."""
    got = scalar_const(value)
    return got is not None and abs(got - expected) <= rel * abs(expected)


def sole_user(value: Value, *classes: type[Operation]) -> Operation | None:
    """The only op using ``value`` (if it is an instance of one of ``classes``, when given)."""
    found = value.users()
    if len(found) != 1:
        return None
    op = found[0]
    return op if not classes or isinstance(op, classes) else None


def other_operand(op: Operation, value: Value) -> Value | None:
    """The other operand of a binary op one of whose operands is ``value``."""
    a, b = op.operands[:2]
    if a is value:
        return b
    if b is value:
        return a
    return None


def used_only_by(value: Value, allowed: Iterable[Operation]) -> bool:
    """Whether every user of ``value`` is one of ``allowed`` (an op chain being replaced)."""
    ids = {id(op) for op in allowed}
    return all(id(use.operation) in ids for use in value.uses)


def is_float_tensor(value: Value) -> bool:
    t = value.type
    return isinstance(t, RankedTensorType) and is_float(t.element_type)


def int_list_attr(op: Operation, name: str) -> list[int] | None:
    value = op.get_attr(name)
    return None if value is None else [int(v) for v in value]


def reduce_axes(op: Operation) -> list[int] | None:
    """The axes of a Reduce* op, from its attribute (older opsets) or its constant second operand
    (ReduceSum from opset 13, the others from 18); None if they are not known constants."""
    axes = int_list_attr(op, "axes")
    if axes is not None:
        return axes
    if len(op.operands) > 1 and not isinstance(op.operands[1].type, NoneType):
        array = const_array(op.operands[1])
        return None if array is None else [int(v) for v in array.reshape(-1)]
    return None


def normalize_axes(axes: Sequence[int], rank: int) -> list[int] | None:
    out = [a + rank if a < 0 else a for a in axes]
    return sorted(out) if all(0 <= a < rank for a in out) and len(set(out)) == len(out) else None


def shape_op_dims(op: Operation) -> list[int | None] | None:
    """The dimensions an ``onnx.Shape`` op reads (its ``start``/``end`` slice of its operand's
    shape), ``None`` for dynamic ones; None if the operand is not a ranked tensor."""
    t = op.operands[0].type
    if not isinstance(t, RankedTensorType):
        return None
    rank = t.rank
    start, end = op.get_attr("start", 0), op.get_attr("end", rank)
    start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
    return list(t.shape[start:end])


# --- building ---------------------------------------------------------------------------------------


def constant(
    rewriter: PatternRewriter, anchor: Operation, array: np.ndarray, hint: str | None, loc: Location
) -> Value:
    """Insert an ``onnx.Constant`` holding ``array`` before ``anchor`` and return its value."""
    attr = DenseElementsAttr.from_array(np.asarray(array), hint=hint)
    return rewriter.insert_before(anchor, ConstantOp.build(attr, loc)).results[0]


def constant_hint(value: Value, suffix: str) -> str | None:
    """A resource name for a tensor derived from the constant behind ``value``."""
    op = defining_op(value, ConstantOp)
    hint = op.attributes["value"].hint if op is not None else None
    return f"{hint}{suffix}" if hint else None


def no_value(rewriter: PatternRewriter, anchor: Operation) -> Value:
    """A ``none`` value usable at ``anchor``: the block's first ``onnx.NoValue`` if it comes
    earlier, otherwise a new one."""
    block = anchor.parent
    position = block.index_of(anchor)
    for op in block.ops[:position]:
        if isinstance(op, NoValueOp):
            return op.results[0]
    op = NoValueOp.create(result_types=[none], location=NameLoc("none"))
    return rewriter.insert_before(anchor, op).results[0]


def invalid(op: Operation) -> NoMatch | None:
    """Verify a freshly built fused op before it is inserted; if it does not verify (an input the
    matcher did not foresee, such as a broadcast that changes a rank), drop it and say why."""
    try:
        verify_op(op)
    except VerificationError as exc:
        op.drop_all_references()
        return NoMatch(f"the fused op would not verify: {exc.message}")
    return None


def replace_with(rewriter: PatternRewriter, root: Operation, fused: Operation) -> bool | NoMatch:
    """Put the verified ``fused`` op in place of the matched ``root`` (whose results it takes
    over); if ``fused`` does not verify, leave the IR untouched and say why."""
    problem = invalid(fused)
    if problem:
        return problem
    rewriter.insert_before(root, fused)
    rewriter.replace_op(root, fused)
    return True
