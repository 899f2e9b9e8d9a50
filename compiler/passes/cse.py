"""cse: common subexpression elimination of pure ops."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..ir.core import Block, Operation
from ..ir.ops import Pure
from ..pm import Pass, register_pass


def _key(op: Operation):
    return (
        op.name,
        tuple(id(v) for v in op.operands),
        tuple(sorted(op.attributes.items(), key=lambda kv: kv[0])),
        tuple(op.result_types),
    )


def cse_block(block: Block, known: dict) -> bool:
    """Merge pure ops equal to an earlier one in this block or an enclosing one."""
    changed = False
    scope = dict(known)
    for op in list(block.ops):
        for region in op.regions:
            for inner in region.blocks:
                changed |= cse_block(inner, scope)
        if not op.has_trait(Pure) or op.regions or not op.results:
            continue
        try:
            key = _key(op)
            hash(key)
        except TypeError:
            continue
        twin = scope.get(key)
        if twin is None:
            scope[key] = op
            continue
        for old, new in zip(op.results, twin.results):
            old.replace_all_uses_with(new)
        op.erase()
        changed = True
    return changed


@register_pass
@dataclass(frozen=True)
class CSEPass(Pass):
    """Replaces each pure op that repeats an earlier identical op (same name, operands, attributes and
    result types) by that earlier op's results."""

    name = "cse"
    summary = "Eliminate common subexpressions among pure ops"

    max_iter: int = field(
        default=1, metadata={"help": "repeat until nothing changes, at most this often"}
    )

    def __post_init__(self):
        if self.max_iter < 1:
            raise ValueError("max-iter must be at least 1")

    def run(self, module: ModuleOp) -> bool:
        changed = False
        for _ in range(self.max_iter):
            step = False
            for region in module.regions:
                for block in region.blocks:
                    step |= cse_block(block, {})
            changed |= step
            if not step:
                break
        return changed
