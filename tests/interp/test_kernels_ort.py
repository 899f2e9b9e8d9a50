"""Kernels against onnxruntime where the ONNX node tests are thin.

The ONNX node tests have no grouped, depthwise or dilated Conv, little ConvTranspose and few
old-opset forms, so these single-node models run through both onnxruntime and the kernels.
Also: the Erf approximation against the standard library, the registry's interface, and
the onnx dialect's attribute normalisation (attribute_values.py).
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from imcc.compiler.dialects.onnx.attribute_values import AttributeSchemaError, node_attributes
from imcc.runtime.kernels.onnx import KERNELS, KernelContext, UnsupportedOp, kernel_for
from imcc.runtime.kernels.onnx.activation import erf_float64
from onnx import helper, numpy_helper

RNG = np.random.default_rng(1234)


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _run_ours(
    node: onnx.NodeProto, opset: int, inputs: list[np.ndarray | None]
) -> list[np.ndarray]:
    kernel = kernel_for(node.op_type, opset)
    ctx = KernelContext(opset=opset, num_outputs=len(node.output))
    return kernel(inputs, node_attributes(node, opset), ctx)


def _run_ort(node: onnx.NodeProto, opset: int, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
    names = [n for n in node.input]
    graph_inputs = [
        helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape
        )
        for name, value in zip(names, inputs)
        if name
    ]
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.output]
    graph = helper.make_graph([node], "g", graph_inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {name: value for name, value in zip(names, inputs) if name}
    return session.run(None, feeds)


def _node(op: str, n_in: int, n_out: int = 1, **attrs) -> onnx.NodeProto:
    return helper.make_node(
        op, [f"i{k}" for k in range(n_in)], [f"o{k}" for k in range(n_out)], **attrs
    )


# (id, node, opset, inputs)
CASES = [
    (
        "conv_group2",
        _node("Conv", 3, group=2, pads=[1, 1, 1, 1]),
        17,
        [_f32(2, 4, 7, 6), _f32(6, 2, 3, 3), _f32(6)],
    ),
    (
        "conv_depthwise_mult2",
        _node("Conv", 2, group=3, strides=[2, 1]),
        17,
        [_f32(1, 3, 9, 8), _f32(6, 1, 3, 3)],
    ),
    (
        "conv_dilated_asym_pads",
        _node("Conv", 2, dilations=[2, 3], pads=[0, 2, 1, 1]),
        17,
        [_f32(1, 2, 9, 10), _f32(3, 2, 3, 2)],
    ),
    (
        "conv_same_upper_s2",
        _node("Conv", 2, auto_pad="SAME_UPPER", strides=[2, 2]),
        17,
        [_f32(1, 2, 7, 8), _f32(2, 2, 4, 3)],
    ),
    (
        "conv_same_lower_s2",
        _node("Conv", 2, auto_pad="SAME_LOWER", strides=[2, 2]),
        17,
        [_f32(1, 2, 7, 8), _f32(2, 2, 4, 3)],
    ),
    (
        "conv_valid_s3",
        _node("Conv", 2, auto_pad="VALID", strides=[3, 2]),
        11,
        [_f32(1, 1, 10, 9), _f32(2, 1, 2, 2)],
    ),
    (
        "conv_1d",
        _node("Conv", 3, pads=[2, 1], strides=[2]),
        17,
        [_f32(2, 3, 11), _f32(4, 3, 3), _f32(4)],
    ),
    (
        "conv_3d_group",
        _node("Conv", 2, group=2, pads=[1] * 6),
        17,
        [_f32(1, 4, 4, 5, 3), _f32(2, 2, 3, 3, 2)],
    ),
    (
        "convT_s2_pads_outpad",
        _node("ConvTranspose", 3, strides=[2, 2], pads=[1, 0, 1, 1], output_padding=[1, 1]),
        17,
        [_f32(1, 3, 4, 5), _f32(3, 2, 3, 3), _f32(2)],
    ),
    (
        "convT_group2_dil",
        _node("ConvTranspose", 2, group=2, dilations=[2, 2], strides=[1, 2]),
        17,
        [_f32(2, 4, 3, 3), _f32(4, 3, 2, 3)],
    ),
    (
        "convT_output_shape",
        _node("ConvTranspose", 2, strides=[3, 2], output_shape=[10, 8]),
        17,
        [_f32(1, 1, 3, 3), _f32(1, 2, 3, 3)],
    ),
    (
        "convT_same_upper",
        _node("ConvTranspose", 2, strides=[2, 2], auto_pad="SAME_UPPER"),
        17,
        [_f32(1, 2, 3, 4), _f32(2, 2, 3, 3)],
    ),
    (
        "convT_1d",
        _node("ConvTranspose", 2, strides=[3], pads=[1, 2]),
        17,
        [_f32(1, 2, 5), _f32(2, 3, 4)],
    ),
    (
        "maxpool_ceil_dil",
        _node("MaxPool", 1, kernel_shape=[3, 2], strides=[2, 2], dilations=[1, 2], ceil_mode=1),
        12,
        [_f32(1, 2, 9, 8)],
    ),
    (
        "maxpool_indices",
        _node("MaxPool", 1, 2, kernel_shape=[2, 3], strides=[2, 1], pads=[1, 1, 0, 1]),
        12,
        [_f32(2, 3, 6, 5)],
    ),
    (
        "maxpool_same_lower",
        _node("MaxPool", 1, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
        12,
        [_f32(1, 1, 6, 7)],
    ),
    (
        "maxpool_1d",
        _node("MaxPool", 1, kernel_shape=[3], strides=[2], pads=[1, 1]),
        12,
        [_f32(1, 2, 9)],
    ),
    (
        "avgpool_incl_pad",
        _node(
            "AveragePool",
            1,
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            count_include_pad=1,
        ),
        11,
        [_f32(1, 2, 7, 6)],
    ),
    (
        "avgpool_excl_pad_ceil",
        _node(
            "AveragePool", 1, kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1
        ),
        11,
        [_f32(1, 2, 8, 7)],
    ),
    (
        "avgpool_3d",
        _node("AveragePool", 1, kernel_shape=[2, 2, 2], strides=[1, 2, 2]),
        11,
        [_f32(1, 2, 4, 5, 6)],
    ),
    ("global_avg_3d", _node("GlobalAveragePool", 1), 17, [_f32(2, 3, 4, 5, 2)]),
    ("lrn_size5", _node("LRN", 1, size=5, alpha=0.001, beta=0.6, bias=2.0), 13, [_f32(2, 7, 3, 3)]),
    ("softmax_op11_coerced", _node("Softmax", 1, axis=1), 11, [_f32(2, 3, 4)]),
    ("logsoftmax_op11_axis0", _node("LogSoftmax", 1, axis=0), 11, [_f32(2, 3, 4)]),
    ("softmax_op13_axis1", _node("Softmax", 1, axis=1), 13, [_f32(2, 3, 4)]),
    ("gelu_none", _node("Gelu", 1), 20, [_f32(5, 7) * 3]),
    ("gelu_tanh", _node("Gelu", 1, approximate="tanh"), 20, [_f32(5, 7) * 3]),
    (
        "layernorm_stash",
        _node("LayerNormalization", 3, 3, axis=1),
        17,
        [_f32(2, 3, 4), _f32(3, 4), _f32(3, 4)],
    ),
    (
        "batchnorm_op15",
        _node("BatchNormalization", 5, epsilon=1e-3),
        15,
        [_f32(2, 3, 4), _f32(3), _f32(3), _f32(3), np.abs(_f32(3))],
    ),
    (
        "gemm_all_attrs",
        _node("Gemm", 3, transA=1, transB=1, alpha=0.5, beta=2.0),
        13,
        [_f32(4, 3), _f32(5, 4), _f32(5)],
    ),
    ("clip_op6_attrs", _node("Clip", 1, min=-0.5, max=0.25), 6, [_f32(3, 4)]),
    (
        "clip_op13_int_max_only",
        helper.make_node("Clip", ["i0", "", "i2"], ["o0"]),
        13,
        [_i64(-5, 3, 9), None, np.array(4, np.int64)],
    ),
    ("hardswish", _node("HardSwish", 1), 14, [_f32(4, 5) * 4]),
    ("prelu_channel", _node("PRelu", 2), 16, [_f32(2, 3, 4), _f32(3, 1)]),
    (
        "pad_reflect_axes",
        helper.make_node("Pad", ["i0", "i1", "", "i3"], ["o0"], mode="reflect"),
        18,
        [_f32(2, 5, 4), _i64(2, 1, 1, 3), None, _i64(1, -1)],
    ),
    ("pad_edge_neg", _node("Pad", 2, mode="edge"), 13, [_f32(3, 4), _i64(1, -1, 2, 2)]),
    ("pad_const_op2", _node("Pad", 1, pads=[0, 1, 2, 0], value=1.5), 7, [_f32(3, 2)]),
    (
        "slice_neg_steps",
        _node("Slice", 5),
        13,
        [_f32(6, 7), _i64(-1, 5), _i64(-100, 0), _i64(0, 1), _i64(-2, -2)],
    ),
    (
        "slice_op9_attrs",
        _node("Slice", 1, starts=[1, -3], ends=[100, -1], axes=[0, 1]),
        9,
        [_f32(4, 6)],
    ),
    ("split_op18_uneven", _node("Split", 1, 3, axis=1, num_outputs=3), 18, [_f32(2, 7)]),
    ("split_op11_attr", _node("Split", 1, 2, axis=-1, split=[1, 3]), 11, [_f32(2, 4)]),
    ("squeeze_op11_attr", _node("Squeeze", 1, axes=[-1, 0]), 11, [_f32(1, 3, 1)]),
    ("unsqueeze_op11_attr", _node("Unsqueeze", 1, axes=[0, -1]), 11, [_f32(3, 2)]),
    ("reduce_mean_op13_attr", _node("ReduceMean", 1, axes=[0, 2], keepdims=0), 13, [_f32(2, 3, 4)]),
    ("reduce_l2_op18_input", _node("ReduceL2", 2, keepdims=1), 18, [_f32(2, 3, 4), _i64(-1)]),
    (
        "reduce_prod_int",
        _node("ReduceProd", 2),
        18,
        [np.arange(1, 7, dtype=np.int32).reshape(2, 3), _i64(1)],
    ),
    (
        "div_int32_trunc",
        _node("Div", 2),
        14,
        [np.array([-7, 7, -7, 7, -6], np.int32), np.array([2, -2, -2, 2, 3], np.int32)],
    ),
    (
        "gather_neg_axis1",
        _node("Gather", 2, axis=1),
        13,
        [_f32(3, 4, 2), _i64(-1, 0, -4, 2).reshape(2, 2)],
    ),
    ("expand_bidirectional", _node("Expand", 2), 13, [_f32(3, 1), _i64(2, 1, 4)]),
    ("tile", _node("Tile", 2), 13, [_f32(2, 3), _i64(2, 1)]),
    ("flatten_neg", _node("Flatten", 1, axis=-2), 13, [_f32(2, 3, 4, 5)]),
    ("reshape_zero_copy", _node("Reshape", 2), 14, [_f32(2, 3, 4), _i64(0, -1)]),
    (
        "range_float",
        _node("Range", 3),
        11,
        [np.array(1.0, np.float32), np.array(-2.0, np.float32), np.array(-0.7, np.float32)],
    ),
    ("where_broadcast", _node("Where", 3), 16, [RNG.random((3, 1)) > 0.5, _f32(1, 4), _f32(3, 4)]),
    ("shape_slice", _node("Shape", 1, start=-3, end=-1), 15, [_f32(2, 3, 4, 5)]),
    (
        "cast_string_to_float",
        _node("Cast", 1, to=onnx.TensorProto.FLOAT),
        13,
        [np.array(["1.5", "-INF", "NaN", "1e-5", "7"], dtype=object)],
    ),
    ("dropout_mask_op13", _node("Dropout", 1, 2), 13, [_f32(3, 4)]),
]


@pytest.mark.parametrize("node,opset,inputs", [pytest.param(n, o, i, id=c) for c, n, o, i in CASES])
def test_matches_onnxruntime(node: onnx.NodeProto, opset: int, inputs: list) -> None:
    """Same values (float32 tolerance), shapes and element types as onnxruntime."""
    want = _run_ort(node, opset, inputs)
    got = _run_ours(node, opset, inputs)
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_conv_is_deterministic_and_float32() -> None:
    """Same inputs give byte-identical float32 outputs."""
    node, opset, inputs = CASES[0][1:]
    first, second = _run_ours(node, opset, inputs)[0], _run_ours(node, opset, inputs)[0]
    assert first.dtype == np.float32 and first.tobytes() == second.tobytes()


def test_erf_matches_math_erf() -> None:
    """erf_float64 agrees with the C library's erf to ~1e-14 relative, specials included."""
    x = np.concatenate(
        [np.linspace(-7, 7, 20001), np.geomspace(1e-30, 1.0, 200), [0.0, np.inf, -np.inf]]
    )
    want = np.array([math.erf(v) for v in x])
    got = erf_float64(x)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    assert np.isnan(erf_float64(np.array([np.nan])))[0]


