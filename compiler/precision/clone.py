"""Copying a module, so a search can try rewrites on a copy and install the winner.

Attributes are immutable and shared between the copies (large weights are not duplicated);
ops, blocks, regions and values are new.
"""

from __future__ import annotations

from ..ir.builtin import ModuleOp
from ..ir.core import Block, Operation, Region


def clone_op(op: Operation, mapping: dict) -> Operation:
    """A copy of ``op`` (with its regions) whose operands are looked up in ``mapping``."""
    regions = [_clone_region(r, mapping) for r in op.regions]
    operands = [mapping.get(id(v), v) for v in op.operands]
    cls = type(op)
    if cls is Operation:
        new = Operation(
            operands, op.result_types, dict(op.attributes), regions, op.location, op.name
        )
    else:
        new = cls(operands, op.result_types, dict(op.attributes), regions, op.location)
    for old, res in zip(op.results, new.results):
        res.name_hint = old.name_hint
        mapping[id(old)] = res
    return new


def _clone_region(region: Region, mapping: dict) -> Region:
    blocks = []
    for block in region.blocks:
        new = Block([a.type for a in block.args])
        for old, arg in zip(block.args, new.args):
            mapping[id(old)] = arg
        blocks.append(new)
    for block, new in zip(region.blocks, blocks):
        for op in block.ops:
            new.append(clone_op(op, mapping))
    return Region(blocks)


def clone_module(module: ModuleOp) -> ModuleOp:
    """A deep copy of ``module`` (same attributes, new IR objects)."""
    return clone_op(module, {})


def install(module: ModuleOp, source: ModuleOp) -> None:
    """Make ``module`` hold ``source``'s body and attributes (``source`` is emptied)."""
    body = module.body
    for op in reversed(list(body.ops)):
        op.drop_all_references()
    for op in list(body.ops):
        op.detach()
    for op in list(source.body.ops):
        body.append(op.detach())
    module.attributes.clear()
    module.attributes.update(source.attributes)
