"""imcc writes program binaries by default, never IR text under a binary's name, never a binary
to a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from imcc.runtime.isa.program import Program

MODEL = Path(__file__).resolve().parents[2] / "models" / "digits" / "digits_cnn.onnx"
DRIVER = [sys.executable, "-m", "imcc.compiler.tools.driver"]


def _imcc(*argv, **kw):
    return subprocess.run([*DRIVER, *map(str, argv)], capture_output=True, timeout=300, **kw)


def test_default_output_is_a_program_binary(tmp_path):
    out = tmp_path / "prog.bin"
    proc = _imcc(MODEL, "-o", out, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "no calibration data given" in proc.stderr  # the default precision quantizes
    program = Program.load(out)
    assert any(ins.mnemonic == "xb.mvm" for ins in program.instrs)


def test_ir_text_is_never_written_under_a_binary_name(tmp_path):
    out = tmp_path / "prog.bin"
    proc = _imcc(MODEL, "--emit=onnx", "-o", out, text=True)
    assert proc.returncode == 2 and "a program binary is --emit=bin" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_binary_goes_to_a_pipe_but_never_to_a_terminal():
    piped = _imcc(MODEL, "--precision", "fp32")
    assert piped.returncode == 0 and piped.stdout.startswith(b"IMCC")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*DRIVER, str(MODEL), "--precision", "fp32"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=300,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert b"refusing to write a binary program to a terminal" in proc.stderr
