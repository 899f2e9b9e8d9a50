"""The cost model: cycles and energy of each instruction on its unit, from target parameters.

Kept apart from the semantics: `COSTS` maps each mnemonic to ``(target, fields, machine) -> Work``.
The machine is only read (FAT's zero skipping needs the non-zero count of the programmed window).
Scheduling (which unit, when) is `schedule.py`'s job; memory access energy is added there from the
instruction's footprint. Durations are whole cycles (each model rounds up once, at the end).

Models, per unit (t = target group or section parameters, ⌈⌉ = ceiling):

- analog / dynamic array, per MVM job (the IMA job formula):
  idle_cycles + (⌈rows·1 B / stream_bandwidth⌉ + stream_setup)
  + (⌈cols·⌈adc_bits/8⌉ B / stream_bandwidth⌉ + stream_setup) + ⌈8 / dac_bits⌉ · ⌈eval_time⌉;
  a whole xb.mvm is jobs × that. Programming: ⌈cells / write_width⌉ · write_time.
- digital (FAT) array: the jobs are spread over ``lanes`` memory columns; each batch adds every
  weight that is added (non-zero ones in ``fat`` mode, all in ``parapim`` mode) bit-serially:
  ⌈jobs / lanes⌉ · (job_overhead + added · add_bits · cycles_per_bit) plus streaming activations in
  (⌈jobs·rows / bw⌉) and partial sums out (⌈jobs·cols·⌈add_bits/8⌉ / bw⌉).
- cores: setup + ⌈⌈work / ncores⌉ · cost⌉, work and cost per kernel from ``cores.kernels``
  (elements, MACs or bytes); energy ncores · cycles · energy_per_cycle.
- depthwise unit: setup + ⌈MACs / macs_per_cycle⌉. Nonlinear unit: setup + ⌈elements · cost⌉.
- DMA: setup + rows · row_overhead + ⌈bytes / bandwidth⌉.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...isa.table import BY_MNEMONIC, DTYPES
from ...kernels import library
from ..machine.footprint import mvm_jobs, out_hw

INPUT_BITS = 8  # xb.mvm inputs are 8-bit (i8 or u8)
MAC_KERNELS = ("dwconv", "matmul_i8", "matmul_f32")


@dataclass
class Work:
    """Cost of one instruction: busy cycles, how many servers of its unit, energy by category."""

    cycles: int
    servers: int = 1
    energy: dict[str, float] = field(default_factory=dict)
    macs: int = 0  # multiply-accumulates done (0 for kernels that do none)


def _ceil(x: float) -> int:
    # guard against 64.99999999 from unit conversions turning into 65 + 1
    return int(math.ceil(round(x, 9)))


# --- per-unit models -------------------------------------------------------------------------


def analog_job_cycles(t, g, rows: int, cols: int) -> int:
    """Cycles of one MVM job on an analog or dynamic array window of rows × cols."""
    out_bytes = -(-g.adc_bits // 8)
    stream_in = _ceil(rows / g.stream_bandwidth) + g.stream_setup
    stream_out = _ceil(cols * out_bytes / g.stream_bandwidth) + g.stream_setup
    slices = -(-INPUT_BITS // g.dac_bits)
    return _ceil(g.idle_cycles + stream_in + stream_out + slices * _ceil(t.cycles(g.eval_time)))


def digital_cycles_per_bit(g) -> float:
    """Memory cycles per added bit of the group's adder (FAT or the ParaPIM baseline)."""
    return g.cycles_per_bit_fat if g.addition == "fat" else g.cycles_per_bit_parapim


def digital_add_cycles(g, bits: int) -> float:
    """Cycles of one bits-wide in-memory addition (all lanes in parallel)."""
    return bits * digital_cycles_per_bit(g)


def digital_added(g, rows: int, cols: int, nnz: int) -> int:
    """Weights actually added per input vector: non-zeros with zero skipping, else all."""
    return nnz if g.addition == "fat" else rows * cols


