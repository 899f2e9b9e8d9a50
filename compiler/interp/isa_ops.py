"""Running a module at the isa level: emit its program and execute it on the simulated chip.

The isa level is the binary itself, so its reference semantics are the runtime's: the program is
emitted exactly as ``--emit bin`` would write it and run by the simulator in its default ``adc``
mode on the module's target. Inputs and outputs keep the model's names.
"""

from __future__ import annotations

from collections.abc import Mapping

from imcc.runtime.sim import RunError, run_program

from ..backend.emit import emit_program, is_isa_module
from ..backend.target import module_target
from .interpreter import MODULE_RUNNERS, InputMismatchError


def names(module, key: str) -> list[tuple[str, str]]:
    """(model name, tensor table name) pairs of the module's inputs or outputs."""
    return [tuple(p) for p in module.get_attr(f"isa.{key}") or []]


def run_isa(module, inputs) -> dict:
    program = emit_program(module)
    ins, outs = names(module, "inputs"), names(module, "outputs")
    if isinstance(inputs, Mapping):
        unknown = sorted(set(inputs) - {m for m, _ in ins})
        if unknown:
            raise InputMismatchError(
                f"unknown inputs {unknown} (the model takes {[m for m, _ in ins]})"
            )
        given = {table: inputs[model] for model, table in ins if model in inputs}
    else:
        given = {table: value for (_, table), value in zip(ins, inputs)}
    try:
        result = run_program(program, given, target=module_target(module))
    except RunError as exc:
        raise InputMismatchError(str(exc)) from None
    return {model: result.outputs[table] for model, table in outs}


MODULE_RUNNERS.append((is_isa_module, run_isa))
