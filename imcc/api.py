"""The Python entry points: ``imcc.compile``, ``imcc.load`` and ``imcc.run``.

Both import the compiler lazily, so ``import imcc`` (and so ``import imcc.runtime``) stays cheap and
never loads the compiler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .compiler.ir.builtin import ModuleOp

#: The runtime's command-line runner of ``.bin`` programs (``main(argv)``); imcc-run hands binaries
#: to it.
RUNTIME_RUNNER = "imcc.runtime.tools.run"


def compile(
    model,
    emit: str = "bin",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    pipeline: str | None = None,
    *,
    target: str | os.PathLike | None = None,
    target_overrides: Mapping[str, object] | None = None,
    base_dir: str | None = None,
    verify_each: bool = True,
    instruments: Sequence = (),
    notes=None,
    precision: str | None = None,
    accuracy_budget: float | None = None,
    calibration=None,
    attention: str | None = None,
):
    """Compile ``model`` to level ``emit`` for ``target`` and return the result.

    ``model`` is a path (``.onnx``, ``.onnxtxt``, or ``.mlir`` IR text), the bytes of an ONNX
    model, a ``ModelProto`` or a module. ``emit`` is a level of ``imcc --emit``: ``onnx``,
    ``quant``, ``imc`` and ``isa`` return the module, ``asm`` the assembly text, ``bin`` (the
    default) a `CompiledProgram` (``.save(path)``, ``.run(inputs)``, ``.session()``).
    ``target`` is a preset name or a target TOML file (default ``cluster``), recorded on the
    module for every pass; ``target_overrides`` changes its parameters as ``imcc --set`` does
    (``{"arrays.ima.count": 16}``), recorded on the module and in the program. ``input_shapes`` pins symbolic input dimensions (``{"input": (1, 3,
    224, 224)}``); ``pipeline`` replaces the level's pass pipeline (``""`` runs no pass: the
    module as imported). ``instruments`` are pass-manager instruments; ``notes`` receives the
    importer's notes (default: printed on stderr).

    Precision (levels from ``quant`` on): ``precision`` is ``fp32`` (a software program: every
    layer on the cores in float32), ``int8``, ``ternary`` (default) or ``auto`` (per-layer
    choice within ``accuracy_budget``, default 0.01); ``calibration`` is an ``.npz`` path or a
    dict of arrays keyed by input name (samples first, optional ``labels``); without it a seeded
    synthetic set is used, with a warning. ``attention`` places attention's run-time products in
    a quantized program: ``dynamic-arrays``, ``cores`` or ``auto`` (default: dynamic arrays when
    the target has them).
    """
    from .compiler.backend.target import module_target, set_target
    from .compiler.frontend.importer import stderr_notes
    from .compiler.ir.verifier import verify
    from .compiler.pipelines import IR_LEVELS, level, pipeline_to
    from .compiler.pm import PassManager, parse_pipeline

    chosen = level(emit)
    module = load_module(model, input_shapes, base_dir=base_dir, notes=notes or stderr_notes)
    if target is not None or target_overrides:
        from .compiler.backend.target import target_name

        spec = os.fspath(target) if target is not None else target_name(module)
        set_target(module, spec, {k: str(v) for k, v in (target_overrides or {}).items()})
    overrides = {}
    if precision is not None or accuracy_budget is not None or attention is not None:
        from .compiler.precision.pipeline import DEFAULT_PRECISION, precision_steps

        mode = precision or ("auto" if accuracy_budget is not None else DEFAULT_PRECISION)
        overrides = {"quant": precision_steps(mode, accuracy_budget, attention=attention or "auto")}
    passes = parse_pipeline(pipeline_to(chosen.name, overrides) if pipeline is None else pipeline)
    verify(module)
    module_target(module)
    if calibration is not None:
        from .compiler.precision.calibration import attach_calibration

        attach_calibration(module, calibration)
    PassManager(passes, list(instruments), verify_each=verify_each).run(module)
    if chosen.name in IR_LEVELS:
        return module
    from .binary import CompiledProgram
    from .compiler.backend.emit import emit_program

    program = CompiledProgram(emit_program(module))
    return program.disassemble() if chosen.name == "asm" else program


def load(path: str | os.PathLike):
    """A program binary (prog.bin) as a `CompiledProgram`."""
    from .binary import CompiledProgram

    return CompiledProgram.load(path)


def load_module(model, input_shapes=None, *, base_dir=None, notes=None) -> ModuleOp:
    """The module ``model`` denotes, before any pass: a module as is, IR text parsed, ONNX
    imported."""
    from .compiler import dialects  # noqa: F401  (registers the core dialects)
    from .compiler.dialects import onnx as _onnx  # noqa: F401  (registers the onnx dialect)
    from .compiler.frontend.importer import import_model
    from .compiler.ir.builtin import ModuleOp
    from .compiler.ir.parser import parse_module

    if isinstance(model, ModuleOp):
        return model
    if isinstance(model, str | os.PathLike) and os.fspath(model).endswith(".mlir"):
        from .runtime.fileio import InputPathError, read_file

        path = os.fspath(model)
        try:
            text = read_file(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputPathError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        return parse_module(text, path)
    return import_model(model, input_shapes, base_dir=base_dir, notes=notes)


def run(program, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], **options):
    """Run a compiled program, a module, an IR file, an ONNX model or a prog.bin on ``inputs``
    (by name or in order); the result's ``.outputs`` maps output names to arrays in output order.

    Programs (a `CompiledProgram` or a ``.bin`` path) run on the simulated chip and the result
    also has a ``.report``; ``options`` (``mode``, ``seed``, ``target``, …) go to the simulator.
    Modules and models run in the reference interpreter; a model given as ONNX is compiled to the
    ``onnx`` level first, its input shapes pinned to those of the inputs given by name.
    """
    import numpy as np

    from .binary import CompiledProgram
    from .compiler.interp.interpreter import run_module

    if isinstance(program, str | os.PathLike) and os.fspath(program).endswith(".bin"):
        program = load(program)
    if isinstance(program, CompiledProgram):
        return program.run(inputs, **options)
    shapes = options.pop("input_shapes", None)
    if shapes is None and isinstance(inputs, Mapping):
        shapes = {name: np.shape(value) for name, value in inputs.items()}
    from .compiler.ir.builtin import ModuleOp

    if isinstance(program, ModuleOp) or str(program).endswith(".mlir"):
        module = load_module(program)
    else:
        module = compile(
            program, emit="onnx", input_shapes=shapes, notes=options.pop("notes", None)
        )
    return run_module(module, inputs, check_types=options.pop("check_types", True))
