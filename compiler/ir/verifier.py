"""Whole-IR verification: structure, SSA dominance, terminators, then each op's own checks."""

from __future__ import annotations

from .core import Block, Operation, Value
from .diagnostics import VerificationError
from .ops import IsolatedFromAbove, NoTerminator, Terminator, verify_op


def verify(root: Operation) -> None:
    """Verify ``root`` and everything nested in it; raise :class:`VerificationError` on the first
    problem found (in program order, so the message points at the earliest bad op)."""
    _verify_op(root, visible=set())


def _verify_op(op: Operation, visible: set[int]) -> None:
    for i, value in enumerate(op.operands):
        if id(value) not in visible:
            raise VerificationError(
                f"operand #{i} of '{op.name}' does not dominate this use "
                f"(it is defined later, in another function, or was erased)",
                op.location,
            )
    for i, r in enumerate(op.results):
        if r.op is not op or r.index != i:
            raise VerificationError(f"result #{i} of '{op.name}' is corrupt", op.location)
    inner_base = set() if op.has_trait(IsolatedFromAbove) else visible
    for region in op.regions:
        for block in region.blocks:
            _verify_block(op, block, set(inner_base))
    verify_op(op)


def _verify_block(parent: Operation, block: Block, visible: set[int]) -> None:
    for arg in block.args:
        visible.add(id(arg))
    for index, op in enumerate(block.ops):
        if op.parent is not block:
            raise VerificationError(f"'{op.name}' has a wrong parent link", op.location)
        is_last = index == len(block.ops) - 1
        if op.has_trait(Terminator) and not is_last:
            raise VerificationError(
                f"'{op.name}' is a terminator but is not the last op of its block", op.location
            )
        _verify_op(op, visible)
        for r in op.results:
            visible.add(id(r))
    if not parent.has_trait(NoTerminator) and type(parent) is not Operation:
        last = block.terminator
        needs = any(op.has_trait(Terminator) for op in block.ops) or _region_needs_terminator(
            parent
        )
        if needs and (last is None or not last.has_trait(Terminator)):
            raise VerificationError(
                f"block in '{parent.name}' must end with a terminator", parent.location
            )


def _region_needs_terminator(parent: Operation) -> bool:
    # Registered ops with regions need terminators unless declared NoTerminator.
    return bool(parent.regions) and not parent.has_trait(NoTerminator)


def check_uses(root: Operation) -> None:
    """Debug helper: assert that every use list matches the operand lists exactly."""
    for op in root.walk():
        for i, v in enumerate(op.operands):
            if not any(u.operation is op and u.index == i for u in v.uses):
                raise AssertionError(f"missing use record for operand {i} of {op.name}")
        for r in op.results:
            _check_value_uses(r)


def _check_value_uses(value: Value) -> None:
    for use in value.uses:
        if use.operation.operands[use.index] is not value:
            raise AssertionError("stale use record")
