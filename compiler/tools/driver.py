"""imcc: the compiler driver. ``imcc model.onnx [-o OUT] [--emit=LEVEL]``.

It imports the model (ONNX, ONNX text ``.onnxtxt``, or IR text ``.mlir``), runs the pipeline of every
level up to ``--emit`` (see compiler/pipelines.py) and writes the result. ``--list-ops`` prints every
supported ONNX op with its placement; ``--coverage`` surveys a model's ops. Exit codes: 0 success,
1 bad input (unreadable or invalid model), 2 bad usage or a valid model using something imcc does
not support, 3 an internal error.
"""

from __future__ import annotations

import re
import sys
import time

from imcc.runtime.isa.disasm import disassemble

from .. import dialects  # noqa: F401  (registers the core dialects)
from ..backend.emit import emit_program
from ..backend.target import module_target, set_target, target_name
from ..dialects import onnx as onnx_dialect
from ..frontend.coverage import coverage, format_coverage
from ..frontend.errors import InputShapeError, UnsupportedError
from ..frontend.importer import import_loaded, stderr_notes
from ..frontend.loader import read_model
from ..frontend.placement import describe_table
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import FileLineColLoc, IRError
from ..ir.printer import print_ir
from ..ir.verifier import verify
from ..pipelines import DEFAULT_LEVEL, IR_LEVELS, LEVELS, level, pipeline_to
from ..pm.pass_base import describe_passes
from ..pm.pipeline import parse_pipeline
from . import precision_flags
from .common import (
    ArgumentParser,
    UsageError,
    add_pass_manager_flags,
    build_pass_manager,
    read_text,
    run_tool,
    write_bytes,
    write_text,
)

PROG = "imcc"

_DIMS_RE = re.compile(r"(\d+(x\d+)*)?")


def make_parser() -> ArgumentParser:
    levels = "; ".join(f"{lv.name}: {lv.summary}" for lv in LEVELS)
    p = ArgumentParser(
        prog=PROG,
        description="Compile an ONNX model for an in-memory-computing accelerator.",
        epilog=f"Levels for --emit: {levels}. Design-space sweeps: imcc sweep --help.",
    )
    p.add_argument(
        "input", nargs="?", help="the model: .onnx, .onnxtxt (ONNX text) or .mlir (IR text)"
    )
    p.add_argument("-o", dest="output", metavar="FILE", help="output file (default: stdout)")
    p.add_argument(
        "--emit",
        metavar="LEVEL",
        default=None,
        help=f"stop at this level (default: {DEFAULT_LEVEL})",
    )
    p.add_argument(
        "--target",
        metavar="NAME|FILE.toml",
        default=None,
        help="the chip to compile for: a preset (see --list-targets) or a target file "
        "(default: cluster)",
    )
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override a target parameter, e.g. arrays.ima.count=256 (repeatable; imcc-run "
        "needs the same --set to run the program when it changes the architecture)",
    )
    p.add_argument(
        "--input-shape",
        metavar="NAME=DIMS",
        action="append",
        default=[],
        help="pin an input's shape, e.g. input=1x3x224x224 (repeatable)",
    )
    p.add_argument(
        "-p",
        "--pass-pipeline",
        metavar="PIPELINE",
        default=None,
        help="run this pipeline instead of the level's ('' runs none: the imported IR)",
    )
    p.add_argument(
        "--list-ops",
        action="store_true",
        help="list every supported ONNX op with where it runs, and exit",
    )
    p.add_argument(
        "--list-passes", action="store_true", help="list every pass with its options, and exit"
    )
    p.add_argument(
        "--list-targets", action="store_true", help="list the simulated target presets, and exit"
    )
    p.add_argument(
        "--coverage",
        action="store_true",
        help="list the model's ops with counts and placement, and the unsupported ones "
        "(exit code 2 if there are any)",
    )
    p.add_argument(
        "--elide-resources",
        action="store_true",
        help="leave large constants' bytes out of the IR text (for reading)",
    )
    precision_flags.add_precision_flags(p)
    add_pass_manager_flags(p)
    return p  # fmt: skip


