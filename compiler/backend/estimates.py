"""Cycle estimates the mapping decisions use, from the runtime's own cost model.

The compiler never keeps a second cost model: these functions call the formulas the simulator
charges (``imcc.runtime.sim.cost``), so a replica given to the layer that looks slowest here is
given to the layer the simulator will find slowest.
"""

from __future__ import annotations

import math

import numpy as np
from imcc.runtime.sim.cost.cost import (
    analog_job_cycles,
    digital_add_cycles,
    digital_added,
    write_cycles,
)

from ..dialects import imc
from ..ir.types import numpy_dtype


def window_cycles(target, group, rows: int, cols: int, jobs: int, cells: np.ndarray) -> float:
    """Cycles of ``jobs`` MVM jobs on one window of ``cells`` (rows x cols) of ``group``."""
    if group.kind == "digital":
        nnz = int(np.count_nonzero(cells))
        added = digital_added(group, rows, cols, nnz)
        per_batch = group.job_overhead + digital_add_cycles(group, group.add_bits) * added
        return math.ceil(jobs / group.lanes) * per_batch
    return jobs * analog_job_cycles(target, group, rows, cols)


def op_unit(op) -> str:
    """The unit an imc job occupies ("none" for ops that are no job)."""
    if isinstance(op, imc.WeightsOp | imc.WriteOp):
        return f"array{op.get_attr('array')}"
    if isinstance(op, imc.MvmOp):
        return f"array{op.operands[1].owner.get_attr('array')}"
    if isinstance(op, imc.PadOp | imc.CopyOp | imc.ExtractOp | imc.InsertOp):
        return "dma"
    if isinstance(op, imc.CoreOp):
        return op.get_attr("unit")
    return "none"


def _elements(values) -> int:
    return sum(int(np.prod(v.type.shape)) for v in values if hasattr(v.type, "shape"))


def op_cycles(op, target) -> float:
    """Estimated cycles of one imc job on ``target`` (0 for ops that are no job)."""
    if isinstance(op, imc.MvmOp):
        w = op.operands[1].owner
        group = target.group_of(int(w.get_attr("array")))
        rows, cols = w.shape
        cells = w.attributes["cells"].array if isinstance(w, imc.WeightsOp) else None
        return window_cycles(target, group, rows, cols, op.jobs, cells)
    if isinstance(op, imc.WeightsOp | imc.WriteOp):
        group = target.group_of(int(op.get_attr("array")))
        rows, cols = op.shape
        return write_cycles(target, group, rows * cols)
    if isinstance(op, imc.PadOp | imc.CopyOp | imc.ExtractOp | imc.InsertOp):
        moved = op.operands[0] if isinstance(op, imc.InsertOp) else op.results[0]
        nbytes = _elements([moved]) * numpy_dtype(moved.type.element_type).itemsize
        return target.dma.setup + nbytes / target.dma.bandwidth
    if isinstance(op, imc.CoreOp):
        n = max(_elements(op.operands), _elements(op.results))
        ncores = int(op.get_attr("ncores") or 1)
        return target.cores.setup + 2.0 * n / ncores
    return 0.0
