"""schedule: the order instructions issue in, so that arrays, cores, DMA and other units overlap.

The chip dispatches in program order and each unit runs its own jobs in that order; a job starts
when its unit is free and its data is ready. So the order decides what can overlap: a job placed
behind an unrelated long one on the same unit waits for nothing. This pass builds the dependency
graph of the placed program (networkx): data flow, and every read or write of bytes an earlier
job writes or reads (buffers are shared by liveness, so that matters), with barriers as fences.
A list scheduler then replays the program on an estimate of the units' timing and always issues
next the ready job that can start earliest (ties: the one with the longest path to the end).
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backend.estimates import op_cycles, op_unit
from ..backend.places import Places
from ..backend.target import module_target
from ..dialects import imc
from ..dialects.func import FuncOp
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..pm import Pass, PassFailure, register_pass

if TYPE_CHECKING:
    import networkx as nx


@register_pass
@dataclass(frozen=True)
class SchedulePass(Pass):
    """Reorders the placed imc program (dependencies and memory hazards respected, barriers as
    fences) so that different units' jobs overlap."""

    name = "schedule"
    summary = "Order the jobs so that arrays, cores and DMA overlap (list scheduling)"

    def requires(self, module: ModuleOp) -> None:
        for op in module.walk():
            if isinstance(op, imc.ImcOp) and imc.has_buffers(op) and op.buffer() is None:
                raise PassFailure("schedule runs after plan-memory", op.location)

    def run(self, module: ModuleOp) -> bool:
        target = module_target(module)
        func = next(op for op in module.body.ops if isinstance(op, FuncOp))
        ops = list(func.body.ops)
        body, ret = ops[:-1], ops[-1]
        order = list_schedule(dependencies(body, Places(func)), body, target)
        if order == list(range(len(body))):
            return False
        func.body.reorder([*(body[i] for i in order), ret])
        return True


def dependencies(ops: list[Operation], places: Places) -> nx.DiGraph:
    """Edges i -> j (i before j) for data flow, memory hazards and barrier fences."""
    import networkx as nx  # here, not at import: it costs 16 MB before the compile needs it

    g = nx.DiGraph()
    g.add_nodes_from(range(len(ops)))
    index = {id(op): i for i, op in enumerate(ops)}
    logs: dict[str, _RangeLog] = {}
    fence = None
    since_fence: list[int] = []
    for j, op in enumerate(ops):
        for v in op.operands:
            i = index.get(id(v.owner)) if isinstance(v.owner, Operation) else None
            if i is not None:
                g.add_edge(i, j)
        if isinstance(op, imc.BarrierOp | imc.SignalOp | imc.WaitOp):
            g.add_edges_from((i, j) for i in since_fence)
            if fence is not None:
                g.add_edge(fence, j)
            fence, since_fence = j, []
            continue
        if fence is not None:
            g.add_edge(fence, j)
        since_fence.append(j)
        reads, writes = places.footprint(op)
        for space, lo, hi in reads:
            log = logs.setdefault(space, _RangeLog())
            g.add_edges_from((i, j) for i in log.read(lo, hi, j))
        for space, lo, hi in writes:
            log = logs.setdefault(space, _RangeLog())
            g.add_edges_from((i, j) for i in log.write(lo, hi, j) if i != j)
    return g


class _RangeLog:
    """Per byte of one memory: the last op that wrote it and the ops that read it since.

    Piecewise constant over sorted segment starts, like the simulator's range clocks, so each
    access costs time in the number of segments it touches, not in the program's length.
    """

    def __init__(self):
        self.starts = [0]
        self.writer: list[int | None] = [None]
        self.readers: list[tuple[int, ...]] = [()]

    def _split(self, x: int) -> int:
        k = bisect.bisect_right(self.starts, x) - 1
        if self.starts[k] != x:
            k += 1
            self.starts.insert(k, x)
            self.writer.insert(k, self.writer[k - 1])
            self.readers.insert(k, self.readers[k - 1])
        return k

    def read(self, lo: int, hi: int, op: int) -> set[int]:
        """Record a read by ``op``; return the ops it must follow (the writers of the range)."""
        i, k = self._split(lo), self._split(hi)
        deps = {w for w in self.writer[i:k] if w is not None}
        for s in range(i, k):
            self.readers[s] = (*self.readers[s], op)
        return deps

    def write(self, lo: int, hi: int, op: int) -> set[int]:
        """Record a write by ``op``; return the ops it must follow (writers and readers)."""
        i, k = self._split(lo), self._split(hi)
        deps = {w for w in self.writer[i:k] if w is not None}
        for rs in self.readers[i:k]:
            deps.update(rs)
        self.starts[i:k] = [lo]
        self.writer[i:k] = [op]
        self.readers[i:k] = [()]
        return deps


def list_schedule(g: nx.DiGraph, ops: list[Operation], target) -> list[int]:
    """A topological order of ``g`` that issues next the ready op able to start earliest on an
    estimate of the units (ties: longest remaining path, then program order)."""
    cost = [op_cycles(op, target) for op in ops]
    units = [op_unit(op) for op in ops]
    import networkx as nx  # see dependencies()

    tail = [0.0] * len(ops)
    for n in reversed(list(nx.topological_sort(g))):
        tail[n] = cost[n] + max((tail[s] for s in g.successors(n)), default=0.0)
    indeg = {n: g.in_degree(n) for n in g}
    finish = [0.0] * len(ops)
    unit_free: dict[str, float] = {}
    ready: dict[str, list] = {}  # per unit: heap of (data ready, -tail, op)

    def push(n: int, at: float) -> None:
        heapq.heappush(ready.setdefault(units[n], []), (at, -tail[n], n))

    for n in g:
        if indeg[n] == 0:
            push(n, 0.0)
    order = []
    while any(ready.values()):
        # each unit's best candidate; issue the one that can start earliest
        unit = min(
            (u for u, h in ready.items() if h),
            key=lambda u: (max(ready[u][0][0], unit_free.get(u, 0.0)), ready[u][0][1:]),
        )
        data_ready, _, n = heapq.heappop(ready[unit])
        start = max(data_ready, unit_free.get(unit, 0.0))
        finish[n] = start + cost[n]
        if unit != "none":
            unit_free[unit] = finish[n]
        order.append(n)
        for s in g.successors(n):
            indeg[s] -= 1
            if indeg[s] == 0:
                push(s, max((finish[p] for p in g.predecessors(s)), default=0.0))
    if len(order) != len(ops):
        raise PassFailure("the dependency graph has a cycle")
    return order
