"""Shared command-line plumbing for imcc tools: pass-manager flags, input/output, error handling."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable

from imcc.runtime.fileio import InputPathError, OutputPathError, read_file
from imcc.runtime.tools.guard import guarded

from ..ir.diagnostics import FileLineColLoc, IRError
from ..pm import PassManager
from ..pm.instruments import DumpDirInstrument, PrintIRInstrument, TimingInstrument
from ..pm.pipeline import PipelineError
from ..util.atomic import atomic_write_bytes, atomic_write_text
from ..util.memory import freeze_imports


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


class InputError(Exception):
    """A file that cannot be read or is not what it should be (exit code 1)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as ``prog: error: ...`` with exit code 2 (no traceback)."""

    def error(self, message):
        raise UsageError(message)


def add_pass_manager_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("IR printing and pass instrumentation")
    g.add_argument(
        "--print-ir-before",
        metavar="PASSES",
        default="",
        help="print the IR (stderr) before these comma-separated passes",
    )
    g.add_argument(
        "--print-ir-after",
        metavar="PASSES",
        default="",
        help="print the IR (stderr) after these comma-separated passes",
    )
    g.add_argument(
        "--print-ir-before-all", action="store_true", help="print the IR before every pass"
    )
    g.add_argument(
        "--print-ir-after-all", action="store_true", help="print the IR after every pass"
    )
    g.add_argument(
        "--print-ir-after-change",
        action="store_true",
        help="print the IR after every pass that changed it",
    )
    g.add_argument(
        "--print-ir-after-failure",
        action="store_true",
        help="print the IR after a pass that failed",
    )
    g.add_argument(
        "--dump-ir-dir",
        metavar="DIR",
        help="write the IR before the pipeline and after every pass to numbered files in DIR",
    )
    g.add_argument("--time-passes", action="store_true", help="report the wall time of each pass")
    g.add_argument(
        "--print-debuginfo",
        action="store_true",
        help="print op locations (ONNX node names, file positions)",
    )
    g.add_argument(
        "--no-verify-each",
        dest="verify_each",
        action="store_false",
        help="do not verify the IR after every pass",
    )
    # fmt: skip


def _names(text: str) -> set[str]:
    """Pass names of an instrument flag; a name no pass has is bad usage."""
    from ..pm import all_passes

    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(names - {p.name for p in all_passes()})
    if unknown:
        raise UsageError(
            f"no pass is called {', '.join(repr(n) for n in unknown)} (see --list-passes)"
        )
    return names


def build_pass_manager(args, passes) -> tuple[PassManager, TimingInstrument | None]:
    """A PassManager for ``passes`` with the instruments the flags ask for."""
    instruments = []
    before = {"*"} if args.print_ir_before_all else _names(args.print_ir_before)
    after = {"*"} if args.print_ir_after_all else _names(args.print_ir_after)
    if before or after or args.print_ir_after_change or args.print_ir_after_failure:
        instruments.append(
            PrintIRInstrument(
                before=before,
                after=after,
                after_change=args.print_ir_after_change,
                after_failure_=args.print_ir_after_failure,
                debuginfo=args.print_debuginfo,
            )
        )
    if args.dump_ir_dir:
        instruments.append(DumpDirInstrument(args.dump_ir_dir))
    timing = TimingInstrument() if args.time_passes else None
    if timing:
        instruments.append(timing)
    return PassManager(list(passes), instruments, verify_each=args.verify_each), timing


@contextlib.contextmanager
def attach_source(filename: str, text: str):
    """Let IR errors located in ``filename`` show the offending line and a caret."""
    try:
        yield
    except IRError as exc:
        loc = exc.loc
        if exc.source is None and isinstance(loc, FileLineColLoc) and loc.filename == filename:
            exc.source = text
        raise


def read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return read_file(path).decode("utf-8")
    except InputPathError as exc:
        raise InputError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def write_text(path: str | None, text: str) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    try:
        atomic_write_text(path, text)
    except OutputPathError as exc:
        raise InputError(str(exc)) from None


def write_bytes(path: str | None, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, or to stdout's byte stream for None or '-'."""
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        atomic_write_bytes(path, data)
    except OutputPathError as exc:
        raise InputError(str(exc)) from None


def run_tool(prog: str, body: Callable[[], int]) -> int:
    """Run a tool's body, turning user errors into one ``error:`` message and an exit code:
    1 for bad input, 2 for bad usage, 3 for an internal error (a bug in imcc: the runtime's
    guard reports it, as for the runtime's tools)."""
    freeze_imports()  # the tool's imports are done: later collections skip their objects
    return guarded(prog, lambda: _user_errors(prog, body))


def _user_errors(prog: str, body: Callable[[], int]) -> int:
    try:
        return body()
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        print(f"(run '{prog} --help' for usage)", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except IRError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