def write_cycles(t, g, cells: int) -> int:
    """Cycles to write ``cells`` cells of an array."""
    return _ceil(-(-cells // g.write_width) * t.cycles(g.write_time))


def core_cycles(t, kernel: str, work: int, ncores: int) -> int:
    """Cycles of a cluster kernel doing ``work`` units on ``ncores`` cores."""
    share = -(-work // ncores)
    return _ceil(t.cores.setup + share * t.core_kernels[kernel])


# --- per instruction -------------------------------------------------------------------------


def _control(t, f, m) -> Work:
    return Work(0)


def _dma(t, f, m) -> Work:
    nbytes = f["rows"] * f["row_bytes"]
    cycles = t.dma.setup + f["rows"] * t.dma.row_overhead + nbytes / t.dma.bandwidth
    return Work(_ceil(cycles), 1, {"dma": nbytes * t.dma.energy_per_byte})


def _fill(t, f, m) -> Work:
    cycles = t.dma.setup + f["bytes"] / t.dma.bandwidth
    return Work(_ceil(cycles), 1, {"dma": f["bytes"] * t.dma.energy_per_byte})


def _write(t, f, m) -> Work:
    g = t.group_of(f["array"])
    cells = f["rows"] * f["cols"]
    return Work(write_cycles(t, g, cells), 1, {"array.write": cells * g.energy_write})


def _mvm(t, f, m) -> Work:
    g = t.group_of(f["array"])
    jobs, rows, cols = mvm_jobs(f), f["rows"], f["cols"]
    if g.kind == "digital":
        return _mvm_digital(t, g, f, m, jobs, rows, cols)
    slices = -(-INPUT_BITS // g.dac_bits)
    energy = {
        "array.job": jobs * g.energy_job,
        "array.cells": jobs * rows * cols * g.energy_per_cell,
        "array.dac": jobs * slices * rows * g.energy_dac,
        "array.adc": jobs * cols * g.energy_adc,
    }
    return Work(jobs * analog_job_cycles(t, g, rows, cols), 1, energy, jobs * rows * cols)


def _mvm_digital(t, g, f, m, jobs, rows, cols) -> Work:
    nnz = m.array(f["array"]).nnz(f["row0"], f["col0"], rows, cols)
    added = digital_added(g, rows, cols, nnz)
    per_vector = digital_add_cycles(g, g.add_bits) * added  # one lane, every added weight
    batches = -(-jobs // g.lanes)
    out_bytes = -(-g.add_bits // 8)
    stream = _ceil(jobs * rows / g.stream_bandwidth) + _ceil(
        jobs * cols * out_bytes / g.stream_bandwidth
    )
    cycles = _ceil(batches * (g.job_overhead + per_vector)) + stream
    e_cycle = g.energy_per_cycle_fat if g.addition == "fat" else g.energy_per_cycle_parapim
    return Work(cycles, 1, {"array.add": jobs * per_vector * e_cycle}, jobs * rows * cols)


def _core_kernel(kernel: str, work_of):
    def cost(t, f, m) -> Work:
        work = work_of(f)
        cycles = core_cycles(t, kernel, work, f["ncores"])
        energy = {"cores": f["ncores"] * cycles * t.cores.energy_per_cycle}
        macs = work if kernel in MAC_KERNELS else 0
        return Work(cycles, f["ncores"], energy, macs)

    return cost


def _nl_kernel(kernel: str, work_of):
    def cost(t, f, m) -> Work:
        work = work_of(f)
        cycles = _ceil(t.nlunit.setup + work * t.nl_kernels[kernel])
        return Work(cycles, 1, {"nl": work * t.nlunit.energy_per_elem})

    return cost


def _window_taps(f) -> int:
    oh, ow = out_hw(f)
    return oh * ow * f["c"] * f["kh"] * f["kw"]


def _dw_unit(t, f, m) -> Work:
    macs = _window_taps(f)
    cycles = _ceil(t.dwunit.setup + macs / t.dwunit.macs_per_cycle)
    return Work(cycles, 1, {"dw": macs * t.dwunit.energy_per_mac}, macs)


def _matmul(t, f, m) -> Work:
    kernel = "matmul_i8" if f["dtype"] == "i8" else "matmul_f32"
    return _core_kernel(kernel, lambda f: f["m"] * f["k"] * f["n"])(t, f, m)


def _call(t, f, m) -> Work:
    c = m.calls[f["call"]]
    out_itemsize = next((DTYPES[op.dtype].bits // 8 for op in c.outputs if op is not None), 4)
    kernel, work = library.work(
        c.kernel,
        [None if op is None else op.shape for op in c.inputs],
        [None if op is None else op.shape for op in c.outputs],
        out_itemsize,
        c.params,
    )
    return _core_kernel(kernel, lambda f: work)(t, f, m)


def _rowwise(f) -> int:
    return f["rows"] * f["n"]


def _count(f) -> int:
    return f["count"]


COSTS = {
    "halt": _control,
    "barrier": _control,
    "wait": _control,
    "signal": _control,
    "dma": _dma,
    "fill": _fill,
    "xb.prog": _write,
    "xb.write": _write,
    "xb.mvm": _mvm,
    "cl.requant": _core_kernel("requant", lambda f: f["rows"] * f["planes"] * f["channels"]),
    "cl.quant": _core_kernel("quant", _count),
    "cl.dquant": _core_kernel("quant", lambda f: 2 * f["rows"] * f["n"]),
    "cl.call": _call,
    "cl.eltwise": _core_kernel("eltwise", _rowwise),
    "cl.pool": _core_kernel("pool", _window_taps),
    "cl.dwconv": _core_kernel("dwconv", _window_taps),
    "cl.matmul": _matmul,
    "cl.transpose": _core_kernel("transpose", lambda f: f["rows"] * f["cols"]),
    "cl.copy": _core_kernel("copy", lambda f: f["bytes"]),
    "cl.gather": _core_kernel("gather", lambda f: f["count"] * f["row_bytes"]),
    "dw.conv": _dw_unit,
}
COSTS["nl.requant"] = _nl_kernel("requant", lambda f: f["rows"] * f["planes"] * f["channels"])
COSTS["nl.quant"] = _nl_kernel("quant", _count)
COSTS["nl.dquant"] = _nl_kernel("quant", lambda f: 2 * f["rows"] * f["n"])
COSTS["nl.eltwise"] = _nl_kernel("eltwise", _rowwise)
for _k in ("softmax", "layernorm"):
    COSTS[f"cl.{_k}"] = _core_kernel(_k, _rowwise)
    COSTS[f"nl.{_k}"] = _nl_kernel(_k, _rowwise)
for _k in ("gelu", "sigmoid", "tanh", "exp"):
    COSTS[f"cl.{_k}"] = _core_kernel(_k, _count)
    COSTS[f"nl.{_k}"] = _nl_kernel(_k, _count)

_missing = sorted(set(BY_MNEMONIC) - set(COSTS))
if _missing:  # the table grew: every instruction needs a cost model before it can run
    raise ImportError(f"no cost model for {', '.join(_missing)}")


def cost(ins, target, machine) -> Work:
    """The cost of one decoded instruction on ``target`` given the machine state before it."""
    return COSTS[ins.mnemonic](target, ins.fields, machine)
