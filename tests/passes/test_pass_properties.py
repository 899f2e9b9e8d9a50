"""Property tests: on random instances of what each pass rewrites, the rewrite happens and the
interpreter's results do not change; plus the passes' options and contracts."""

from __future__ import annotations

import numpy as np
import pytest
from _passkit import FIXTURES, load, op_counts, rel_err, run_passes
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.pm import parse_pipeline
from imcc.compiler.pm.pipeline import PipelineError
from onnx import TensorProto, helper, numpy_helper


def single_node_model(node, inputs, output, inits, opset=14):
    graph = helper.make_graph([node], "g", inputs, [output], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def same_results(model, feeds, pipeline):
    """Interpreter results before and after ``pipeline``; returns the rewritten module."""
    before = run_module(load(model), feeds).as_list()
    module = run_passes(load(model), pipeline)
    after = run_module(module, feeds).as_list()
    for a, b in zip(after, before, strict=True):
        assert a.shape == b.shape
        assert rel_err(a, b) <= 1e-5
    return module


C_SHAPES = {"none": None, "row": lambda m, n: (n,), "row2": lambda m, n: (1, n),
            "full": lambda m, n: (m, n), "column": lambda m, n: (m, 1), "scalar": lambda m, n: ()}  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 4),
    k=st.integers(1, 5),
    n=st.integers(1, 4),
    trans_a=st.booleans(),
    trans_b=st.booleans(),
    alpha=st.sampled_from([1.0, 0.5, -2.0]),
    beta=st.sampled_from([1.0, 0.25, 3.0]),
    c_kind=st.sampled_from(sorted(C_SHAPES)),
    seed=st.integers(0, 1000),
)
def test_gemm_with_constant_weight_becomes_linear(
    m, k, n, trans_a, trans_b, alpha, beta, c_kind, seed
):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    inits = [numpy_helper.from_array(b, "B")]
    names = ["A", "B"]
    if C_SHAPES[c_kind] is not None:
        inits.append(
            numpy_helper.from_array(rng.normal(size=C_SHAPES[c_kind](m, n)).astype(np.float32), "C")
        )
        names.append("C")
    node = helper.make_node(
        "Gemm", names, ["Y"], transA=int(trans_a), transB=int(trans_b), alpha=alpha, beta=beta
    )
    a_shape = [k, m] if trans_a else [m, k]
    model = single_node_model(
        node, [helper.make_tensor_value_info("A", TensorProto.FLOAT, a_shape)],
        helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n]), inits,
    )  # fmt: skip
    feeds = {"A": rng.normal(size=a_shape).astype(np.float32)}
    counts = op_counts(same_results(model, feeds, "fuse-linear"))
    assert counts["onnx.Gemm"] == 0 and counts["nn.linear"] == 1
    varies_by_row = c_kind in ("full", "column") and m > 1
    assert counts["onnx.Add"] == (1 if varies_by_row else 0)


@settings(max_examples=25, deadline=None)
@given(
    groups=st.sampled_from([1, 2]),
    per_group=st.integers(1, 3),
    kernel=st.sampled_from([1, 3]),
    bias=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_conv_batchnorm_folds_exactly(groups, per_group, kernel, bias, seed):
    rng = np.random.default_rng(seed)
    cin, cout = 2 * groups, per_group * groups
    inits = [
        numpy_helper.from_array(
            rng.normal(size=(cout, cin // groups, kernel, kernel)).astype(np.float32), "W"
        )
    ]
    conv_inputs = ["x", "W"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(size=cout).astype(np.float32), "b"))
        conv_inputs.append("b")
    stats = {"s": rng.uniform(0.2, 3, cout), "t": rng.normal(size=cout), "mu": rng.normal(size=cout),
             "var": rng.uniform(0.01, 4, cout)}  # fmt: skip
    inits += [numpy_helper.from_array(v.astype(np.float32), name) for name, v in stats.items()]
    nodes = [
        helper.make_node("Conv", conv_inputs, ["c"], group=groups, pads=[kernel // 2] * 4),
        helper.make_node("BatchNormalization", ["c", "s", "t", "mu", "var"], ["y"], epsilon=1e-4),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, cin, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, cout, 5, 5])], initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    feeds = {"x": rng.normal(size=(2, cin, 5, 5)).astype(np.float32)}
    counts = op_counts(same_results(model, feeds, "fold-batchnorm"))
    assert counts["onnx.BatchNormalization"] == 0 and counts["onnx.Conv"] == 1


def test_folding_makes_every_pinned_shape_computation_constant():
    inputs = dict(np.load(FIXTURES / "tiny_bert_inputs.npz"))
    shapes = {name: list(value.shape) for name, value in inputs.items()}
    module = run_passes(load(FIXTURES / "tiny_bert_opset14.onnx", shapes), "fold-onnx-constants")
    counts = op_counts(module)
    for name in ("onnx.Shape", "onnx.Concat", "onnx.Range", "onnx.Expand"):
        assert counts[name] == 0, name
    reshapes = [op for op in module.walk() if op.name == "onnx.Reshape"]
    assert reshapes and all(op.operands[1].owner.name == "onnx.Constant" for op in reshapes)


def test_fold_size_guard_keeps_big_expansions():
    node = helper.make_node("Expand", ["zero", "shape"], ["y"])
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero"),
             numpy_helper.from_array(np.array([64, 64], np.int64), "shape")]  # fmt: skip
    model = single_node_model(
        node, [], helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64]), inits
    )
    small = run_passes(load(model), "fold-onnx-constants{max-elements=1000}")
    assert op_counts(small)["onnx.Expand"] == 1
    assert op_counts(run_passes(load(model), "fold-onnx-constants"))["onnx.Expand"] == 0


def test_debug_patterns_explains_each_declined_rewrite_once(capsys):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu")]
    inits = [numpy_helper.from_array(np.ones(2, np.float32), n) for n in ("s", "t", "mu", "var")]
    nodes.append(
        helper.make_node("BatchNormalization", ["r", "s", "t", "mu", "var"], ["y"], name="bn")
    )
    graph = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])],
                              initializer=inits)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)
    run_passes(load(model), "fold-batchnorm{debug-patterns=true}")
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "note: pattern FoldBatchNorm did not match onnx.BatchNormalization at 'bn': its input comes "
        "from onnx.Relu; only Conv, Gemm, MatMul and nn.linear with a constant weight fold"
    ]


def test_options_are_checked():
    with pytest.raises(PipelineError, match="max-elements must not be negative"):
        parse_pipeline("fold-onnx-constants{max-elements=-1}")
    (p,) = parse_pipeline("fuse-attention{debug-patterns=true}")
    assert p.debug_patterns is True
