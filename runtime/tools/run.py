"""``imcc-run``: execute a prog.bin on the simulated chip and report time, energy and area.

    imcc-run prog.bin --input x=x.npy --output-dir out --report
    imcc-run prog.bin --input batch.npz --mode noisy --seed 3 --report-json r.json --trace t.json
    imcc-run prog.bin --input x.pb --set arrays.fat.addition=parapim --report
    imcc-run --list-targets

Inputs are ``NAME=FILE`` or ``FILE`` (.npy, .npz with one entry per input name, or an ONNX
TensorProto .pb), read by `imcc.runtime.inputs` under the same rules as the inputs of IR files;
unnamed files fill the program's inputs in order. Everything is validated before
the first instruction runs; outputs (one NAME.npy per program output, reports, trace, plots) are
written only after a successful run, each atomically, all or nothing. A user error prints one
``error:`` line on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..fileio import InputPathError, OutputPathError, output_file_names, read_file, write_files
from ..inputs import InputFileError, load_inputs
from ..isa.errors import BinaryFormatError
from ..isa.program import Program
from ..sim.machine.machine import MODES
from ..sim.present import plot
from ..sim.present.trace import trace_json
from ..sim.runner import run_program
from ..sim.validate import RunError, prepare
from ..targets import TargetError, format_target_list, load_target
from .guard import guarded


class UserError(Exception):
    """Anything the user can fix; printed as one ``error:`` line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 1, like every other user error
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of imcc-run."""
    p = _Parser(
        prog="imcc-run", description="Run an imcc program (prog.bin) on the simulated chip."
    )
    p.add_argument("program", nargs="?", help="the prog.bin to run")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="an input: .npy, .npz (entries by input name) or ONNX TensorProto .pb",
    )
    p.add_argument("--output-dir", "-o", metavar="DIR", help="write NAME.npy per program output")
    p.add_argument(
        "--target", metavar="NAME|FILE", help="target preset or .toml (default: the binary's)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a target parameter, e.g. arrays.fat.addition=parapim",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default="adc",
        help="ideal (exact ADC), adc (target ADC bits, default), noisy, drift",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noisy and drift modes")
    p.add_argument(
        "--drift-time", type=float, metavar="SECONDS", help="time since programming (drift mode)"
    )
    p.add_argument("--report", action="store_true", help="print the report on stdout")
    p.add_argument("--report-json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--trace", metavar="FILE.json", help="write a Chrome/Perfetto trace")
    p.add_argument(
        "--plot",
        metavar="DIR",
        help="write PNG charts: layers.png, units.png, arrays.png (needs matplotlib: imcc[plot])",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("--list-targets", action="store_true", help="list the target presets and exit")
    p.add_argument("--describe-target", metavar="NAME|FILE", help="print every parameter and exit")
    return p


def main(argv=None) -> int:
    """Console entry point; returns the exit status."""
    return guarded("imcc-run", lambda: _main(argv))


def _main(argv=None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help
            return int(done.code or 0)
        if args.list_targets:
            print(format_target_list())
            return 0
        if args.describe_target:
            print(load_target(args.describe_target).describe())
            return 0
        return run_binary(args)
    except (UserError, InputFileError, RunError, TargetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def run_binary(args: argparse.Namespace) -> int:
    """Run the prog.bin named by parsed ``args``; raises UserError/RunError on user errors."""
    if not args.program:
        raise UserError("no program given (imcc-run PROG.bin ...; --help for usage)")
    program = _load_program(args.program)
    overrides = _parse_overrides(args.overrides)
    names = [t.name for t in program.tensors if t.role == "input"]
    inputs = load_inputs(args.input, names, owner="program")
    _check_destinations(args)
    # everything the run needs is checked here, before any instruction executes
    prepare(program, inputs, args.target, overrides, args.mode, args.drift_time, args.seed)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    bar = _ProgressBar() if show else None
    result = run_program(
        program, inputs, args.target, args.mode, args.seed, args.drift_time, overrides, progress=bar
    )
    if bar is not None:
        bar.close()
    files = _collect_outputs(args, program, result)
    write_all_or_nothing(files)
    if args.report:
        sys.stdout.write(result.report.to_text())
    return 0


# --- loading --------------------------------------------------------------------------------------


def _load_program(path: str) -> Program:
    try:
        data = read_file(path)
    except InputPathError as err:
        raise UserError(str(err)) from None
    try:
        return Program.from_bytes(data)
    except BinaryFormatError as err:
        raise UserError(f"{path}: {err}") from None


def _parse_overrides(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


# --- writing --------------------------------------------------------------------------------------


def _check_destinations(args) -> None:
    for opt, path in (("--report-json", args.report_json), ("--trace", args.trace)):
        if path and not Path(path).resolve().parent.is_dir():
            raise UserError(f"{opt} {path}: the folder does not exist")
        if path and Path(path).is_dir():
            raise UserError(f"{opt} {path}: is a folder")
    for opt, folder in (("--output-dir", args.output_dir), ("--plot", args.plot)):
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise UserError(f"{opt} {folder}: exists and is not a folder")
    if args.plot:
        try:
            plot.require_matplotlib()  # before the run, not after it
        except plot.PlotUnavailable as err:
            raise UserError(str(err)) from None


def _collect_outputs(args, program, result) -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    if args.output_dir:
        # files named after the model's outputs (the binary's meta maps its tensor names back)
        names = json.loads(program.meta.get("outputs", "{}") or "{}")
        model_names = [names.get(t, t) for t in result.outputs]
        for fname, value in zip(output_file_names(model_names), result.outputs.values()):
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=False)
            files[Path(args.output_dir) / fname] = buf.getvalue()
    if args.report_json:
        files[Path(args.report_json)] = result.report.to_json().encode()
    if args.trace:
        files[Path(args.trace)] = trace_json(result.target, program, result.records).encode()
    if args.plot:  # matplotlib was checked before the run (`_check_destinations`)
        for fname, png in plot.render(result, program).items():
            files[Path(args.plot) / fname] = png
    return files


def write_all_or_nothing(files: dict[Path, bytes]) -> None:
    """Write every file (folders created), all or nothing, by the output rule of ``fileio``."""
    try:
        for path in files:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_files(files)
    except (OSError, OutputPathError) as err:
        raise UserError(f"cannot write outputs: {err}") from None


class _ProgressBar:
    """A one-line progress bar on stderr, shown once a run has taken half a second."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.t0 < 0.5:
            return
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} instructions")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
