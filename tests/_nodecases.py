"""The ONNX backend node test cases, shared by the interpreter's and the program binary's tests.

Every node test case of the installed onnx package whose nodes are all supported op types is one
case; cases that use element types, attribute values or modes imcc does not support are marked
strict xfails with the error they must fail with. Outputs are compared the way the ONNX backend
runner compares them (same shape and element type, then allclose with the case's rtol/atol; by
default rtol=1e-3, atol=1e-7).

The cases come from the onnx package's generators (``onnx.backend.test.case.node``), which build the
same models and data the serialized ``onnx/backend/test/data/node`` folders hold; wheels do not
always ship those folders.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from imcc.compiler.dialects.onnx import SUPPORTED_OP_TYPES
from imcc.compiler.frontend.errors import UnsupportedError
from imcc.compiler.interp.interpreter import InterpreterError
from onnx import numpy_helper


@dataclass
class NodeCase:
    name: str
    model: object
    data_sets: list
    rtol: float
    atol: float


def _load_cases() -> list[NodeCase]:
    from onnx.backend.test.case import node as generators

    state = np.random.get_state()
    np.random.seed(0)  # some generators draw unseeded random inputs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cases = generators.collect_testcases(None)
    finally:
        np.random.set_state(state)
    return [NodeCase(c.name, c.model, _arrays(c.data_sets), c.rtol, c.atol) for c in cases]


def _arrays(data_sets):
    """Data sets with TensorProtos (how generators store some types) turned into arrays."""

    def convert(x):
        return numpy_helper.to_array(x) if isinstance(x, onnx.TensorProto) else x

    return [([convert(x) for x in ins], [convert(x) for x in outs]) for ins, outs in data_sets]


def _supported(case: NodeCase) -> bool:
    return all(
        n.domain in ("", "ai.onnx") and n.op_type in SUPPORTED_OP_TYPES
        for n in case.model.graph.node
    )


# Cases of supported op types that use element types, attribute values or modes imcc does not
# support, as (case-name pattern, the error the case must fail with, why). Each match is a strict
# xfail: it must fail with that error, and a case that starts to pass must leave this list.
EXCLUDED: list[tuple[str, type, str]] = [
    # Element types plain numpy cannot hold: bfloat16, the float8/float4 families, 4- and 2-bit
    # integers. The IR has no such types; the importer refuses them, naming the value.
    (
        r"test_(cast|castlike)(_no_saturate|_e8m0)?_\w*(BFLOAT16|FLOAT8|E8M0|FLOAT4E2M1|INT4|INT2)\w*",
        UnsupportedError,
        "element type not representable in numpy",
    ),
    (r"test_range_bfloat16_\w+", UnsupportedError, "bfloat16 tensors"),
    # String tensors: the IR has no string element type.
    (r"test_equal_string(_broadcast)?", UnsupportedError, "string tensors"),
    # Graph inputs that are sequences or optionals: the IR's values are tensors.
    (r"test_identity_(sequence|opt)", UnsupportedError, "non-tensor graph input"),
    # Training-mode Dropout with a non-zero ratio draws a random mask; the interpreter is
    # deterministic and refuses it (ratio 0 works and is tested).
    (r"test_training_dropout(_default)?(_mask)?", InterpreterError, "random dropout mask"),
    # Reductions without keepdims whose axes are a runtime graph input: the output's rank depends on
    # the input's values, and imcc needs ranked types at import.
    (
        r"test_reduce_(log_sum_(asc|desc)_axes|log_sum_exp_do_not_keepdims_\w+|l2_do_not_keepdims_\w+)_expanded",
        UnsupportedError,
        "data-dependent rank",
    ),
]


def _exclusion(name: str):
    for pattern, error, reason in EXCLUDED:
        if re.fullmatch(pattern, name):
            return pytest.mark.xfail(raises=error, strict=True, reason=reason)
    return None


def _params():
    params = []
    for case in _load_cases():
        if not _supported(case):
            continue
        mark = _exclusion(case.name)
        params.append(pytest.param(case, id=case.name, marks=[mark] if mark else []))
    return params


PARAMS = _params()


def assert_like_backend_runner(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float):
    """The ONNX backend runner's comparison: shape and element type, then values."""
    assert isinstance(actual, np.ndarray), f"output is {type(actual).__name__}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != expected {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def real_inputs(model):
    """The graph inputs that are not initializers."""
    constant = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in constant]
