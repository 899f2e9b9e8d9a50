"""Which float32 elementwise ops the nonlinear unit's nl.eltwise computes, and how."""

from __future__ import annotations

import pytest
from imcc.compiler.dialects.onnx import AddOp, DivOp, MulOp, SubOp
from imcc.compiler.ir.types import RankedTensorType, f32, i32
from imcc.compiler.passes.nonlinear_offload import eltwise_form


def t(*shape, element=f32):
    return RankedTensorType(tuple(shape), element)


@pytest.mark.parametrize(
    "op, a, b, y, form",
    [
        (AddOp, t(2, 8, 4), t(2, 8, 4), t(2, 8, 4), (False, False)),
        (AddOp, t(2, 8, 4), t(4), t(2, 8, 4), (False, True)),  # a row for every row
        (AddOp, t(2, 8, 4), t(1, 1, 4), t(2, 8, 4), (False, True)),
        (AddOp, t(1, 4), t(2, 8, 4), t(2, 8, 4), (True, True)),  # a + b = b + a
        (MulOp, t(4), t(3, 4), t(3, 4), (True, True)),
        (SubOp, t(3, 4), t(4), t(3, 4), (False, True)),
        (SubOp, t(4), t(3, 4), t(3, 4), None),  # a row minus a matrix does not commute
        (AddOp, t(3, 4), t(3, 1), t(3, 4), None),  # a column: not a row broadcast
        (AddOp, t(3, 4), t(2, 4), t(3, 4), None),
        (AddOp, t(3, 4, element=i32), t(3, 4, element=i32), t(3, 4, element=i32), None),
        (DivOp, t(3, 4), t(3, 4), t(3, 4), None),  # no nl.eltwise divide
        (AddOp, t(), t(), t(), None),
    ],
)
def test_eltwise_form(op, a, b, y, form):
    assert eltwise_form(op.name, a, b, y) == form
