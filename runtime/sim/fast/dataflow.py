"""Which bytes a repeated run must put back: a static dataflow analysis over instruction footprints.

A `Session` runs a program's inference part many times on one machine. Between runs only the
bytes that could make a later run differ from a fresh one need restoring: bytes the inference part
writes (so a previous run may have changed them) *and* reads before writing them in the same run
(so the stale value would be seen). Everything else either keeps its value from the weight
programming prefix or is overwritten before it is read. The analysis works on byte ranges per
space (``L1``, ``L2``, ``A<array>`` for array cells) from `footprint.Footprint`:

- *must-write*: bytes an instruction certainly writes: dense ranges, and the rows of a strided
  range (`Range.width`/`Range.stride`); a range known only by its hull writes nothing for sure;
- *may-write*: the hull of every written range;
- *exposed*: bytes read (whole hull, to be safe) that no earlier instruction of the run
  must-wrote; the program's outputs count as read at the end, its inputs as written first.

``restore = exposed ∩ may-write``, per space. Over-approximating exposure or may-writes only makes
runs restore more than they need; under-approximating must-writes does the same. So the analysis
is safe whenever footprints cover what instructions touch, which `check_program` relies on too.
"""

from __future__ import annotations

import numpy as np

# Strided writes with more rows than this count as hull-only (may-write): the analysis stays fast
# on huge gathers at the price of restoring a little more.
MAX_EXACT_ROWS = 1 << 16


