"""Replicated array windows as one matrix product: xb.mvm instructions merged for a `Session`.

A compiler that replicates a layer over several arrays (to run its jobs in parallel) emits, for
each tile of rows, one xb.mvm per replica and window: the same cells, consecutive input rows,
consecutive output rows. The chip runs them side by side; a simulator that runs them one by one
pays a small matrix product and an ADC pass per replica. Here xb.mvm instructions on windows
with the same cells (and shift, shape, gather and ADC) whose inputs and outputs continue one
another become one xb.mvm over all their jobs, run where the first one (the head) was, on its
window; the others do nothing.

That is exactly the same computation when:

- each merged instruction commutes with every instruction from its head up to itself: neither
  writes a byte the other reads or writes, so running it at its head's place changes nothing
  (two instructions change order only when one moves over the other's place, which is checked);
- the windows hold the same cells in every run: they are written before the body only (steady)
  and equal when the body is compiled, on arrays without device effects (noise gives each
  array its own weights);
- each instruction's gather has no batch loop and no outer loop other than one continuing the
  inner loop (``outer_stride = n_inner · inner_stride``), so jobs laid end to end (inputs
  ``inner_stride`` apart, segments alike) are one gather with more jobs, and its results,
  rows ``dst_stride`` apart, continue the previous ones.

The cost model still charges every instruction where it was (`Session` costs the instructions,
not the steps), so reports and traces do not change.
"""

from __future__ import annotations

import numpy as np

from ..machine.footprint import Footprint, footprint, mvm_jobs
from ..machine.machine import Machine
from .dataflow import overlaps

# fields that must be equal for two xb.mvm to be one product (besides the cells)
_SAME = (
    "rows",
    "cols",
    "src_mem",
    "src_dtype",
    "seg_count",
    "seg_len",
    "seg_stride",
    "inner_stride",
    "dst_mem",
    "dst_stride",
    "acc",
    "adc_shift",
)
MAX_JOBS = (1 << 16) - 1  # n_inner's range


class Merged:
    """The plan of one instruction: ``head`` is the xb.mvm to run in its place (None: run it as
    it is) with its footprint, or ``member`` it is part of an earlier head (a no-op)."""

    __slots__ = ("head", "footprint", "member")

    def __init__(self, head=None, fp=None, member=False):
        self.head, self.footprint, self.member = head, fp, member


# how far (in instructions) a merged xb.mvm may move up to its head: bounds the checks
MAX_SPAN = 256


def plan_merges(machine: Machine, instrs, footprints, constant) -> dict[int, Merged]:
    """Merges for the body ``instrs`` (index → `Merged`, for merged instructions only)."""
    chains: dict[tuple, list[int]] = {}  # key → the open chain (indices) of that key
    done: list[list[int]] = []
    for k, ins in enumerate(instrs):
        if ins.mnemonic != "xb.mvm":
            continue
        f = ins.fields
        cells = _steady_cells(machine, f, constant)
        if cells is None or not _flat(f):
            continue
        key = (machine.array(f["array"]).group.name, *(f[n] for n in _SAME), cells.tobytes())
        chain = chains.get(key)
        if (
            chain is not None
            and k - chain[0] <= MAX_SPAN
            and _continues(instrs, chain, f)
            and all(_commute(footprints[t], footprints[k]) for t in range(chain[0], k))
        ):
            chain.append(k)
            continue
        if chain is not None:
            done.append(chain)
        chains[key] = [k]
    done.extend(chains.values())
    out: dict[int, Merged] = {}
    for chain in done:
        if len(chain) < 2:
            continue
        head = instrs[chain[0]]
        jobs = sum(mvm_jobs(instrs[k].fields) for k in chain)
        merged = type(head).make("xb.mvm", {**head.fields, "n_inner": jobs, "n_outer": 1})
        out[chain[0]] = Merged(merged, footprint(merged, machine.target, machine.calls))
        for k in chain[1:]:
            out[k] = Merged(member=True)
    return out


def _commute(a: Footprint, b: Footprint) -> bool:
    """Whether neither instruction writes a byte the other reads or writes."""
    return not any(
        overlaps(w, r) for x, y in ((a, b), (b, a)) for w in x.writes for r in (*y.reads, *y.writes)
    )


def _flat(f) -> bool:
    """Whether the gather's jobs lie end to end, ``inner_stride`` apart: no batch loop, and an
    outer loop (if any) that continues the inner one."""
    outer = f["n_outer"] == 1 or f["outer_stride"] == f["n_inner"] * f["inner_stride"]
    return f["n_batch"] == 1 and outer


def _continues(instrs, chain: list[int], f) -> bool:
    """Whether instruction fields ``f`` take up jobs where ``chain`` leaves off."""
    head = instrs[chain[0]].fields
    jobs = sum(mvm_jobs(instrs[k].fields) for k in chain)
    return (
        jobs + mvm_jobs(f) <= MAX_JOBS
        and f["src_addr"] == head["src_addr"] + jobs * head["inner_stride"]
        and f["dst_addr"] == head["dst_addr"] + jobs * head["dst_stride"]
    )


def _steady_cells(machine: Machine, f, constant) -> np.ndarray | None:
    """The window's cells when no run changes them and no device effect applies, else None."""
    arr = machine.array(f["array"])
    if arr.cells is None or machine.device.affects(arr.group) or not mvm_jobs(f):
        return None
    r0, c0, rows, cols = f["row0"], f["col0"], f["rows"], f["cols"]
    if r0 + rows > arr.rows or c0 + cols > arr.cols:
        return None
    lo = r0 * arr.group.cols + c0
    hi = (r0 + rows - 1) * arr.group.cols + c0 + cols
    if not constant(f"A{arr.index}", lo, hi):
        return None
    return arr.cells[r0 : r0 + rows, c0 : c0 + cols]
