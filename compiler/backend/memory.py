"""Memory for a program: which bytes each value and constant occupies, chosen by liveness.

Plain data in, plain data out. A `Block` is a piece of storage several IR values may share
(an accumulator and the partial sums written into it, a view and what it views); it is live from
its first definition to its last use, in program order. `first_fit` gives each block the lowest
offset where it overlaps no block live at the same time, in the order the blocks start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 64  # bytes: every buffer starts on its own cache line


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass
class Block:
    """Storage for one or more values: ``size`` bytes, live over ops ``start..end`` (inclusive);
    ``mem``/``offset`` once placed."""

    key: int
    size: int
    start: int
    end: int
    mem: str | None = None
    offset: int | None = None
    names: list[str] = field(default_factory=list)


def first_fit(blocks: list[Block], capacity: int, base: int = 0) -> list[Block]:
    """Place as many ``blocks`` as fit in ``[base, base + capacity)``, each at the lowest offset
    free over its whole lifetime (blocks sorted by start, larger first on ties); return those
    that did not fit. Placed blocks get ``offset``; the caller sets ``mem``."""
    placed: list[Block] = []
    left: list[Block] = []
    for b in sorted(blocks, key=lambda b: (b.start, -b.size, b.key)):
        busy = sorted(
            (p.offset, p.offset + align(p.size))
            for p in placed
            if p.start <= b.end and b.start <= p.end
        )
        at = base
        for lo, hi in busy:
            if at + align(b.size) <= lo:
                break
            at = max(at, hi)
        if at + align(b.size) > base + capacity:
            left.append(b)
            continue
        b.offset = at
        placed.append(b)
    return left


def peak(blocks: list[Block]) -> int:
    """Highest byte used by placed blocks (0 when none)."""
    return max((b.offset + align(b.size) for b in blocks if b.offset is not None), default=0)
