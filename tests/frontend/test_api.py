"""The Python facade: imcc.compile and imcc.run."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.compiler.interp.interpreter import InputMismatchError
from imcc.compiler.ir import ModuleOp, print_ir

import imcc


def test_compile_accepts_paths_bytes_and_protos(onnx_models):
    proto = onnx_models.add_relu_model()
    texts = set()
    for model in (proto, proto.SerializeToString()):
        module = imcc.compile(model, emit="onnx", notes=lambda message: None)
        assert isinstance(module, ModuleOp)
        texts.add(print_ir(module))
    assert len(texts) == 1
    module = imcc.compile(onnx_models.digits, emit="onnx", input_shapes={"input": (4, 1, 8, 8)})
    assert "tensor<4x1x8x8xf32>" in print_ir(module, elide_resources=True)


def test_compile_levels_and_pipeline(onnx_models, tmp_path):
    program = imcc.compile(onnx_models.add_relu_model(), precision="fp32", notes=lambda m: None)
    assert program.inputs == ["x"] and program.outputs == ["y"]
    program.save(tmp_path / "p.bin")
    x = np.array([[-5.0, 5.0, 0.5]], np.float32)
    y = imcc.run(imcc.load(tmp_path / "p.bin"), {"x": x})["y"]
    np.testing.assert_array_equal(y, np.maximum(x + [1.0, -2.0, 3.0], 0))
    asm = imcc.compile(onnx_models.add_relu_model(), emit="asm", precision="fp32")
    assert "cl.call" in asm and asm.endswith("halt\n")
    with pytest.raises(KeyError, match="unknown level"):
        imcc.compile(onnx_models.add_relu_model(), emit="llvm")
    raw = imcc.compile(onnx_models.conv_model(), pipeline="", emit="onnx")
    assert "onnx.Conv" in print_ir(raw, elide_resources=True)


def test_compile_reads_ir_text(tmp_path, onnx_models):
    text = print_ir(
        imcc.compile(onnx_models.add_relu_model(), pipeline="", emit="onnx", notes=lambda m: None)
    )
    path = tmp_path / "m.mlir"
    path.write_text(text)
    assert print_ir(imcc.compile(str(path), pipeline="", emit="onnx")) == text


def test_run_returns_outputs_by_name_in_graph_order(onnx_models):
    module = imcc.compile(onnx_models.add_relu_model(), emit="onnx", notes=lambda m: None)
    x = np.array([[-5.0, 5.0, 0.5]], np.float32)
    result = imcc.run(module, {"x": x})
    assert list(result.outputs) == ["y"]
    np.testing.assert_array_equal(result["y"], np.maximum(x + [1.0, -2.0, 3.0], 0))
    np.testing.assert_array_equal(imcc.run(module, [x]).as_list()[0], result["y"])


def test_run_on_a_model_pins_shapes_from_the_inputs(onnx_models):
    x = np.zeros((5, 1, 8, 8), np.float32)
    assert imcc.run(onnx_models.digits, {"input": x}).outputs["logits"].shape == (5, 10)


def test_run_validates_inputs(onnx_models):
    module = imcc.compile(onnx_models.add_relu_model(), emit="onnx", notes=lambda m: None)
    with pytest.raises(InputMismatchError, match="element type float64"):
        imcc.run(module, {"x": np.zeros((1, 3))})
    with pytest.raises(InputMismatchError, match=r"missing \['x'\]"):
        imcc.run(module, {})


def test_run_hands_binaries_to_the_runtime(tmp_path):
    from imcc.runtime.isa.errors import BinaryFormatError

    path = tmp_path / "prog.bin"
    path.write_bytes(b"\x00not a program")
    with pytest.raises(BinaryFormatError):
        imcc.run(str(path), {})


def test_importing_imcc_does_not_load_the_compiler():
    import subprocess
    import sys

    code = "import sys, imcc, imcc.runtime; print(any(m.startswith('imcc.compiler') for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
