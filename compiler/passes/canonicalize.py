"""canonicalize: fold constants, drop dead ops and apply every registered canonicalization pattern."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..ir.ops import OP_REGISTRY, IROp
from ..ir.rewriter import GreedyRewriteDriver, RewritePattern
from ..pm import Pass, register_pass


def collect_patterns() -> list[RewritePattern]:
    """Every op class's canonicalization patterns, in a stable order (by op name)."""
    patterns: list[RewritePattern] = []
    for name in sorted(OP_REGISTRY):
        cls = OP_REGISTRY[name]
        if issubclass(cls, IROp):
            patterns.extend(cls.canonicalization_patterns())
    return patterns


@register_pass
@dataclass(frozen=True)
class CanonicalizePass(Pass):
    """Greedily applies folding, dead-code elimination and canonicalization patterns until a fixed
    point (or ``max-iter`` sweeps)."""

    name = "canonicalize"
    summary = "Fold constants, remove dead ops and apply canonicalization patterns to a fixed point"

    max_iter: int = field(default=10, metadata={"help": "maximum sweeps over the IR"})
    debug_patterns: bool = field(
        default=False, metadata={"help": "print why each pattern did not match (stderr)"}
    )

    def __post_init__(self):
        if self.max_iter < 1:
            raise ValueError("max-iter must be at least 1")

    def run(self, module: ModuleOp) -> bool:
        driver = GreedyRewriteDriver(
            collect_patterns(), max_iterations=self.max_iter, explain=self.debug_patterns
        )
        changed = driver.run(module)
        for pattern, op, loc, reason in driver.failures:
            print(f"note: pattern {pattern} did not match {op} at {loc}: {reason}", file=sys.stderr)
        return changed
