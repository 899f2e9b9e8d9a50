"""Array windows that hold the same cells at an instruction in every run although the body
reprograms them: the weights of a model larger than the chip.

A program whose weights do not fit the arrays reprograms them between layers (`xb.prog` in the
inference body), so the cells an `xb.mvm` reads are not constant over the body. They are the
same in every run, though, when each of them was last written, earlier in the same run, by an
`xb.prog` whose packed weights no instruction of the body writes, on an array without device
effects: every run programs the same values before the read. So is a cell the run reads before
writing it, on an array weight programming wrote: every run starts from the cells weight
programming left (a `Session` puts back what an earlier run changed and a later one reads
first, `dataflow`; a caller of `compile_body` that does not must not rely on this).
`steady_windows` walks the body once, applying such programming to a shadow copy of the
cells, and gives those windows' cells by instruction, so that the `xb.mvm` step binds them into
a kernel as it does a window no run rewrites, and the `xb.prog` step stores values decoded once.
"""

from __future__ import annotations

import numpy as np

from ...isa.packing import check_packed, packed_nbytes, unpack
from ..machine.machine import Machine
from ..machine.semantics import PACKED_RANGE


def programmed(machine: Machine, f, constant) -> np.ndarray | None:
    """The int8 cells an xb.prog with fields ``f`` writes in every run: its packed source is
    constant (``constant(space, lo, hi)``), valid and within the cells' range, and the array
    has no device effects. None otherwise (the semantics then decide, and say what is wrong)."""
    arr = machine.array(f["array"])
    count = f["rows"] * f["cols"]
    nbytes = packed_nbytes(f["fmt"], count)
    if machine.device.affects(arr.group) or not count:
        return None
    if not constant(f["src_mem"], f["src_addr"], f["src_addr"] + nbytes):
        return None
    raw = machine.region(f["src_mem"], f["src_addr"], nbytes)
    problem = check_packed(f["fmt"], raw, count)
    lo, hi = PACKED_RANGE[f["fmt"]]
    if (problem and "padding" not in problem) or lo < arr.group.cell_min or hi > arr.group.cell_max:
        return None
    return unpack(f["fmt"], raw, count).reshape(f["rows"], f["cols"]).astype(np.int8)


def steady_windows(machine: Machine, instrs, constant) -> tuple[dict, dict]:
    """(xb.mvm index → its window's cells in every run, xb.prog index → the cells it writes
    in every run), for the arrays the body ``instrs`` reprograms."""
    rewritten = sorted({i.fields["array"] for i in instrs if i.mnemonic in ("xb.prog", "xb.write")})
    shadow, known = {}, {}
    for a in rewritten:
        arr = machine.array(a)
        shape = (arr.rows, arr.cols)
        shadow[a] = np.zeros(shape, np.int8) if arr.cells is None else arr.cells.copy()
        # until the run writes them, cells hold what weight programming left; an array it
        # left unprogrammed has no cells yet (its reads take the plain semantics)
        programmed_ = arr.cells is not None and not machine.device.affects(arr.group)
        known[a] = np.full(shape, programmed_)
    windows, progs, seen = {}, {}, {}
    for k, ins in enumerate(instrs):
        f = ins.fields
        if ins.mnemonic in ("xb.prog", "xb.write"):
            values = programmed(machine, f, constant) if ins.mnemonic == "xb.prog" else None
            win = _window(f)
            known[f["array"]][win] = values is not None
            if values is not None:
                shadow[f["array"]][win] = values
                progs[k] = values
        elif ins.mnemonic == "xb.mvm" and f["array"] in shadow:
            win = _window(f)
            if f["rows"] and f["cols"] and known[f["array"]][win].all():
                cells = shadow[f["array"]][win].copy()  # not a view: the shadow changes later
                windows[k] = seen.setdefault((cells.shape, cells.tobytes()), cells)
    return windows, progs


def _window(f) -> tuple[slice, slice]:
    return slice(f["row0"], f["row0"] + f["rows"]), slice(f["col0"], f["col0"] + f["cols"])