class ByteSet:
    """A set of bytes as sorted, disjoint, non-adjacent half-open intervals ``[lo, hi)``."""

    def __init__(self):
        self.lo = np.zeros(0, dtype=np.int64)
        self.hi = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return self.lo.size

    def intervals(self) -> list[tuple[int, int]]:
        """The intervals as (lo, hi) pairs in increasing order."""
        return list(zip(self.lo.tolist(), self.hi.tolist()))

    def add(self, lo, hi) -> None:
        """Add intervals ``[lo[k], hi[k])`` (empty ones are ignored)."""
        lo = np.atleast_1d(np.asarray(lo, dtype=np.int64))
        hi = np.atleast_1d(np.asarray(hi, dtype=np.int64))
        keep = hi > lo
        lo = np.concatenate([self.lo, lo[keep]])
        hi = np.concatenate([self.hi, hi[keep]])
        if lo.size == 0:
            return
        order = np.argsort(lo, kind="stable")
        lo, hi = lo[order], hi[order]
        reach = np.maximum.accumulate(hi)
        # a new interval starts where it begins after everything before it has ended
        start = np.ones(lo.size, dtype=bool)
        start[1:] = lo[1:] > reach[:-1]
        first = np.flatnonzero(start)
        last = np.append(first[1:], lo.size) - 1
        self.lo, self.hi = lo[first], reach[last]

    def minus(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """The parts of ``[lo, hi)`` outside this set, as (lo, hi) arrays."""
        i = int(np.searchsorted(self.hi, lo, side="right"))  # first interval ending after lo
        j = int(np.searchsorted(self.lo, hi, side="left"))  # intervals starting before hi
        gap_lo = np.maximum(np.concatenate([[lo], self.hi[i:j]]), lo)
        gap_hi = np.minimum(np.concatenate([self.lo[i:j], [hi]]), hi)
        keep = gap_hi > gap_lo
        return gap_lo[keep], gap_hi[keep]

    def intersect(self, other: ByteSet) -> ByteSet:
        """Bytes in both sets."""
        out = ByteSet()
        for lo, hi in other.intervals():
            i = int(np.searchsorted(self.hi, lo, side="right"))
            j = int(np.searchsorted(self.lo, hi, side="left"))
            out.add(np.maximum(self.lo[i:j], lo), np.minimum(self.hi[i:j], hi))
        return out


def must_intervals(r) -> tuple[np.ndarray, np.ndarray]:
    """The bytes a written `Range` certainly covers."""
    if r.hi <= r.lo or r.nbytes == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if r.nbytes == r.hi - r.lo:
        return np.array([r.lo]), np.array([r.hi])
    if r.width and r.stride and r.nbytes // r.width <= MAX_EXACT_ROWS:
        starts = r.lo + np.arange(r.nbytes // r.width, dtype=np.int64) * r.stride
        return starts, starts + r.width
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


def cover_intervals(r) -> tuple[np.ndarray, np.ndarray]:
    """Sorted disjoint intervals holding every byte `Range` ``r`` may touch (rows, else the hull)."""
    if r.width and r.stride and r.nbytes // r.width <= MAX_EXACT_ROWS:
        return must_intervals(r)
    return np.array([r.lo]), np.array([max(r.hi, r.lo)])


def overlaps(a, b) -> bool:
    """Whether ranges ``a`` and ``b`` may share a byte (rows of strided ranges are exact)."""
    if a.space != b.space or a.hi <= b.lo or b.hi <= a.lo or a.hi <= a.lo or b.hi <= b.lo:
        return False
    a_lo, a_hi = cover_intervals(a)
    b_lo, b_hi = cover_intervals(b)
    # for each interval of b, the last interval of a starting before b ends
    k = np.searchsorted(a_lo, b_hi, side="left") - 1
    ok = k >= 0
    return bool((a_hi[k[ok]] > b_lo[ok]).any())


class Dataflow:
    """Walks a run's instructions in order and collects must-, may- and exposed bytes per space."""

    def __init__(self):
        self.must: dict[str, ByteSet] = {}
        self.may: dict[str, ByteSet] = {}
        self.exposed: dict[str, ByteSet] = {}

    @staticmethod
    def _get(sets: dict[str, ByteSet], space: str) -> ByteSet:
        if space not in sets:
            sets[space] = ByteSet()
        return sets[space]

    def read(self, space: str, lo: int, hi: int) -> None:
        """Bytes ``[lo, hi)`` of ``space`` are read now."""
        if hi <= lo:
            return
        must = self.must.get(space)
        gaps = (np.array([lo]), np.array([hi])) if must is None else must.minus(lo, hi)
        if gaps[0].size:
            self._get(self.exposed, space).add(*gaps)

    def write(self, r) -> None:
        """A written `Range`."""
        if r.hi <= r.lo:
            return
        self._get(self.may, r.space).add(r.lo, r.hi)
        lo, hi = must_intervals(r)
        if lo.size:
            self._get(self.must, r.space).add(lo, hi)

    def step(self, fp) -> None:
        """One instruction: its reads see the state before its writes."""
        for r in fp.reads:
            self.read(r.space, r.lo, r.hi)
        for r in fp.writes:
            self.write(r)

    def restore_set(self) -> dict[str, list[tuple[int, int]]]:
        """Per space, the intervals a repeated run must put back (exposed ∩ may-write)."""
        out = {}
        for space in sorted(self.exposed):
            if space in self.may:
                hit = self.exposed[space].intersect(self.may[space])
                if len(hit):
                    out[space] = hit.intervals()
        return out


def restore_set(footprints, inputs, outputs) -> dict[str, list[tuple[int, int]]]:
    """Intervals to restore before each run of the instructions with ``footprints``.

    ``inputs``/``outputs``: (space, lo, hi) of the tensors stored before and read after a run.
    """
    flow = Dataflow()
    for space, lo, hi in inputs:
        flow.write(_Dense(space, lo, hi))
    for fp in footprints:
        flow.step(fp)
    for space, lo, hi in outputs:
        flow.read(space, lo, hi)
    return flow.restore_set()


def written_spaces(footprints) -> dict[str, ByteSet]:
    """Per space, every byte the instructions may write (hulls)."""
    spans: dict[str, tuple[list[int], list[int]]] = {}
    for fp in footprints:
        for r in fp.writes:
            if r.hi > r.lo:
                lo, hi = spans.setdefault(r.space, ([], []))
                lo.append(r.lo)
                hi.append(r.hi)
    out = {}
    for space, (lo, hi) in spans.items():
        out[space] = ByteSet()
        out[space].add(lo, hi)
    return out


def coalesce(intervals: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merge intervals separated by at most ``gap`` bytes (fewer, larger copies)."""
    out: list[list[int]] = []
    for lo, hi in intervals:
        if out and lo - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


class _Dense:
    """A minimal dense range (what `Range` would be) for tensors stored whole."""

    def __init__(self, space: str, lo: int, hi: int):
        self.space, self.lo, self.hi, self.nbytes = space, lo, hi, hi - lo
        self.width = self.stride = 0
