"""imcc-run: run a compiled module (IR text), an ONNX model or a program binary on inputs.

    imcc-run model.mlir --input input=x.npy --output-dir out/
    imcc-run model.onnx --input x.npy
    imcc-run prog.bin ...            (handed to the runtime's runner, imcc.runtime.tools.run)

Inputs are ``.npy``, ``.npz`` (every array in it, by its key) or ONNX ``TensorProto`` ``.pb`` files,
given by name (``NAME=FILE``) or in the model's input order (``FILE``). They are checked against the
model's inputs (names, element types, static dimensions) before anything runs. Outputs are written to
``DIR/<name>.npy``, all of them or none; without ``--output-dir`` a summary is printed.
"""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np

from imcc.runtime.fileio import output_file_names, temp_beside

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
    if not os.path.isfile(args.file):
        raise InputError(f"{args.file}: no such file")
    named, positional = read_inputs(args.input)
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
    inputs = combine_inputs(arg_names(func), named, positional)
    try:
        bind_inputs(func, inputs)  # every check before anything runs
        result = Interpreter(module, check_types=args.check_types).run(inputs)
    except InputMismatchError as exc:
        raise InputError(exc.message) from None
    if args.output_dir is None:
        for name, array in result.outputs.items():
            print(f"{name}: {array.dtype} {list(array.shape)}{_stats(array)}")
        return 0
    write_outputs(args.output_dir, result.outputs)
    return 0


def read_inputs(items: list[str]) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Load ``--input`` items into named and positional arrays."""
    from imcc.compiler.tools.common import UsageError

    named: dict[str, np.ndarray] = {}
    positional: list[np.ndarray] = []
    for item in items:
        name, path = _split(item)
        arrays = load_array_file(path)
        if name is not None:
            if len(arrays) != 1:
                raise UsageError(
                    f"--input {item}: {path} holds {len(arrays)} arrays; name only single-array files"
                )
            arrays = {name: next(iter(arrays.values()))}
        for key, array in arrays.items():
            if key is None:
                positional.append(array)
            elif key in named:
                raise UsageError(f"input '{key}' is given twice")
            else:
                named[key] = array
    return named, positional


def _split(item: str) -> tuple[str | None, str]:
    """``NAME=FILE`` or ``FILE`` (a file that exists wins over a split at '=')."""
    if os.path.exists(item) or "=" not in item:
        return None, item
    name, _, path = item.partition("=")
    return name, path


def load_array_file(path: str) -> dict[str | None, np.ndarray]:
    """The arrays of one input file, keyed by name (None: positional). Never unpickles."""
    from imcc.compiler.tools.common import InputError

    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        if path.endswith(".pb"):
            return _load_tensor_proto(path)
        if path.endswith(".npy"):
            return {None: np.load(path, allow_pickle=False)}
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable array file ({exc})") from None
    raise InputError(f"{path}: unknown input format (use .npy, .npz or .pb)")


def _load_tensor_proto(path: str) -> dict[str | None, np.ndarray]:
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    from imcc.compiler.tools.common import InputError

    proto = onnx.TensorProto()
    with open(path, "rb") as f:
        data = f.read()
    try:
        proto.ParseFromString(data)
    except DecodeError as exc:
        raise InputError(f"{path}: not an ONNX TensorProto ({exc})") from None
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        raise InputError(f"{path}: tensors with external data are not supported as inputs")
    try:
        array = numpy_helper.to_array(proto)
    except Exception as exc:  # onnx raises several types for malformed tensors
        raise InputError(f"{path}: malformed TensorProto ({exc})") from None
    return {proto.name or None: array}


def combine_inputs(names: list[str], named: dict, positional: list) -> dict[str, np.ndarray]:
    """Named inputs plus positional ones filling the remaining names in order."""
    from imcc.compiler.tools.common import InputError

    unknown = sorted(set(named) - set(names))
    if unknown:
        raise InputError(f"unknown input(s) {unknown}; the model's inputs: {names}")
    free = [n for n in names if n not in named]
    if len(positional) > len(free):
        raise InputError(
            f"{len(positional)} positional input(s) given, but only {len(free)} input(s) remain: {free}"
        )
    out = dict(named)
    out.update(zip(free, positional))
    missing = [n for n in names if n not in out]
    if missing:
        raise InputError(f"missing input(s) {missing}")
    return {n: out[n] for n in names}


def write_outputs(folder: str, outputs: dict[str, np.ndarray]) -> list[str]:
    """Write every output to ``folder`` atomically and all-or-nothing: all go to temporary files
    first, and only when every one is written are they renamed into place."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f) for f in output_file_names(list(outputs))]
    temps: list[str] = []
    try:
        for array, path in zip(outputs.values(), paths):
            fd, tmp = temp_beside(path)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(array), allow_pickle=False)
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths


def _stats(array: np.ndarray) -> str:
    if array.size == 0 or not np.issubdtype(array.dtype, np.number):
        return ""
    a = array.astype(np.float64)
    return f" min={a.min():.6g} max={a.max():.6g} mean={a.mean():.6g}"


if __name__ == "__main__":
    sys.exit(main())
