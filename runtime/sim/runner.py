"""Run a `Program` on the simulated chip: the `run_program` API behind ``imcc-run``.

    result = run_program(Program.load("prog.bin"), {"x": x}, mode="adc", seed=0)
    result.outputs["y"], print(result.report.to_text())

Everything is validated before the first instruction runs (`validate`); problems raise
`RunError` with one line naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..isa.program import Program
from .session import RunResult, Session
from .validate import check_inputs, validate


def run_program(
    program: Program,
    inputs=None,
    target=None,
    mode: str = "adc",
    seed: int = 0,
    drift_time: float | None = None,
    overrides: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Validate, then execute ``program`` once on a fresh machine; return outputs and the report.

    ``inputs``: dict name -> array or a sequence in program input order. ``target``: a Target,
    a preset name or a .toml path (default: the binary's own). ``progress(done, total)`` is called
    every few hundred instructions. The one-shot form of `Session`: a session made for this one
    run (inputs are checked first, so a bad input fails before weight programming starts).
    """
    chosen, footprints = validate(program, target, overrides, mode, drift_time, seed)
    check_inputs(program, inputs)
    session = Session(
        program,
        chosen,
        mode,
        seed,
        drift_time,
        progress=progress,
        reusable=False,
        footprints=footprints,
    )
    return session.run(inputs, progress=progress)
