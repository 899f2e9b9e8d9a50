"""The ONNX backend node tests, run through the interpreter's numpy kernels.

Every node test case of the installed onnx package whose graph uses only op types that
have a kernel (single nodes, and the small "_expanded" graphs of function bodies) becomes
one pytest case, named like the ONNX case. A tiny executor evaluates the graph node by node
with attributes from the onnx dialect's `attribute_values`, and outputs are compared as the ONNX
backend runner compares them: same shape and element type, then allclose with the case's rtol/atol.

Cases come from the serialised ``onnx/backend/test/data/node`` folders when the onnx
install ships them (or from the folder named by IMCC_ONNX_NODE_DATA); wheels that do not
ship them still ship the generators, which build the same cases in memory in a few seconds.
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from imcc.compiler.dialects.onnx.attribute_values import node_attributes
from imcc.runtime.kernels.onnx import KERNELS, KernelContext, UnsupportedOp, kernel_for
from onnx import numpy_helper

DEFAULT_RTOL, DEFAULT_ATOL = 1e-3, 1e-7


@dataclass
class NodeCase:
    """One ONNX node test: the model and its (inputs, expected outputs) data sets."""

    name: str
    model: onnx.ModelProto
    data_sets: list[tuple[list[np.ndarray], list[np.ndarray]]]
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


def _read_tensors(folder: str, prefix: str) -> list[np.ndarray]:
    paths = sorted(
        glob.glob(os.path.join(folder, f"{prefix}_*.pb")),
        key=lambda p: int(os.path.basename(p)[len(prefix) + 1 : -3]),
    )
    tensors = []
    for path in paths:
        proto = onnx.TensorProto()
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
        tensors.append(numpy_helper.to_array(proto))
    return tensors


def _cases_from_folder(root: str) -> list[NodeCase]:
    cases = []
    for folder in sorted(glob.glob(os.path.join(root, "test_*"))):
        model = onnx.load(os.path.join(folder, "model.onnx"))
        data_sets = [
            (_read_tensors(d, "input"), _read_tensors(d, "output"))
            for d in sorted(glob.glob(os.path.join(folder, "test_data_set_*")))
        ]
        cases.append(NodeCase(os.path.basename(folder), model, data_sets))
    return cases


def _generated_cases() -> list[NodeCase]:
    from onnx.backend.test.case import node as generators

    np.random.seed(0)  # some generators draw unseeded random inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generated = generators.collect_testcases(None)
    return [
        NodeCase(
            c.name, c.model, [(_arrays(i), _arrays(o)) for i, o in c.data_sets], c.rtol, c.atol
        )
        for c in generated
    ]


def _arrays(values: list) -> list:
    """Generators give some tensors (the Cast cases) as TensorProtos rather than arrays."""
    return [numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v for v in values]


def load_node_cases() -> list[NodeCase]:
    """All ONNX backend node test cases available in this environment."""
    shipped = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    folder = os.environ.get("IMCC_ONNX_NODE_DATA") or shipped
    if os.path.isdir(folder):
        return _cases_from_folder(folder)
    return _generated_cases()


def default_opset(model: onnx.ModelProto) -> int:
    """Version of the default ONNX domain imported by ``model``."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    raise ValueError("model does not import the default ONNX domain")


def run_graph(model: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Evaluate ``model``'s graph with the interpreter kernels, in dependency order."""
    graph, opset = model.graph, default_opset(model)
    env = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    feeds = [v.name for v in graph.input if v.name not in env]
    env.update(zip(feeds, inputs))
    pending = list(graph.node)
    while pending:
        ready = [n for n in pending if all(not name or name in env for name in n.input)]
        if not ready:
            raise ValueError(f"graph has a cycle or an undefined value at node {pending[0].name!r}")
        for node in ready:
            kernel = kernel_for(node.op_type, opset)
            args = [env[name] if name else None for name in node.input]
            ctx = KernelContext(opset=opset, num_outputs=len(node.output))
            for name, value in zip(node.output, kernel(args, node_attributes(node, opset), ctx)):
                if name:
                    env[name] = value
        pending = [n for n in pending if n not in ready]
    return [env[v.name] for v in graph.output]


def assert_like_onnx_runner(
    expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float
) -> None:
    """The ONNX backend runner's check: shape, element type, then values."""
    assert isinstance(actual, np.ndarray), f"output is {type(actual).__name__}, not ndarray"
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    if expected.dtype == object:
        np.testing.assert_array_equal(actual, expected)
        return
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != expected {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def _graph_types_are_tensors(model: onnx.ModelProto) -> bool:
    values = list(model.graph.input) + list(model.graph.output)
    return all(v.type.HasField("tensor_type") for v in values)


def _is_supported(case: NodeCase) -> bool:
    nodes = case.model.graph.node
    return all(n.domain in ("", "ai.onnx") and n.op_type in KERNELS for n in nodes)


# Cases of supported op types that the interpreter refuses on purpose. Each must raise
# UnsupportedOp (strict xfail: if one starts passing, move it out of this list).
_EXOTIC_TYPES = ("BFLOAT16", "FLOAT8", "FLOAT4", "INT4", "UINT4", "INT2", "UINT2")
EXPECTED_UNSUPPORTED = {
    # Training-mode Dropout draws a random mask; only ratio 0 (the identity) is supported.
    "test_training_dropout": "random dropout mask",
    "test_training_dropout_mask": "random dropout mask",
    "test_training_dropout_default": "random dropout mask",
    "test_training_dropout_default_mask": "random dropout mask",
}

# Cases whose graph inputs/outputs are not tensors (sequences, optionals): the kernel
# interface carries tensors only.
NON_TENSOR_REASON = "graph input/output is a sequence or optional, not a tensor"


def _exotic_type_reason(name: str) -> str | None:
    """Element types numpy cannot hold (bfloat16, float8, float4, 2/4-bit ints) are refused."""
    upper = name.upper()
    if ("CAST" in upper or "RANGE" in upper) and any(t in upper for t in _EXOTIC_TYPES):
        return "element type not representable in plain numpy"
    if name.startswith("test_cast_e8m0") or name.startswith("test_castlike_e8m0"):
        return "element type not representable in plain numpy"
    return None


def _params() -> list:
    params = []
    for case in load_node_cases():
        if not _is_supported(case):
            continue
        marks = []
        reason = EXPECTED_UNSUPPORTED.get(case.name) or _exotic_type_reason(case.name)
        if not _graph_types_are_tensors(case.model):
            marks.append(pytest.mark.skip(reason=NON_TENSOR_REASON))
        elif reason:
            marks.append(pytest.mark.xfail(raises=UnsupportedOp, strict=True, reason=reason))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


PARAMS = _params()


def test_enough_cases_collected() -> None:
    """Guard against a silently empty collection (an onnx without its node tests)."""
    assert len(PARAMS) > 500


@pytest.mark.parametrize("case", PARAMS)
def test_onnx_node_case(case: NodeCase) -> None:
    """One ONNX backend node test through the kernels, every data set of it."""
    for inputs, expected in case.data_sets:
        actual = run_graph(case.model, list(inputs))
        assert len(actual) == len(expected)
        for want, got in zip(expected, actual):
            assert_like_onnx_runner(want, got, case.rtol, case.atol)
