"""The ONNX backend node test cases as program binaries: every case the interpreter passes is
compiled with ``precision="fp32"`` (every op a cores' library call), run on the simulated chip and
compared as the ONNX backend runner compares.

Cases whose output shapes depend on input values (an axes or shape input given at run time)
cannot be a static program: the compiler refuses them with a clear error, which is checked.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from _nodecases import PARAMS, assert_like_backend_runner, real_inputs
from imcc.compiler.pm import PassFailure

import imcc

# (case-name pattern, why): a strict xfail each, failing with the refusal named below.
DYNAMIC_SHAPES = [
    (r"test_center_crop_pad_\w+_expanded", "crop/pad sizes are a run-time input"),
    (r"test_reduce_(l2|log_sum|log_sum_exp)_\w+_expanded", "reduction axes are a run-time input"),
]


def _mark(case):
    for pattern, why in DYNAMIC_SHAPES:
        if re.fullmatch(pattern, case.name):
            return pytest.mark.xfail(raises=PassFailure, strict=True, reason=why)
    return None


BINARY_PARAMS = [
    pytest.param(p.values[0], id=p.id, marks=[m] if (m := _mark(p.values[0])) else [])
    for p in PARAMS
    if not p.marks
]


def test_at_least_95_percent_of_the_interpreters_cases_compile():
    expected_to_fail = sum(1 for p in BINARY_PARAMS if p.marks)
    assert len(BINARY_PARAMS) > 700
    assert 1 - expected_to_fail / len(BINARY_PARAMS) >= 0.95


@pytest.mark.parametrize("case", BINARY_PARAMS)
def test_node_case_binary(case):
    for inputs, expected in case.data_sets:
        shapes = {v.name: np.shape(x) for v, x in zip(real_inputs(case.model), inputs)}
        program = imcc.compile(case.model, precision="fp32", input_shapes=shapes, notes=None)
        actual = program.run(list(inputs)).as_list()
        assert len(actual) == len(expected)
        for want, got in zip(expected, actual):
            assert_like_backend_runner(np.asarray(want), got, case.rtol, case.atol)
