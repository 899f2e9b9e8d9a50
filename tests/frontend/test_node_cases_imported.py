"""The ONNX backend node test cases, through the importer and the interpreter.

Every supported case (see ``tests/_nodecases.py``) is imported (checker, shape inference, IR
construction, verification), its ``main`` runs in the reference interpreter, and the outputs are
compared as the ONNX backend runner compares them.
"""

from __future__ import annotations

import numpy as np
import pytest
from _nodecases import PARAMS, NodeCase, assert_like_backend_runner, real_inputs
from imcc.compiler.frontend.importer import import_model
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import verify
from imcc.compiler.pipelines import pipeline_to
from imcc.compiler.pm import PassManager, parse_pipeline


def test_cases_were_collected():
    """Guard against an onnx without its node test generators (an empty, vacuous run)."""
    assert len(PARAMS) > 500


ONNX_LEVEL = parse_pipeline(pipeline_to("onnx"))


@pytest.mark.parametrize("case", PARAMS)
def test_node_case(case: NodeCase):
    """Import the case's model, verify it, run every data set of it and compare; then again at the
    ``onnx`` level (canonicalized), which folds every node whose inputs are constants."""
    for inputs, expected in case.data_sets:
        shapes = {v.name: np.shape(x) for v, x in zip(real_inputs(case.model), inputs)}
        module = import_model(case.model, input_shapes=shapes, notes=None)
        verify(module)
        # Without constants there is nothing to fold: the canonicalized run would repeat the first.
        has_constants = any(op.name == "onnx.Constant" for op in module.body.ops[0].body.ops)
        for stage in ("imported", "canonicalized") if has_constants else ("imported",):
            if stage == "canonicalized":
                PassManager(list(ONNX_LEVEL)).run(module)
            actual = run_module(module, list(inputs)).as_list()
            assert len(actual) == len(expected)
            for want, got in zip(expected, actual):
                assert_like_backend_runner(np.asarray(want), got, case.rtol, case.atol)
