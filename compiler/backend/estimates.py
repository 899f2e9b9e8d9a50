"""Cycle estimates the mapping decisions use, from the runtime's own cost model.

The compiler never keeps a second cost model: these functions call the formulas the simulator
charges (``imcc.runtime.sim.cost``), so a replica given to the layer that looks slowest here is
given to the layer the simulator will find slowest.
"""

from __future__ import annotations

import math

import numpy as np
from imcc.runtime.sim.cost import analog_job_cycles, digital_add_cycles, digital_added


def window_cycles(target, group, rows: int, cols: int, jobs: int, cells: np.ndarray) -> float:
    """Cycles of ``jobs`` MVM jobs on one window of ``cells`` (rows x cols) of ``group``."""
    if group.kind == "digital":
        nnz = int(np.count_nonzero(cells))
        added = digital_added(group, rows, cols, nnz)
        per_batch = group.job_overhead + digital_add_cycles(group, group.add_bits) * added
        return math.ceil(jobs / group.lanes) * per_batch
    return jobs * analog_job_cycles(target, group, rows, cols)
