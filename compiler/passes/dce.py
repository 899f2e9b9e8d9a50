"""dce: dead code elimination of pure ops whose results are unused."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.builtin import ModuleOp
from ..ir.core import Block
from ..ir.rewriter import is_trivially_dead
from ..pm import Pass, register_pass


def dce_block(block: Block) -> bool:
    changed = False
    # Walking backwards erases whole dead chains in one sweep.
    for op in reversed(list(block.ops)):
        for region in op.regions:
            for inner in region.blocks:
                changed |= dce_block(inner)
        if is_trivially_dead(op):
            op.erase()
            changed = True
    return changed


@register_pass
@dataclass(frozen=True)
class DCEPass(Pass):
    """Erases pure ops none of whose results is used, including whole dead chains."""

    name = "dce"
    summary = "Remove pure ops whose results are unused"

    def run(self, module: ModuleOp) -> bool:
        changed = False
        for region in module.regions:
            for block in region.blocks:
                changed |= dce_block(block)
        return changed