REQUIRED_OPS = """Conv ConvTranspose BatchNormalization Relu LeakyRelu PRelu Clip HardSigmoid HardSwish Sigmoid
Tanh Erf Gelu Softmax LogSoftmax LayerNormalization MaxPool AveragePool GlobalAveragePool GlobalMaxPool
LRN Gemm MatMul Add Sub Mul Div Pow Sqrt Reciprocal Neg Abs Exp Log Sum Mean Max Min ReduceMean ReduceSum
ReduceMax ReduceMin ReduceProd ReduceL2 Concat Split Slice Gather Reshape Flatten Transpose Squeeze
Unsqueeze Expand Pad Shape Size ConstantOfShape Constant Range Cast Where Equal Less LessOrEqual Greater
GreaterOrEqual Not And Or IsNaN IsInf Identity Dropout Tile Floor Ceil Sign""".split()


def test_registry_covers_required_ops() -> None:
    """Every op of the interpreter's required list has a kernel."""
    assert sorted(set(REQUIRED_OPS) - set(KERNELS)) == []


@pytest.mark.parametrize(
    "op,opset,message",
    [
        ("Einsum", 17, "no interpreter kernel for ONNX op 'Einsum'"),
        ("Gelu", 18, "only opset 20 and later"),
        ("Add", 6, "only opset 7 and later"),
    ],
)
def test_kernel_for_refuses(op: str, opset: int, message: str) -> None:
    """Unknown ops and unsupported op versions raise UnsupportedOp with a clear message."""
    with pytest.raises(UnsupportedOp, match=message):
        kernel_for(op, opset)


