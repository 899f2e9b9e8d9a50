"""Inputs are read one way (imcc.runtime.fileio.read_file): regular files only, size-checked,
never blocking on a FIFO nor reading a device until memory runs out; text is checked as UTF-8;
an array file's header may not declare more data than the file holds."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from numpy.lib import format as npy

REPO = Path(__file__).resolve().parents[1]
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"
TOOLS = {
    "imcc": "imcc.compiler.tools.driver",
    "imcc-opt": "imcc.compiler.tools.opt",
    "imcc-run": "imcc.tools.run",
    "imcc-as": "imcc.runtime.tools.asm",
    "imcc-objdump": "imcc.runtime.tools.objdump",
}


def _tool(name, *args, env=None):
    cmd = [sys.executable, "-m", TOOLS[name], *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, errors


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "model.onnx"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_special_files_are_refused_at_once(tool, special, fifo, tmp_path):
    path = fifo if special == "fifo" else special
    args = (path, "-o", tmp_path / "out") if tool in ("imcc", "imcc-as") else (path,)
    proc, errors = _tool(tool, *args)  # the 60 s timeout would fail a blocked or endless read
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "not a regular file" in errors[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool", ["imcc-run", "imcc-opt", "imcc"])
def test_ir_text_that_is_not_utf8_is_one_error(tool, tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_bytes(b'"func.func"() \xff\xfe')
    proc, errors = _tool(tool, bad)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "not UTF-8 text" in errors[0]


def _npy_header_only(shape) -> bytes:
    f = io.BytesIO()
    npy.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return f.getvalue() + bytes(16)


def test_an_array_header_declaring_more_than_the_file_holds_is_refused(tmp_path):
    huge = tmp_path / "x.npy"
    huge.write_bytes(_npy_header_only((1_000_000, 1_000_000)))
    proc, errors = _tool("imcc-run", CNN, "--input", f"input={huge}")
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "declares 4,000,000,000,000 bytes" in errors[0]
    packed = tmp_path / "x.npz"
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("input.npy", _npy_header_only((1_000_000, 1_000_000)))
    proc, errors = _tool("imcc-run", CNN, "--input", str(packed))
    assert proc.returncode == 1 and len(errors) == 1 and "declares" in errors[0], proc.stderr


def test_the_input_limit_is_named_and_can_be_changed(tmp_path):
    env = {**os.environ, "IMCC_MAX_BYTES": "1000"}
    proc, errors = _tool("imcc", CNN, "--precision", "fp32", "-o", tmp_path / "p.bin", env=env)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "more than the input limit of 1,000 bytes" in errors[0]
    assert "IMCC_MAX_BYTES" in errors[0] and not (tmp_path / "p.bin").exists()


def _model_with(tmp_path, mark: bytes, **kw) -> Path:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="NODEMARK")], "GRAPHMARK",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    model = helper.make_model(graph, producer_name="PRODMARK", **kw)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString().replace(mark, b"\xff" * len(mark)))
    return path


@pytest.mark.parametrize(
    "mark,field",
    [
        (b"NODEMARK", "model.graph.node[0].name"),
        (b"GRAPHMARK", "model.graph.name"),
        (b"PRODMARK", "model.producer_name"),
    ],
)
@pytest.mark.parametrize("flag", ["--coverage", "--emit=onnx"])
def test_onnx_strings_that_are_not_utf8_are_named(tmp_path, mark, field, flag):
    proc, errors = _tool("imcc", _model_with(tmp_path, mark), flag)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert f"{field} is not UTF-8 text" in errors[0]
