"""The one output rule (imcc.runtime.fileio), through the tools: a symbolic link is followed and
stays a link, a device or a FIFO is written through and never replaced, a directory, an empty
path or a missing folder is one clean error with nothing written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"
ASM = REPO / "examples" / "asm" / "mlp2" / "mlp2.s"


def _imcc(*args, tool="imcc.compiler.tools.driver"):
    cmd = [sys.executable, "-m", tool, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _compile(out):
    return _imcc(CNN, "--precision", "fp32", "-o", out)


def _assemble(out):
    return _imcc(ASM, "-o", out, tool="imcc.runtime.tools.asm")


@pytest.mark.parametrize("write", [_compile, _assemble], ids=["imcc", "imcc-as"])
def test_a_link_is_followed_and_stays_a_link(tmp_path, write):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    proc = write(link)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.stat().st_size > 3  # the program, not the old bytes


@pytest.mark.parametrize("write", [_compile, _assemble], ids=["imcc", "imcc-as"])
def test_a_device_is_written_through_not_replaced(write):
    before = os.stat("/dev/null")
    proc = write("/dev/null")
    assert proc.returncode == 0, proc.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_fifo_is_written_through_and_one_nobody_reads_is_refused(tmp_path):
    fifo = tmp_path / "pipe.bin"
    os.mkfifo(fifo)
    got = bytearray()

    def read():
        with open(fifo, "rb") as f:
            got.extend(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    proc = _assemble(fifo)
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and len(got) > 0
    alone = _assemble(fifo)  # no reader: refused at once, not waited for
    assert alone.returncode == 1 and "a FIFO nobody reads" in alone.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize(
    "name,message",
    [("dir", "it is a directory"), ("missing/p.bin", "does not exist"), ("", "empty")],
)
def test_bad_output_paths_are_one_error_and_write_nothing(tmp_path, name, message):
    (tmp_path / "dir").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = _compile(tmp_path / name if name else "")
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode in (1, 2) and len(errors) == 1, proc.stderr
    assert message in errors[0] and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
