"""Shared pieces of the frontend tests: small ONNX models built with onnx.helper, offered as the
``onnx_models`` fixture (tests run with --import-mode=importlib, so they cannot import a helper
module)."""

from __future__ import annotations

import os
import types

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def make_model(nodes, inputs, outputs, initializers=(), opset=17, ir_version=8, domains=()):
    """A model of one graph; ``inputs``/``outputs`` are (name, elem type, shape) triples."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        list(initializers),
    )
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in domains)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)


def add_relu_model(opset=17, batch="N"):
    """y = relu(x + bias) with a named Add and an unnamed Relu."""
    bias = numpy_helper.from_array(np.array([1.0, -2.0, 3.0], np.float32), "bias")
    return make_model(
        [
            helper.make_node("Add", ["x", "bias"], ["t"], name="add0"),
            helper.make_node("Relu", ["t"], ["y"]),
        ],
        [("x", F, [batch, 3])],
        [("y", F, [batch, 3])],
        [bias],
        opset=opset,
    )


def conv_model(channels=4, size=6, seed=0):
    """Conv (3x3, with bias) -> Relu -> GlobalAveragePool: weights large enough to be resources."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(
        rng.standard_normal((channels, 3, 3, 3)).astype(np.float32), "conv.w"
    )
    b = numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), "conv.b")
    return make_model(
        [
            helper.make_node(
                "Conv", ["x", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]
            ),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["y"], name="pool"),
        ],
        [("x", F, [1, 3, size, size])],
        [("y", F, [1, channels, 1, 1])],
        [w, b],
        opset=13,
    )


def unsupported_model():
    """A valid model using an ONNX op imcc has no kernel for (Einsum)."""
    return make_model(
        [helper.make_node("Einsum", ["a", "b"], ["y"], name="contract", equation="ij,jk->ik")],
        [("a", F, [2, 3]), ("b", F, [3, 4])],
        [("y", F, [2, 4])],
        opset=13,
    )


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def onnx_models():
    """The model builders above, and paths of the bundled models."""
    return types.SimpleNamespace(
        F=F,
        make_model=make_model,
        add_relu_model=add_relu_model,
        conv_model=conv_model,
        unsupported_model=unsupported_model,
        repo=REPO,
        digits=os.path.join(REPO, "models", "digits", "digits_cnn.onnx"),
    )
