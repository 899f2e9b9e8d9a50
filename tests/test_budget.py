"""The size budget (imcc.runtime.budget): a size declared in a small file — a constant's tensor
type, a target's memory or array geometry — is refused before anything allocates it, as one error
naming what, how large, and the limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CNN = REPO / "models" / "digits" / "digits_cnn.onnx"
ENV = {**os.environ, "IMCC_MAX_BYTES": "1000000000"}
BIG = """"func.func"() ({
^bb0(%x: tensor<2xf32>):
  %c = "onnx.Constant"() {value = dense<1.0> : tensor<100000x100000xf32>} : () -> tensor<100000x100000xf32>
  "func.return"(%x) : (tensor<2xf32>) -> ()
}) {function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "main"} : () -> ()
"""


def _tool(module, *args):
    cmd = [sys.executable, "-m", module, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc, errors


@pytest.mark.parametrize("tool", ["imcc.compiler.tools.opt", "imcc.tools.run"])
def test_a_constant_larger_than_the_budget_is_refused_where_it_is_declared(tmp_path, tool):
    path = tmp_path / "big.mlir"
    path.write_text(BIG)
    proc, errors = _tool(tool, path)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"{path}:3:")
    assert "40,000,000,000 bytes, more than the limit of 1,000,000,000 bytes" in errors[0]


@pytest.mark.parametrize("override", ["memory.L2.size=1e15 B", "arrays.ima.rows=10000000"])
def test_a_target_larger_than_the_budget_is_refused_before_allocating(tmp_path, override):
    out = tmp_path / "p.bin"
    proc, errors = _tool(
        "imcc.compiler.tools.driver", CNN, "--precision", "fp32", "--set", override, "-o", out
    )
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "more than the limit of 1,000,000,000 bytes" in errors[0] and not out.exists()
    program = tmp_path / "ok.bin"
    proc, _ = _tool("imcc.compiler.tools.driver", CNN, "--precision", "fp32", "-o", program)
    assert proc.returncode == 0, proc.stderr
    proc, errors = _tool("imcc.tools.run", program, "--set", override)
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "more than the limit of 1,000,000,000 bytes" in errors[0]


def _huge_constant_of_shape(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    shape = helper.make_tensor("s", TensorProto.INT64, [2], [1_000_000, 1_000_000])
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=shape),
        helper.make_node(
            "ConstantOfShape", ["shape"], ["c"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("ReduceSum", ["c"], ["r"], keepdims=0),
        helper.make_node("Add", ["x", "r"], ["y"]),
    ]  # fmt: skip
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, []) for n in ("x", "y")]
    graph = helper.make_graph(nodes, "g", io[:1], io[1:])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_a_tiny_model_declaring_a_huge_tensor_neither_folds_nor_runs_it(tmp_path):
    import numpy as np

    model = tmp_path / "m.onnx"
    _huge_constant_of_shape(model)
    proc, _ = _tool(
        "imcc.compiler.tools.driver", model, "--emit", "onnx", "-o", tmp_path / "m.mlir"
    )
    assert proc.returncode == 0, proc.stderr  # left unfolded: folding would need 4 TB
    np.save(tmp_path / "x.npy", np.float32(1))
    proc, errors = _tool("imcc.tools.run", model, "--input", f"x={tmp_path / 'x.npy'}")
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    assert "ConstantOfShape: the result would take 4,000,000,000,000 bytes" in errors[0]


def test_odd_element_types_are_one_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", 999, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    onnx.save(helper.make_model(graph), tmp_path / "t.onnx")
    proc, errors = _tool("imcc.compiler.tools.driver", tmp_path / "t.onnx", "--emit", "onnx")
    assert proc.returncode == 1 and len(errors) == 1, proc.stderr
    (tmp_path / "i0.mlir").write_text(BIG.replace("tensor<2xf32>", "tensor<2xi0>"))
    proc, errors = _tool("imcc.compiler.tools.opt", tmp_path / "i0.mlir")
    assert proc.returncode == 1 and len(errors) == 1 and "width must be 1 to 64" in errors[0]
