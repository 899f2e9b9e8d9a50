"""imcc-opt as a user meets it: exit codes, one error line, no traceback, atomic output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def opt(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "imcc.compiler.tools.opt", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, code, needle",
    [
        ([GOLDEN / "errors/inputs/bad_syntax.mlir"], 1, "error: unexpected"),
        ([GOLDEN / "errors/inputs/unknown_op.mlir"], 1, "unknown operation 'onnx.Frobnicate'"),
        ([GOLDEN / "errors/inputs/bad_return.mlir"], 1, "'func.return' returns"),
        ([GOLDEN / "ir/cse.mlir", "-p", "nope"], 2, "unknown pass 'nope'"),
        ([GOLDEN / "ir/cse.mlir", "-p", "cse{bogus=1}"], 2, "has no option 'bogus'"),
        ([GOLDEN / "ir/cse.mlir", "--no-such-flag"], 2, "unrecognized argument '--no-such-flag'"),
        (["/nonexistent/x.mlir"], 1, "no such file"),
    ],
)
def test_errors(args, code, needle):
    proc = opt(*args)
    assert proc.returncode == code
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_output_file_not_created_on_error(tmp_path):
    out = tmp_path / "out.mlir"
    proc = opt(GOLDEN / "errors/inputs/bad_return.mlir", "-o", out)
    assert proc.returncode == 1 and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_stdin_and_output_file(tmp_path):
    out = tmp_path / "out.mlir"
    proc = opt("-", "--cse", "-o", out, stdin=(GOLDEN / "ir/cse.mlir").read_text())
    assert proc.returncode == 0, proc.stderr
    assert '"test.add"(%0, %0)' in out.read_text()


def test_print_ir_after_all_goes_to_stderr():
    proc = opt(GOLDEN / "ir/cse.mlir", "--cse", "--dce", "--print-ir-after-all", "--time-passes")
    assert proc.returncode == 0
    assert proc.stderr.count("IR Dump After") == 2
    assert "Pass execution timing report" in proc.stderr
    assert proc.stdout.startswith('"builtin.module"')


def test_list_passes():
    proc = opt("--list-passes")
    assert proc.returncode == 0 and "cse" in proc.stdout and "canonicalize" in proc.stdout
