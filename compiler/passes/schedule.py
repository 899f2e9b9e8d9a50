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

import heapq
from dataclasses import dataclass

import networkx as nx

from ..backend.estimates import op_cycles, op_unit
from ..backend.places import Places
from ..backend.target import module_target
from ..dialects import imc
from ..dialects.func import FuncOp
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..pm import Pass, PassFailure, register_pass


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
        for op in body:
            op.detach()
        block = func.body
        for i in order:
            block.insert(block.index_of(ret), body[i])
        return True


def dependencies(ops: list[Operation], places: Places) -> nx.DiGraph:
    """Edges i -> j (i before j) for data flow, memory hazards and barrier fences."""
    g = nx.DiGraph()
    g.add_nodes_from(range(len(ops)))
    index = {id(op): i for i, op in enumerate(ops)}
    fence = None
    since_fence: list[int] = []
    accesses: list[tuple[int, list, list]] = []  # (op index, reads, writes) of every earlier op
    for j, op in enumerate(ops):
        for v in op.operands:
            i = index.get(id(v.owner)) if isinstance(v.owner, Operation) else None
            if i is not None:
                g.add_edge(i, j)
        if isinstance(op, imc.BarrierOp | imc.SignalOp | imc.WaitOp):
            for i in since_fence:
                g.add_edge(i, j)
            if fence is not None:
                g.add_edge(fence, j)
            fence, since_fence = j, []
            continue
        if fence is not None:
            g.add_edge(fence, j)
        since_fence.append(j)
        reads, writes = places.footprint(op)
        for i, r2, w2 in accesses:
            if _hit(writes, r2) or _hit(writes, w2) or _hit(reads, w2):
                g.add_edge(i, j)
        if reads or writes:
            accesses.append((j, reads, writes))
    return g


def _hit(a, b) -> bool:
    return any(m1 == m2 and lo1 < hi2 and lo2 < hi1 for m1, lo1, hi1 in a for m2, lo2, hi2 in b)


def list_schedule(g: nx.DiGraph, ops: list[Operation], target) -> list[int]:
    """A topological order of ``g`` that issues next the ready op able to start earliest on an
    estimate of the units (ties: longest remaining path, then program order)."""
    cost = [op_cycles(op, target) for op in ops]
    tail = [0.0] * len(ops)
    for n in reversed(list(nx.topological_sort(g))):
        tail[n] = cost[n] + max((tail[s] for s in g.successors(n)), default=0.0)
    indeg = {n: g.in_degree(n) for n in g}
    finish = [0.0] * len(ops)
    unit_free: dict[str, float] = {}
    ready = []
    for n in g:
        if indeg[n] == 0:
            heapq.heappush(ready, (0.0, -tail[n], n))
    order = []
    while ready:
        # the ready op that can start earliest, given its unit's queue
        best = min(
            ready,
            key=lambda e: (max(e[0], unit_free.get(op_unit(ops[e[2]]), 0.0)), e[1], e[2]),
        )
        ready.remove(best)
        heapq.heapify(ready)
        data_ready, _, n = best
        unit = op_unit(ops[n])
        start = max(data_ready, unit_free.get(unit, 0.0))
        finish[n] = start + cost[n]
        if unit != "none":
            unit_free[unit] = finish[n]
        order.append(n)
        for s in g.successors(n):
            indeg[s] -= 1
            if indeg[s] == 0:
                at = max((finish[p] for p in g.predecessors(s)), default=0.0)
                heapq.heappush(ready, (at, -tail[s], s))
    if len(order) != len(ops):
        raise PassFailure("the dependency graph has a cycle")
    return order