def test_exotic_element_type_refused() -> None:
    """Element types plain numpy lacks are refused, not silently mis-computed."""
    import ml_dtypes

    x = np.zeros(3, dtype=ml_dtypes.bfloat16)
    with pytest.raises(UnsupportedOp, match="bfloat16"):
        KERNELS["Relu"]([x], {}, KernelContext(opset=17))


@pytest.mark.parametrize(
    "attrs,expected",
    [
        ({"value_float": 2.5}, np.array(2.5, np.float32)),
        ({"value_floats": [1.0, 2.0]}, np.array([1.0, 2.0], np.float32)),
        ({"value_int": 7}, np.array(7, np.int64)),
        ({"value_ints": [3, -1]}, np.array([3, -1], np.int64)),
        ({"value_strings": ["a", "bc"]}, np.array(["a", "bc"], dtype=object)),
    ],
)
def test_constant_value_forms(attrs: dict, expected: np.ndarray) -> None:
    """Every value_* form of Constant yields the tensor ONNX defines."""
    node = helper.make_node("Constant", [], ["y"], **attrs)
    (got,) = _run_ours(node, 13, [])
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_constant_sparse_value_is_densified() -> None:
    """sparse_value (linear or coordinate indices) becomes a dense array."""
    values = numpy_helper.from_array(np.array([5.0, 6.0], np.float32), "v")
    for indices in (np.array([1, 5], np.int64), np.array([[0, 1], [1, 2]], np.int64)):
        sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(indices, "i"), [2, 3])
        node = helper.make_node("Constant", [], ["y"], sparse_value=sparse)
        (got,) = _run_ours(node, 13, [])
        np.testing.assert_array_equal(got, [[0, 5, 0], [0, 0, 6]])