def parse_input_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    """``["input=1x3x224x224"]`` -> ``{"input": (1, 3, 224, 224)}``; UsageError when malformed."""
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, eq, dims = item.rpartition("=")
        if not eq or not name:
            raise UsageError(f"--input-shape '{item}' must look like NAME=1x3x224x224")
        if not _DIMS_RE.fullmatch(dims):
            raise UsageError(
                f"--input-shape '{item}': dimensions must be non-negative integers joined by 'x'"
            )
        if name in shapes:
            raise UsageError(f"--input-shape gives '{name}' twice")
        shapes[name] = tuple(int(d) for d in dims.split("x")) if dims else ()
        if 0 in shapes[name]:
            raise UsageError(f"--input-shape '{item}': a dimension of 0 leaves nothing to compile")
    return shapes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:  # `imcc sweep SWEEP.toml`: a model file named so is ./sweep
        from .sweep import main as sweep_main

        return sweep_main(argv[1:])

    def body() -> int:
        args = make_parser().parse_args(argv)
        if args.list_ops:
            sys.stdout.write(describe_table(onnx_dialect.SUPPORTED_OP_TYPES))
            return 0
        if args.list_passes:
            print("Available passes:")
            print(describe_passes())
            return 0
        if args.list_targets:
            from imcc.runtime.targets import format_target_list

            sys.stdout.write(format_target_list())
            return 0
        if args.input is None:
            raise UsageError("no input model given")
        shapes = parse_input_shapes(args.input_shape)
        try:
            if args.coverage:
                return _coverage(args, shapes)
            return _compile(args, shapes)
        except (UnsupportedError, InputShapeError) as exc:
            print(exc.render(), file=sys.stderr)
            return 2

    return run_tool(PROG, body)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["arrays.ima.count=256"]`` -> ``{"arrays.ima.count": "256"}``; UsageError when malformed."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise UsageError(f"--set '{item}' must look like KEY=VALUE")
        out[key] = value
    return out


def _level(args):
    if args.emit is None and args.output and args.output.endswith(".mlir"):
        raise UsageError(f"-o {args.output}: IR text needs a level: --emit " + "|".join(IR_LEVELS))
    try:
        return level(args.emit or DEFAULT_LEVEL)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def _check_target(spec: str) -> None:
    """A --target that names no preset or no loadable TOML file is bad usage (exit code 2)."""
    from imcc.runtime.targets import TargetError, load_target

    try:
        load_target(spec)
    except (TargetError, OSError) as exc:
        raise UsageError(f"--target: {exc}") from None


def _load(args, shapes) -> tuple[ModuleOp, str | None, float]:
    """The input as a module, its text (for IR input), and the seconds reading it took."""
    start = time.perf_counter()
    text = None
    if args.input.endswith(".mlir"):
        if shapes:
            raise UsageError("--input-shape applies to ONNX models, not to IR text")
        from ..ir.parser import parse_module  # lark only when the input is IR text

        text = read_text(args.input)
        module = parse_module(text, args.input)
    else:
        module = import_loaded(read_model(args.input), shapes, stderr_notes)
    return module, text, time.perf_counter() - start


def _compile(args, shapes) -> int:
    lv = _level(args)
    if args.output and args.output.endswith(".bin") and lv.name != "bin":
        # Never leave text behind under a name that promises a program binary.
        raise UsageError(
            f"-o {args.output}: a program binary is --emit=bin; write the --emit={lv.name} "
            "text to another file name"
        )
    if lv.name == "bin" and args.output in (None, "-") and sys.stdout.isatty():
        raise UsageError("refusing to write a binary program to a terminal; give -o prog.bin")
    try:
        overrides = precision_flags.level_overrides(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    passes = parse_pipeline(
        pipeline_to(lv.name, overrides) if args.pass_pipeline is None else args.pass_pipeline
    )
    if args.target is not None:
        _check_target(args.target)
    pm, timing = build_pass_manager(args, passes)  # instrument flags checked before importing
    module, text, import_seconds = _load(args, shapes)
    if args.target is not None or args.overrides:
        set_target(module, args.target or target_name(module), parse_overrides(args.overrides))
    try:
        verify(module)
        module_target(module)  # a bad --target is an error before any pass runs
        precision_flags.prepare(args, module)
        pm.run(module)
    except IRError as exc:
        # Errors located in the input file show its offending line.
        loc = exc.loc
        if text is not None and isinstance(loc, FileLineColLoc) and loc.filename == args.input:
            exc.source = text
        raise
    precision_flags.finish(args, module)
    if timing:
        sys.stderr.write(f"  import: {import_seconds:.4f} s\n" + timing.report())
    if lv.name in IR_LEVELS:
        text = print_ir(
            module, debuginfo=args.print_debuginfo, elide_resources=args.elide_resources
        )
        write_text(args.output, text)
        return 0
    program = emit_program(module)
    if lv.name == "asm":
        write_text(args.output, disassemble(program))
        return 0
    write_bytes(args.output, program.to_bytes())
    return 0


def _coverage(args, shapes) -> int:
    if args.input.endswith(".mlir"):
        raise UsageError("--coverage surveys ONNX models, not IR text")
    report = coverage(read_model(args.input), shapes, stderr_notes)
    write_text(args.output, format_coverage(report))
    return 2 if report.unsupported else 0


if __name__ == "__main__":
    sys.exit(main())
