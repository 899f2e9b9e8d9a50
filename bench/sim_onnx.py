"""The fp32 ONNX twins of the benchmark workloads, built with onnx.helper.

Weights are the dequantized ternary (and int8 depthwise) weights of the IMC programs, so the two
compute the same network up to activation quantization and the ADC.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


def _model(nodes, inputs, outputs, inits, name: str):
    graph = helper.make_graph(
        nodes,
        name,
        inputs,
        outputs,
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="imcc-bench"
    )
    model.ir_version = IR_VERSION
    return model


def _io(name: str, shape) -> object:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def bottleneck(h, w, c, w1, b1, wd, bd, w3, b3):
    """NCHW MobileNetV2 block: Conv 1×1 → Clip(0, 6) → depthwise Conv 3×3 → Clip → Conv 1×1 → Add.

    ``w1`` (c × ce) and ``w3`` (ce × c) are matmul-layout weights, ``wd`` is (3, 3, ce).
    """
    ce = w1.shape[1]
    inits = {
        "w1": w1.T.reshape(ce, c, 1, 1),
        "b1": b1,
        "wd": np.transpose(wd, (2, 0, 1)).reshape(ce, 1, 3, 3),
        "bd": bd,
        "w3": w3.T.reshape(c, ce, 1, 1),
        "b3": b3,
        "zero": np.float32(0),
        "six": np.float32(6),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["e"], name="expand", kernel_shape=[1, 1]),
        helper.make_node("Clip", ["e", "zero", "six"], ["e6"], name="relu6_1"),
        helper.make_node(
            "Conv",
            ["e6", "wd", "bd"],
            ["d"],
            name="depthwise",
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            group=ce,
        ),
        helper.make_node("Clip", ["d", "zero", "six"], ["d6"], name="relu6_2"),
        helper.make_node("Conv", ["d6", "w3", "b3"], ["p"], name="project", kernel_shape=[1, 1]),
        helper.make_node("Add", ["p", "x"], ["y"], name="residual"),
    ]
    shape = (1, c, h, w)
    return _model(nodes, [_io("x", shape)], [_io("y", shape)], inits, "bottleneck")


def mlp(dims, layers):
    """MatMul + Add (+ Relu between layers) for ``layers`` = [(w (k × n), b), ...]."""
    nodes, inits, a = [], {}, "x"
    for i, (w, b) in enumerate(layers):
        inits[f"w{i}"], inits[f"b{i}"] = w, b
        nodes.append(helper.make_node("MatMul", [a, f"w{i}"], [f"m{i}"], name=f"fc{i + 1}"))
        last = i == len(layers) - 1
        out = "y" if last else f"z{i}"
        nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [out], name=f"bias{i + 1}"))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"a{i}"], name=f"relu{i + 1}"))
            a = f"a{i}"
    batch = "batch"
    ins, outs = [_io("x", (batch, dims[0]))], [_io("y", (batch, dims[-1]))]
    return _model(nodes, ins, outs, inits, "mlp")


def ffn(d, dff, w1, b1, w2, b2):
    """BERT FFN: MatMul + Add → GELU (erf form, as exporters write it) → MatMul + Add."""
    inits = {
        "w1": w1,
        "b1": b1,
        "w2": w2,
        "b2": b2,
        "sqrt2": np.float32(np.sqrt(2.0)),
        "one": np.float32(1),
        "half": np.float32(0.5),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m1"], name="up"),
        helper.make_node("Add", ["m1", "b1"], ["z"], name="up_bias"),
        helper.make_node("Div", ["z", "sqrt2"], ["zs"], name="gelu_div"),
        helper.make_node("Erf", ["zs"], ["e"], name="gelu_erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name="gelu_add"),
        helper.make_node("Mul", ["z", "e1"], ["ze"], name="gelu_mul"),
        helper.make_node("Mul", ["ze", "half"], ["g"], name="gelu_half"),
        helper.make_node("MatMul", ["g", "w2"], ["m2"], name="down"),
        helper.make_node("Add", ["m2", "b2"], ["y"], name="down_bias"),
    ]
    seq = "seq"
    return _model(nodes, [_io("x", (seq, d))], [_io("y", (seq, d))], inits, "ffn")
