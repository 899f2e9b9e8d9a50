"""imcc-run: run a compiled module (IR text), an ONNX model or a program binary on inputs.

    imcc-run model.mlir --input input=x.npy --output-dir out/
    imcc-run model.onnx --input x.npy
    imcc-run prog.bin ...            (handed to the runtime's runner, imcc.runtime.tools.run)

Inputs are ``.npy``, ``.npz`` (every array in it, by its key) or ONNX ``TensorProto`` ``.pb`` files,
given by name (``NAME=FILE``) or in the model's input order (``FILE``), read by the runtime's loader
(`imcc.runtime.inputs`, whose docstring has the rules) as for binaries. They are checked against the
model's inputs (names, element types, static dimensions) before anything runs. Outputs are written to
``DIR/<name>.npy``, all of them or none; without ``--output-dir`` a summary is printed.
"""

from __future__ import annotations

import importlib
import io
import os
import sys

import numpy as np

from imcc.runtime.fileio import InputPathError, OutputPathError, output_file_names, write_files
from imcc.runtime.inputs import InputFileError, assign_inputs, read_inputs

PROG = "imcc-run"

# Flags that only make sense for the runtime's runner (target description queries).
_RUNTIME_ONLY_FLAGS = ("--list-targets", "--describe-target")


def make_parser():
    from imcc.compiler.tools.common import ArgumentParser

    p = ArgumentParser(
        prog=PROG,
        description="Run an imcc module, an ONNX model or a program binary.",
        epilog="A .bin program goes to the simulated chip's runner; 'imcc-run PROG.bin --help' "
        "lists its options (targets, modes, reports).",
    )
    p.add_argument("file", help="the program: .mlir (IR text), .onnx / .onnxtxt (a model) or .bin")
    p.add_argument(
        "--input",
        metavar="[NAME=]FILE",
        action="append",
        default=[],
        help="an input: .npy, .npz or ONNX TensorProto .pb, by name or in input order (repeatable)",
    )
    p.add_argument("--output-dir", metavar="DIR", help="write each output to DIR/<name>.npy")
    p.add_argument(
        "--no-check-types",
        dest="check_types",
        action="store_false",
        help="do not compare every intermediate array with its IR type",
    )
    return p  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    binary = next((a for a in argv if not a.startswith("-") and a.endswith(".bin")), None)
    if binary is not None or any(a in _RUNTIME_ONLY_FLAGS for a in argv):
        return _run_binary(argv)
    from imcc.compiler.tools.common import run_tool

    return run_tool(PROG, lambda: _body(argv))


def _run_binary(argv: list[str]) -> int:
    """Hand ``.bin`` programs to the runtime's runner, which owns their format."""
    from imcc.api import RUNTIME_RUNNER

    try:
        runner = importlib.import_module(RUNTIME_RUNNER)
    except ModuleNotFoundError as exc:
        if exc.name != RUNTIME_RUNNER:
            raise
        print(
            f"{PROG}: error: running program binaries needs the runtime's runner ({RUNTIME_RUNNER}), "
            "which is not available yet",
            file=sys.stderr,
        )
        return 2
    return runner.main(argv)


def _body(argv: list[str]) -> int:
    """Run an IR file or a model; input file problems become InputError (exit 1)."""
    from imcc.compiler.tools.common import InputError

    try:
        return _run(argv)
    except (InputFileError, InputPathError) as exc:
        raise InputError(str(exc)) from None


def _run(argv: list[str]) -> int:
    from imcc.api import load_module
    from imcc.compiler.frontend.errors import InputShapeError, UnsupportedError
    from imcc.compiler.interp.interpreter import (
        InputMismatchError,
        Interpreter,
        arg_names,
        bind_inputs,
        main_function,
    )
    from imcc.compiler.ir.verifier import verify
    from imcc.compiler.tools.common import InputError, UsageError

    args = make_parser().parse_args(argv)
    if args.output_dir is not None and os.path.exists(args.output_dir):
        if not os.path.isdir(args.output_dir):
            raise UsageError(f"--output-dir {args.output_dir}: exists and is not a folder")
    if not os.path.exists(args.file):
        raise InputError(f"{args.file}: no such file")
    if not os.path.isfile(args.file):
        raise InputError(f"{args.file}: not a regular file (a folder, device, FIFO or socket)")
    named, unnamed = read_inputs(args.input)
    shapes = {name: array.shape for name, array in named.items()}
    try:
        module = load_module(args.file, shapes if not args.file.endswith(".mlir") else None)
    except (UnsupportedError, InputShapeError) as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    verify(module)
    if args.file.endswith((".onnx", ".onnxtxt")):
        from imcc.compiler.pipelines import pipeline_to
        from imcc.compiler.pm import PassManager, parse_pipeline

        PassManager(parse_pipeline(pipeline_to("onnx"))).run(module)
    func = main_function(module)
    names = arg_names(func)
    inputs = check_input_names(names, assign_inputs(names, named, unnamed, owner="model"))
    try:
        bind_inputs(func, inputs)  # every check before anything runs
        result = Interpreter(module, check_types=args.check_types).run(inputs)
    except InputMismatchError as exc:
        raise InputError(exc.message) from None
    if args.output_dir is None:
        for name, array in result.outputs.items():
            print(f"{name}: {array.dtype} {list(array.shape)}{_stats(array)}")
        return 0
    try:
        write_outputs(args.output_dir, result.outputs)
    except (OSError, OutputPathError) as exc:
        raise InputError(f"cannot write outputs: {exc}") from None
    return 0


def check_input_names(names: list[str], inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` in the model's input order; unknown or missing names are an InputError."""
    from imcc.compiler.tools.common import InputError

    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise InputError(f"unknown input(s) {unknown}; the model's inputs: {names}")
    missing = [n for n in names if n not in inputs]
    if missing:
        raise InputError(f"missing input(s) {missing}")
    return {n: inputs[n] for n in names}


def write_outputs(folder: str, outputs: dict[str, np.ndarray]) -> list[str]:
    """Write every output to ``folder`` (created if missing), all or nothing, by the output rule
    of ``imcc.runtime.fileio``."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f) for f in output_file_names(list(outputs))]
    data = {}
    for array, path in zip(outputs.values(), paths):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        data[path] = buffer.getvalue()
    write_files(data)
    return paths


def _stats(array: np.ndarray) -> str:
    if array.size == 0 or not np.issubdtype(array.dtype, np.number):
        return ""
    a = array.astype(np.float64)
    return f" min={a.min():.6g} max={a.max():.6g} mean={a.mean():.6g}"


if __name__ == "__main__":
    sys.exit(main())
