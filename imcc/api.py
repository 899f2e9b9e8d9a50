"""The Python entry points: ``imcc.compile`` and ``imcc.run``.

Both import the compiler lazily, so ``import imcc`` (and so ``import imcc.runtime``) stays cheap and
never loads the compiler.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .compiler.interp.interpreter import RunResult
    from .compiler.ir.builtin import ModuleOp

#: The runtime's command-line runner of ``.bin`` programs (``main(argv)``); imcc-run hands binaries
#: to it.
RUNTIME_RUNNER = "imcc.runtime.tools.run"
#: The runtime modules ``imcc.run`` uses for binaries: ``Program.load(path)`` and
#: ``run_program(program, inputs, **options)`` returning a result with ``.outputs``.
RUNTIME_PROGRAM = "imcc.runtime.isa.program"
RUNTIME_SIMULATOR = "imcc.runtime.sim.runner"


def compile(
    model,
    emit: str = "onnx",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    pipeline: str | None = None,
    *,
    base_dir: str | None = None,
    verify_each: bool = True,
    instruments: Sequence = (),
    notes=None,
    precision: str | None = None,
    accuracy_budget: float | None = None,
    calibration=None,
) -> ModuleOp:
    """Compile ``model`` to level ``emit`` and return the module.

    ``model`` is a path (``.onnx``, ``.onnxtxt``, or ``.mlir`` IR text), the bytes of an ONNX
    model, a ``ModelProto`` or a module. ``input_shapes`` pins symbolic input dimensions
    (``{"input": (1, 3, 224, 224)}``); ``pipeline`` replaces the level's pass pipeline (``""``
    runs no pass: the module as imported). ``instruments`` are pass-manager instruments;
    ``notes`` receives the importer's notes (default: printed on stderr).

    Precision (levels from ``quant`` on): ``precision`` is ``fp32``, ``int8``, ``ternary``
    (default) or ``auto`` (per-layer choice within ``accuracy_budget``, default 0.01);
    ``calibration`` is an ``.npz`` path or a dict of arrays keyed by input name (samples first,
    optional ``labels``); without it a seeded synthetic set is used, with a warning.
    """
    from .compiler.frontend.importer import stderr_notes
    from .compiler.ir.verifier import verify
    from .compiler.pipelines import level, pipeline_to
    from .compiler.pm import PassManager, parse_pipeline

    target = level(emit)
    if not target.available:
        raise NotImplementedError(f"emit level '{emit}' is not implemented yet: {target.summary}")
    module = load_module(model, input_shapes, base_dir=base_dir, notes=notes or stderr_notes)
    overrides = {}
    if precision is not None or accuracy_budget is not None:
        from .compiler.precision.pipeline import precision_steps

        mode = precision or "auto"
        overrides = {"quant": precision_steps(mode, accuracy_budget)}
    passes = parse_pipeline(pipeline_to(emit, overrides) if pipeline is None else pipeline)
    verify(module)
    if calibration is not None:
        from .compiler.precision.calibration import attach_calibration

        attach_calibration(module, calibration)
    PassManager(passes, list(instruments), verify_each=verify_each).run(module)
    return module


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
        path = os.fspath(model)
        with open(path, encoding="utf-8") as f:
            return parse_module(f.read(), path)
    return import_model(model, input_shapes, base_dir=base_dir, notes=notes)


def run(
    module_or_path, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray], **options
) -> RunResult:
    """Run a compiled module, IR file, ONNX model or program binary on ``inputs`` (by name or in
    order); the result's ``.outputs`` maps output names to arrays in output order.

    Modules and models run in the reference interpreter; a model given as ONNX is compiled to the
    ``onnx`` level first, its input shapes pinned to those of the inputs given by name. ``.bin``
    programs run on the simulated chip through the runtime (``imcc.runtime.tools.run``).
    """
    import numpy as np

    from .compiler.interp.interpreter import run_module

    if isinstance(module_or_path, str | os.PathLike) and os.fspath(module_or_path).endswith(".bin"):
        return run_binary(os.fspath(module_or_path), inputs, **options)
    shapes = options.pop("input_shapes", None)
    if shapes is None and isinstance(inputs, Mapping):
        shapes = {name: np.shape(value) for name, value in inputs.items()}
    from .compiler.ir.builtin import ModuleOp

    if isinstance(module_or_path, ModuleOp) or str(module_or_path).endswith(".mlir"):
        module = load_module(module_or_path)
    else:
        module = compile(module_or_path, input_shapes=shapes, notes=options.pop("notes", None))
    return run_module(module, inputs, check_types=options.pop("check_types", True))


def run_binary(path: str, inputs, **options):
    """Run a ``.bin`` program on the simulated chip (the runtime's ``run_program``); ``options``
    (target, mode, seed, ...) go to it unchanged."""
    try:
        program_module = importlib.import_module(RUNTIME_PROGRAM)
        simulator = importlib.import_module(RUNTIME_SIMULATOR)
    except ModuleNotFoundError as exc:
        if exc.name not in (RUNTIME_PROGRAM, RUNTIME_SIMULATOR):
            raise
        raise NotImplementedError(
            f"running '{os.path.basename(path)}' needs the runtime's simulator ({exc.name}), "
            "which is not available"
        ) from None
    program = program_module.Program.load(path)
    return simulator.run_program(program, inputs, **options)
