"""Event-driven timing: when each instruction starts and ends, given units and data dependencies.

The controller dispatches instructions in program order, ``chip.issue_cycles`` apart. Each unit
(every array, the DMA engines, the cores, the depthwise and nonlinear units) runs its instructions
in program order; different units run concurrently. An instruction starts once

- it has been dispatched and every earlier ``barrier`` (and the ``signal`` a ``wait`` waits for)
  has completed,
- its unit has free servers (a cluster kernel takes ``ncores`` of the cores; DMA transfers take
  one engine each; other units are single servers),
- the bytes it reads were last written by instructions that have finished (read after write), and
  the bytes it writes are no longer being read or written by earlier ones (write after read/write).

The byte-range scoreboard is one `RangeClock` per memory space (array cells count as one too).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass, field


class RangeClock:
    """Per byte: when its last write ends and when its last read ends (piecewise constant).

    Boundaries live in a sorted list; a write collapses everything under it into one segment, so
    the map stays as small as the number of live, distinct regions.
    """

    def __init__(self):
        self.starts = [0]
        self.write_end = [0]
        self.read_end = [0]

    def _split(self, x: int) -> int:
        k = bisect_right(self.starts, x) - 1
        if self.starts[k] == x:
            return k
        self.starts.insert(k + 1, x)
        self.write_end.insert(k + 1, self.write_end[k])
        self.read_end.insert(k + 1, self.read_end[k])
        return k + 1

    def _span(self, lo: int, hi: int) -> tuple[int, int]:
        return self._split(lo), self._split(hi)

    def ready_to_read(self, lo: int, hi: int) -> int:
        """Earliest time the range may be read (its last write has ended)."""
        i = bisect_right(self.starts, lo) - 1
        j = bisect_right(self.starts, hi - 1)
        return max(self.write_end[i:j], default=0)

    def ready_to_write(self, lo: int, hi: int) -> int:
        """Earliest time the range may be overwritten (earlier reads and writes have ended)."""
        i = bisect_right(self.starts, lo) - 1
        j = bisect_right(self.starts, hi - 1)
        return max(max(self.write_end[i:j], default=0), max(self.read_end[i:j], default=0))

    def read(self, lo: int, hi: int, end: int) -> None:
        """Record a read of the range lasting until ``end``."""
        i, j = self._span(lo, hi)
        for k in range(i, j):
            if self.read_end[k] < end:
                self.read_end[k] = end

    def write(self, lo: int, hi: int, end: int) -> None:
        """Record a write of the range lasting until ``end``."""
        i, j = self._span(lo, hi)
        self.starts[i:j] = [lo]
        self.write_end[i:j] = [end]
        self.read_end[i:j] = [end]


@dataclass
class Slot:
    """When one instruction ran: its index, unit, servers and [start, end) in cycles."""

    index: int
    unit: str
    start: int
    end: int
    servers: int = 1


@dataclass
class Scheduler:
    """Places instructions in time one by one (call `place` in program order)."""

    issue_cycles: float
    pools: dict[str, int]  # units with several servers: "cores" -> count, "dma" -> engines
    clocks: dict[str, RangeClock] = field(default_factory=dict)
    _free: dict[str, list[int]] = field(default_factory=dict)
    _dispatch: float = 0.0
    _floor: int = 0
    _last_end: int = 0
    _signals: dict[int, int] = field(default_factory=dict)

    def place(self, index: int, mnemonic: str, fields, fp, cycles: int, servers: int) -> Slot:
        """Schedule one instruction with footprint ``fp`` lasting ``cycles`` on ``servers``."""
        ready = max(int(self._dispatch), self._floor)
        self._dispatch += self.issue_cycles
        if fp.unit == "control":
            return self._control(index, mnemonic, fields, ready)
        for r in fp.reads:
            if r.hi > r.lo:
                ready = max(ready, self._clock(r.space).ready_to_read(r.lo, r.hi))
        for r in fp.writes:
            if r.hi > r.lo:
                ready = max(ready, self._clock(r.space).ready_to_write(r.lo, r.hi))
        start, end = self._occupy(fp.unit, servers, ready, cycles)
        for r in fp.reads:
            if r.hi > r.lo:
                self._clock(r.space).read(r.lo, r.hi, end)
        for r in fp.writes:
            if r.hi > r.lo:
                self._clock(r.space).write(r.lo, r.hi, end)
        self._last_end = max(self._last_end, end)
        return Slot(index, fp.unit, start, end, servers)

    @property
    def makespan(self) -> int:
        """End of the last instruction placed so far."""
        return self._last_end

    def _clock(self, space: str) -> RangeClock:
        if space not in self.clocks:
            self.clocks[space] = RangeClock()
        return self.clocks[space]

    def _occupy(self, unit: str, servers: int, ready: int, cycles: int) -> tuple[int, int]:
        free = self._free.get(unit)
        if free is None:
            free = self._free[unit] = [0] * self.pools.get(unit, 1)
        if len(free) == 1:  # most units: one server, no choice to make
            start = max(ready, free[0])
            free[0] = start + cycles
            return start, start + cycles
        servers = min(servers, len(free))
        # the `servers` servers that free up first; the job starts when the last of them is free
        chosen = heapq.nsmallest(servers, range(len(free)), key=lambda k: (free[k], k))
        start = max(ready, max(free[k] for k in chosen))
        for k in chosen:
            free[k] = start + cycles
        return start, start + cycles

    def _control(self, index: int, mnemonic: str, fields, ready: int) -> Slot:
        if mnemonic in ("barrier", "halt"):
            self._floor = max(ready, self._last_end)
            return Slot(index, "control", self._floor, self._floor)
        if mnemonic == "signal":
            self._signals[fields["ev"]] = max(ready, self._last_end)
            return Slot(index, "control", ready, ready)
        if mnemonic == "wait":
            self._floor = max(ready, self._signals.pop(fields["ev"], ready))
            return Slot(index, "control", ready, self._floor)
        return Slot(index, "control", ready, ready)
