"""Shared helpers of the simulator tests: the tiny test target and one-instruction runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imcc.runtime.isa.encoding import Instr
from imcc.runtime.isa.program import Program, Tensor
from imcc.runtime.sim.machine.footprint import footprint
from imcc.runtime.sim.machine.machine import Machine
from imcc.runtime.sim.machine.semantics import execute
from imcc.runtime.targets import load_target

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]

# global array indices of the tiny target's groups
ANALOG, DYNAMIC, DIGITAL = 0, 4, 6


def tiny_target(**overrides):
    """The test target: 4 analog 32x32, 2 dynamic 16x16, 2 digital 32x32, dw and nl units."""
    return load_target(DATA / "tiny.toml", overrides or None)


def machine(mode="adc", seed=0, drift_time=None, target=None) -> Machine:
    """A fresh machine on the tiny target (or ``target``)."""
    return Machine(target or tiny_target(), mode, seed, drift_time)


def run(m: Machine, mnemonic: str, /, **fields) -> Instr:
    """Statically check, then execute one instruction on ``m``."""
    ins = Instr.make(mnemonic, fields)
    footprint(ins, m.target, m.calls)
    execute(m, ins)
    return ins


def put(m: Machine, mem: str, addr: int, values, dtype: str) -> None:
    """Store ``values`` (cast to the ISA dtype) at mem:addr."""
    m.store(mem, addr, np.asarray(values), dtype)


def program(instrs, tensors=(), consts=(), debug=None, target="tiny") -> Program:
    """A Program from (mnemonic, fields) pairs."""
    p = Program(
        instrs=[Instr.make(mn, f) for mn, f in instrs],
        tensors=[Tensor(*t) if isinstance(t, tuple) else t for t in tensors],
        consts=list(consts),
        debug=dict(debug or {}),
        target=target,
    )
    p.validate()
    return p
