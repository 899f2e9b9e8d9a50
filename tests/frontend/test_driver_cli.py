"""The imcc driver: levels, --input-shape, --list-ops, --coverage, outputs and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from imcc.compiler.dialects.onnx import SUPPORTED_OP_TYPES
from imcc.compiler.frontend.placement import PLACEMENT_TABLE
from imcc.compiler.ir import parse_module, verify
from imcc.compiler.tools.driver import main
from imcc.runtime.isa.program import Program
from imcc.runtime.sim.runner import run_program
from onnx import helper


def _save(model: onnx.ModelProto, folder, name="model.onnx") -> str:
    path = os.path.join(str(folder), name)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_emit_is_a_program_binary(tmp_path, capsys, onnx_models):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    out = tmp_path / "prog.bin"
    code, _, err = _run(capsys, path, "--precision", "fp32", "-o", str(out))
    assert code == 0, err
    program = Program.load(out)
    assert [t.name for t in program.tensors if t.role == "input"] == ["x"]
    x = np.array([[-5.0, 5.0, 0.5]], np.float32)
    y = run_program(program, {"x": x}).outputs["y"]
    np.testing.assert_array_equal(y, np.maximum(x + [1.0, -2.0, 3.0], 0))


def test_emit_levels(tmp_path, capsys, onnx_models):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    for lv, marker in (("onnx", '"onnx.Relu"'), ("imc", '"imc.kernel"'), ("isa", '"isa.cl.call"')):
        code, out, err = _run(capsys, path, "--emit", lv, "--precision", "fp32")
        assert code == 0 and marker in out, err
        verify(parse_module(out))
    code, out, _ = _run(capsys, path, "--emit=asm", "--precision", "fp32")
    assert code == 0 and out.startswith(".target cluster") and "halt" in out
    code, _, err = _run(capsys, path, "--emit=llvm")
    assert code == 2 and "unknown level 'llvm'" in err
    code, _, err = _run(capsys, path, "-o", str(tmp_path / "x.mlir"))
    assert code == 2 and "IR text needs a level: --emit onnx|quant|imc|isa" in err
    code, _, err = _run(capsys, path, "--emit=onnx", "-o", str(tmp_path / "x.bin"))
    assert code == 2 and "a program binary is --emit=bin" in err
    assert not (tmp_path / "x.bin").exists() and not (tmp_path / "x.mlir").exists()


def test_output_file_and_pipeline_override(tmp_path, capsys, onnx_models):
    model = onnx_models.add_relu_model()
    model.graph.node.insert(1, helper.make_node("Identity", ["t"], ["t2"]))
    model.graph.node[2].input[0] = "t2"
    path = _save(model, tmp_path)
    out_path = tmp_path / "out.mlir"
    assert main([path, "--emit=onnx", "-o", str(out_path)]) == 0
    assert "onnx.Identity" not in out_path.read_text()
    code, out, _ = _run(capsys, path, "--emit=onnx", "--pass-pipeline", "")
    assert code == 0 and "onnx.Identity" in out
    code, _, err = _run(capsys, path, "--pass-pipeline", "canonicalise")
    assert code == 2 and "unknown pass 'canonicalise'; did you mean 'canonicalize'?" in err


def test_mlir_input_runs_the_level_pipeline(tmp_path, capsys, onnx_models):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    code, raw, _ = _run(capsys, path, "--emit=onnx", "--pass-pipeline", "", "--print-debuginfo")
    mlir = tmp_path / "raw.mlir"
    mlir.write_text(raw)
    code, out, _ = _run(capsys, str(mlir), "--emit=onnx", "--print-debuginfo")
    assert code == 0 and 'loc("add0")' in out


def test_print_debuginfo_and_time_passes(tmp_path, capsys, onnx_models):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    code, out, err = _run(capsys, path, "--emit=onnx", "--print-debuginfo", "--time-passes")
    assert code == 0
    assert 'loc("add0")' in out and 'loc("Relu_1")' in out
    assert "import:" in err and "canonicalize" in err


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("x=1xA", "dimensions must be non-negative integers"),
        ("=1x3", "must look like NAME=1x3x224x224"),
        ("x", "must look like NAME=1x3x224x224"),
        ("nope=1x3", "unknown input(s) ['nope']"),
        ("x=1x3x5", "has rank 2"),
    ],
)
def test_bad_input_shape_is_a_usage_error(tmp_path, capsys, onnx_models, shape, message):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    code, out, err = _run(capsys, path, "--emit=onnx", "--input-shape", shape)
    assert code == 2 and message in err and out == ""


def test_input_shape_pins_the_batch(tmp_path, capsys, onnx_models):
    path = _save(onnx_models.add_relu_model(), tmp_path)
    code, out, err = _run(capsys, path, "--emit=onnx", "--input-shape", "x=8x3")
    assert code == 0 and "tensor<8x3xf32>" in out and "batch size 1" not in err
    code, _, err = _run(
        capsys, path, "--emit=onnx", "--input-shape", "x=8x3", "--input-shape", "x=2x3"
    )
    assert code == 2 and "gives 'x' twice" in err


def test_list_ops_lists_every_op_with_its_placement(capsys):
    code, out, _ = _run(capsys, "--list-ops")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(SUPPORTED_OP_TYPES)
    assert set(PLACEMENT_TABLE) == set(SUPPORTED_OP_TYPES)
    table = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    assert table["Conv"].startswith("crossbar") and "depthwise: digital unit" in table["Conv"]
    assert table["Shape"] == "compile time"
    assert table["Softmax"] == "cores"


def test_coverage_of_a_supported_model(capsys, onnx_models):
    code, out, _ = _run(
        capsys, os.path.join(onnx_models.repo, "models", "digits", "digits_mbv2.onnx"), "--coverage"
    )
    assert code == 0
    assert "Conv                        17  crossbar: 12, digital unit: 5" in out
    assert "Constant                    24  compile time: 24" in out
    assert "every op is supported" in out


def test_coverage_lists_unsupported_nodes_and_exits_2(tmp_path, capsys, onnx_models):
    model = onnx_models.unsupported_model()
    model.graph.node.append(helper.make_node("Relu", ["y"], ["z"], name="act"))
    model.graph.output[0].name = "z"
    code, out, _ = _run(capsys, _save(model, tmp_path), "--coverage")
    assert code == 2
    assert "Einsum                       1  UNSUPPORTED" in out
    assert "Relu                         1  cores: 1" in out
    assert "Einsum node 'contract' (opset 13)" in out


def _cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "imcc.compiler.tools.driver", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unsupported_op_exits_2_without_traceback(tmp_path, onnx_models):
    path = _save(onnx_models.unsupported_model(), tmp_path)
    proc = _cli(path, "--emit", "onnx", "-o", str(tmp_path / "out.mlir"))
    assert proc.returncode == 2
    assert (
        "model.onnx: error: unsupported ONNX op 'Einsum' (node 'contract', opset 13)" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.mlir").exists()


@pytest.mark.parametrize("content", [b"not a model at all", b"\x08\x07\x12\x04trun", b""])
def test_bad_model_files_exit_1(tmp_path, capsys, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    code, out, err = _run(capsys, str(path), "--emit=onnx")
    assert code == 1 and "bad.onnx: error: not an ONNX model" in err and out == ""


def test_truncated_model_exits_1(tmp_path, capsys, onnx_models):
    data = open(onnx_models.digits, "rb").read()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) - 1000])
    code, _, err = _run(capsys, str(path), "--emit=onnx")
    assert code == 1 and "cut.onnx: error: not an ONNX model" in err


def test_missing_input_is_an_input_error(tmp_path, capsys):
    code, _, err = _run(capsys, str(tmp_path / "absent.onnx"))
    assert code == 1 and "no such file" in err
    code, _, err = _run(capsys)
    assert code == 2 and "no input model given" in err


def test_external_data_outside_the_folder_exits_1(tmp_path, capsys, onnx_models):
    from onnx import TensorProto, numpy_helper

    w = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "../outside.bin"
    model = onnx_models.make_model(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        [("x", onnx_models.F, [4])],
        [("y", onnx_models.F, [4])],
        [w],
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(bytes(16))
    code, out, err = _run(capsys, _save(model, folder), "--emit=onnx")
    assert code == 1 and out == ""
    assert (
        "initializer 'w': external data location '../outside.bin' leaves the model's folder" in err
    )
