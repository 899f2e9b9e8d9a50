"""fold-constants: evaluate ops whose operands are all constants, using each op's fold hook."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.builtin import ModuleOp
from ..ir.rewriter import GreedyRewriteDriver
from ..pm import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class FoldConstantsPass(Pass):
    """Runs only the folding hooks (no other patterns): every op with constant operands whose class
    implements ``fold`` is replaced by constants, and dead ops are removed."""

    name = "fold-constants"
    summary = "Replace ops with constant operands by their folded constant results"

    def run(self, module: ModuleOp) -> bool:
        return GreedyRewriteDriver([], max_iterations=10, fold=True).run(module)
