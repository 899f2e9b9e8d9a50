"""fold-batchnorm (and fuse-linear) on CNNs: BatchNormalization disappears, results do not change."""

from __future__ import annotations

import numpy as np
import pytest
from _passkit import DIGITS, check_fused_model, op_counts
from onnx import TensorProto, helper, numpy_helper


def _bn_params(rng, name: str, channels: int) -> list:
    """Initializers for one BatchNormalization with non-trivial statistics."""
    values = {
        "scale": rng.uniform(0.5, 2.0, channels),
        "bias": rng.normal(0, 0.5, channels),
        "mean": rng.normal(0, 0.5, channels),
        "var": rng.uniform(0.1, 3.0, channels),
    }
    return [numpy_helper.from_array(v.astype(np.float32), f"{name}.{k}") for k, v in values.items()]


def _bn(name: str, x: str, y: str) -> helper.NodeProto:
    inputs = [x] + [f"{name}.{k}" for k in ("scale", "bias", "mean", "var")]
    return helper.make_node("BatchNormalization", inputs, [y], name=name, epsilon=1e-3)


def conv_bn_net(seed: int = 0):
    """Conv+BN, a grouped bias-free Conv+BN, Gemm+BN, MatMul+BN, and a BN after a Relu (which
    has nothing to fold into and must stay)."""
    rng = np.random.default_rng(seed)

    def w(name, *shape):
        return numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name)

    inits = [w("c1.w", 4, 2, 3, 3), w("c1.b", 4), w("c2.w", 4, 2, 3, 3), w("fc.w", 6, 64), w("fc.c", 6),
             w("mm.w", 6, 5), numpy_helper.from_array(np.array([0, -1], np.int64), "flat")]  # fmt: skip
    for name, channels in (("bn1", 4), ("bn2", 4), ("bn3", 6), ("bn4", 5), ("bn5", 4)):
        inits += _bn_params(rng, name, channels)
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
        _bn("bn1", "c1", "b1"),
        helper.make_node("Relu", ["b1"], ["r1"], name="r1"),
        _bn("bn5", "r1", "b5"),
        helper.make_node(
            "Conv", ["b5", "c2.w"], ["c2"], name="c2", group=2, strides=[2, 2], pads=[1, 1, 1, 1]
        ),
        _bn("bn2", "c2", "b2"),
        helper.make_node("Reshape", ["b2", "flat"], ["f"], name="flatten"),
        helper.make_node(
            "Gemm", ["f", "fc.w", "fc.c"], ["g"], name="fc", transB=1, alpha=0.5, beta=2.0
        ),
        _bn("bn3", "g", "b3"),
        helper.make_node("MatMul", ["b3", "mm.w"], ["m"], name="mm"),
        _bn("bn4", "m", "y"),
    ]
    graph = helper.make_graph(
        nodes, "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])], initializer=inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


def test_conv_bn_net_folds_every_foldable_batchnorm():
    x = np.random.default_rng(1).normal(size=(2, 2, 8, 8)).astype(np.float32)
    fused = check_fused_model(conv_bn_net(), {"x": x})
    counts = op_counts(fused)
    # Only bn5 (after the Relu) remains; Gemm and MatMul became nn.linear with folded weights.
    assert counts["onnx.BatchNormalization"] == 1
    remaining = next(op for op in fused.walk() if op.name == "onnx.BatchNormalization")
    assert remaining.location.name == "bn5"
    assert counts["onnx.Conv"] == 2
    assert counts["nn.linear"] == 2
    assert counts["onnx.Gemm"] == counts["onnx.MatMul"] == 0


DIGITS_MODELS = sorted(DIGITS.glob("*.onnx"))


@pytest.mark.skipif(not DIGITS_MODELS, reason="no digits models in this checkout")
@pytest.mark.parametrize("path", DIGITS_MODELS, ids=lambda p: p.name)
def test_digits_cnns_have_no_batchnorm_left(path):
    x = np.random.default_rng(2).random((4, 1, 8, 8), dtype=np.float32)
    fused = check_fused_model(path, {"input": x}, {"input": [4, 1, 8, 8]})
    counts = op_counts(fused)
    assert counts["onnx.BatchNormalization"] == 0
    assert counts["onnx.Conv"] > 0
    assert counts["nn.linear"] == 1  # the classifier Gemm
