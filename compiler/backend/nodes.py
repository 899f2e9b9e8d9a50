"""What every backend pass says about an op: the ONNX node it came from, and whether its shapes
are known at compile time (a program needs them)."""

from __future__ import annotations

from ..dialects.func import FuncOp
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..ir.diagnostics import NameLoc
from ..ir.types import RankedTensorType
from ..pm import PassFailure


def layer_name(op: Operation) -> str:
    """The ONNX node an op came from (its location's name), else its op name."""
    return op.location.name if isinstance(op.location, NameLoc) else op.name


def require_static_shapes(module: ModuleOp) -> None:
    """Refuse, naming the op and its node, a value whose shape is not known at compile time."""
    for op in module.walk():
        if isinstance(op, FuncOp | ModuleOp):
            continue
        for v in op.results:
            t = v.type
            if isinstance(t, RankedTensorType) and any(d is None for d in t.shape):
                raise PassFailure(
                    f"'{op.name}' (node '{layer_name(op)}') has a result of shape {t} that "
                    "depends on the input values: a program needs static shapes (pin the inputs "
                    "with --input-shape; shapes computed from data cannot be compiled)",
                    op.location,
                )
