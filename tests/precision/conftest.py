"""Shared fixtures of the precision tests: small seeded ONNX models and a pass-pipeline runner.

Helpers are fixtures because tests run with --import-mode=importlib (test files cannot import
each other or a helper module).
"""

from __future__ import annotations

import imcc.compiler.passes  # noqa: F401  (registers the passes)
import numpy as np
import onnx
import pytest
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.compiler.precision.calibration import attach_calibration
from onnx import TensorProto, helper, numpy_helper

import imcc


def _const(name: str, array: np.ndarray):
    return numpy_helper.from_array(np.asarray(array, np.float32), name)


def mlp_bytes(seed: int = 0, ternary_first: bool = False) -> bytes:
    """x[N,16] → MatMul+Add → Relu → MatMul+Add → y[N,5], seeded weights. With
    ``ternary_first`` the first weight is exactly 0.25·{−1, 0, 1} (as if trained ternary)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(16, 12)) / 4
    if ternary_first:
        w1 = 0.25 * rng.integers(-1, 2, size=(16, 12))
    inits = [
        _const("w1", w1),
        _const("b1", rng.normal(size=12) / 10),
        _const("w2", rng.normal(size=(12, 5)) / 3),
        _const("b2", rng.normal(size=5) / 10),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"], name="fc2"),
        helper.make_node("Add", ["h3", "b2"], ["y"], name="fc2_bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def cnn_bytes(seed: int = 0) -> bytes:
    """x[N,2,6,6] → Conv 3x3 (pad 1) → Relu → Conv 1x1 → Flatten → Gemm → y[N,4]."""
    rng = np.random.default_rng(seed)
    inits = [
        _const("k1", rng.normal(size=(6, 2, 3, 3)) / 3),
        _const("c1", rng.normal(size=6) / 10),
        _const("k2", rng.normal(size=(3, 6, 1, 1)) / 2),
        _const("g", rng.normal(size=(4, 108)) / 8),
        _const("gb", rng.normal(size=4) / 10),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "k1", "c1"], ["a"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "k2"], ["b"], name="conv2"),
        helper.make_node("Flatten", ["b"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "g", "gb"], ["y"], name="head", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture
def onnx_bytes():
    """``onnx_bytes(kind, seed=0)``: the serialized small model (``"mlp"`` or ``"cnn"``)."""
    return lambda kind, seed=0: mlp_bytes(seed) if kind == "mlp" else cnn_bytes(seed)


@pytest.fixture
def build():
    """``build(kind, batch, seed=0, **kw)`` → a fresh onnx-level module of a small model."""

    def make(kind: str, batch: int, seed: int = 0, **kw):
        data = mlp_bytes(seed, **kw) if kind == "mlp" else cnn_bytes(seed)
        shape = (batch, 16) if kind == "mlp" else (batch, 2, 6, 6)
        return imcc.compile(data, emit="onnx", input_shapes={"x": shape}, notes=lambda m: None)

    return make


@pytest.fixture
def calib():
    """``calib(kind, n, seed=1)`` → seeded calibration inputs {"x": array} for a small model."""

    def make(kind: str, n: int, seed: int = 1) -> dict:
        rng = np.random.default_rng(seed)
        shape = (n, 16) if kind == "mlp" else (n, 2, 6, 6)
        return {"x": np.abs(rng.normal(size=shape)).astype(np.float32)}

    return make


@pytest.fixture
def run_pipeline():
    """``run_pipeline(module, "p1,p2", calibration=None)`` runs passes (verifying after each)."""

    def run(module, pipeline: str, calibration=None):
        if calibration is not None:
            attach_calibration(module, calibration)
        PassManager(parse_pipeline(pipeline)).run(module)
        return module

    return run


@pytest.fixture(scope="session")
def digits():
    """The fixed digits split (train/calib/test) the bundled CNNs were trained on."""
    pytest.importorskip("sklearn", reason="the digits data ships with scikit-learn")
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    from models.cnn.digits_data import load_split

    return load_split()
