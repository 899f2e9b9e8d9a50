"""Compiled programs in Python: ``imcc.compile(..., emit="bin")`` and ``imcc.load(path)`` return a
`CompiledProgram`; ``program.session()`` keeps its weights resident for repeated inferences.

Inputs and outputs go by the model's own names (the tensor table stores file-safe versions; the
mapping travels in the binary's meta section), outputs in the model's output order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from .runtime.isa.disasm import disassemble
from .runtime.isa.program import Program
from .runtime.sim.runner import run_program
from .runtime.sim.session import Session


def _names(program: Program, role: str) -> list[tuple[str, str]]:
    """(model name, tensor table name) of the program's inputs or outputs, in table order."""
    mapping = json.loads(program.meta.get(f"{role}s", "{}") or "{}")
    return [(mapping.get(t.name, t.name), t.name) for t in program.tensors if t.role == role]


class RunResult:
    """Outputs by model output name (in the model's order) and the simulator's report."""

    def __init__(self, outputs: dict[str, np.ndarray], raw, program=None):
        self.outputs = outputs
        self._raw = raw
        self._program = program

    @property
    def report(self):
        """The run's cost report (cycles, energy, area by layer and unit)."""
        return self._raw.report

    def charts(self) -> dict[str, bytes]:
        """The run's charts as PNG bytes by file name (``layers.png``, ``units.png``,
        ``arrays.png``), as ``imcc-run --plot`` writes them; needs matplotlib (``imcc[plot]``)."""
        from .runtime.sim.present import plot

        return plot.render(self._raw, self._program)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.outputs[name]

    def as_list(self) -> list[np.ndarray]:
        return list(self.outputs.values())


class CompiledProgram:
    """A program binary: ``save``, ``to_bytes``, ``disassemble``, ``run`` and ``session``."""

    def __init__(self, program: Program):
        self.program = program
        self.inputs = [m for m, _ in _names(program, "input")]
        self.outputs = [m for m, _ in _names(program, "output")]

    @classmethod
    def load(cls, path: str | os.PathLike) -> CompiledProgram:
        return cls(Program.load(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write prog.bin atomically."""
        self.program.save(path)

    def to_bytes(self) -> bytes:
        return self.program.to_bytes()

    def disassemble(self) -> str:
        """The program as assembly text (``imcc-as`` reads it back)."""
        return disassemble(self.program)

    def _bind(self, inputs) -> dict[str, np.ndarray]:
        pairs = _names(self.program, "input")
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        if isinstance(inputs, Mapping):
            known = {m for m, _ in pairs}
            unknown = sorted(set(inputs) - known)
            if unknown:
                raise KeyError(f"unknown inputs {unknown} (the program takes {sorted(known)})")
            return {table: inputs[model] for model, table in pairs if model in inputs}
        return {table: value for (_, table), value in zip(pairs, list(inputs))}

    def _outputs(self, raw) -> RunResult:
        pairs = _names(self.program, "output")
        return RunResult({model: raw.outputs[table] for model, table in pairs}, raw, self.program)

    def run(self, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], **options) -> RunResult:
        """One inference on a fresh simulated chip (``mode``, ``seed``, ``target``, … as for the
        runtime's ``run_program``)."""
        return self._outputs(run_program(self.program, self._bind(inputs), **options))

    def session(self, **options) -> ProgramSession:
        """A session: weights programmed once, then ``run`` as often as needed."""
        return ProgramSession(self, Session(self.program, **options))


class ProgramSession:
    """Repeated inferences of one program with its weights resident (the runtime's `Session`)."""

    def __init__(self, compiled: CompiledProgram, session: Session):
        self.compiled, self.session = compiled, session

    def run(self, inputs) -> RunResult:
        return self.compiled._outputs(self.session.run(self.compiled._bind(inputs)))
