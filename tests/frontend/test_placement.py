"""The placement table and its rules."""

from __future__ import annotations

import pytest
from imcc.compiler.dialects.onnx import SUPPORTED_OP_TYPES
from imcc.compiler.frontend.placement import PLACEMENT_TABLE, NodeFacts, Placement, place


def test_the_table_covers_exactly_the_supported_ops():
    assert set(PLACEMENT_TABLE) == set(SUPPORTED_OP_TYPES)


@pytest.mark.parametrize(
    ("op", "facts", "expected"),
    [
        (
            "Conv",
            NodeFacts((False, True), ((1, 8, 4, 4), (16, 8, 3, 3)), {"group": 1}),
            Placement.CROSSBAR,
        ),
        (
            "Conv",
            NodeFacts((False, True), ((1, 8, 4, 4), (8, 1, 3, 3)), {"group": 8}),
            Placement.DIGITAL_UNIT,
        ),
        (
            "Conv",
            NodeFacts((False, True), ((1, 8, 4, 4), (8, 2, 3, 3)), {"group": 4}),
            Placement.CROSSBAR,
        ),
        ("Conv", NodeFacts((False, False)), Placement.DIGITAL_UNIT),
        ("MatMul", NodeFacts((False, True)), Placement.CROSSBAR),
        ("MatMul", NodeFacts((False, False)), Placement.DIGITAL_UNIT),
        ("Gemm", NodeFacts((False, True, True)), Placement.CROSSBAR),
        ("Softmax", NodeFacts((False,)), Placement.CORES),
        ("Transpose", NodeFacts((False,)), Placement.CORES),
        ("Transpose", NodeFacts((True,)), Placement.COMPILE_TIME),
        ("Reshape", NodeFacts((False, True)), Placement.COMPILE_TIME),
        ("Range", NodeFacts((True, False, True)), Placement.CORES),
        ("Constant", NodeFacts(()), Placement.COMPILE_TIME),
    ],
)
def test_rules(op, facts, expected):
    assert place(op, facts) is expected


def test_ops_without_a_rule_default_to_the_cores():
    assert place("Einsum", NodeFacts((False,))) is Placement.CORES