def test_defaults_filled_and_normalised() -> None:
    """Schema defaults appear as plain Python values; float attributes stay float."""
    attrs = node_attributes(helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2]), 19)
    assert attrs == {
        "auto_pad": "NOTSET",
        "ceil_mode": 0,
        "count_include_pad": 0,
        "kernel_shape": [2, 2],
    }
    assert node_attributes(helper.make_node("LeakyRelu", ["x"], ["y"], alpha=1), 16) == {
        "alpha": 1.0
    }


@pytest.mark.parametrize(
    "node,message",
    [
        (helper.make_node("Cast", ["x"], ["y"]), "required attribute 'to' is missing"),
        (helper.make_node("Relu", ["x"], ["y"], alpha=1.0), r"unknown attribute\(s\) \['alpha'\]"),
        (
            helper.make_node("LeakyRelu", ["x"], ["y"], alpha="big"),
            "'alpha' is STRING, the schema wants FLOAT",
        ),
        (helper.make_node("NoSuchOp", ["x"], ["y"]), "NoSuchOp: no schema at opset 17"),
    ],
)
def test_attribute_errors(node: onnx.NodeProto, message: str) -> None:
    """Schema violations raise AttributeSchemaError naming the op and attribute."""
    with pytest.raises(AttributeSchemaError, match=message):
        node_attributes(node, 17)
