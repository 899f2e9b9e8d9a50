"""fuse-requant-activation: a ReLU or clip after a crossbar layer's readout becomes its clamp.

``cl.requant`` clamps its float result to ``[lo, hi]`` with ``max`` then ``min``, exactly what
the ONNX Relu (``max(x, 0)``) and Clip (``max`` with its minimum, then ``min`` with its maximum)
kernels do, so folding them into the readout gives the same bits and saves the cores one pass
over the activation (and its buffer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..dialects import imc
from ..dialects import onnx as onnx_dialect
from ..ir.attributes import FloatAttr
from ..ir.builtin import ModuleOp
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern, constant_value
from ..pm import Pass, register_pass
from ._fusion import run_patterns

RELU = onnx_dialect.ONNX_OPS["Relu"].name
CLIP = onnx_dialect.ONNX_OPS["Clip"].name


def _bound(value) -> float | None:
    """A scalar constant operand's value; None when absent; NaN when not a constant."""
    if value is None or isinstance(value.owner, onnx_dialect.NoValueOp):
        return None
    attr = constant_value(value)
    if attr is None or attr.array.size != 1:
        return math.nan
    return float(np.asarray(attr.array, np.float32).reshape(()))


def activation_bounds(kernel: str, opset: int, params: dict, operands) -> tuple | None:
    """(lo, hi) of a Relu or a Clip with constant bounds (op name ``kernel``, its attributes
    ``params`` and operands), else None."""
    if kernel == RELU:
        return 0.0, math.inf
    if kernel != CLIP:
        return None
    if opset < 11:
        lo, hi = params.get("min"), params.get("max")
    else:
        lo = _bound(operands[1] if len(operands) > 1 else None)
        hi = _bound(operands[2] if len(operands) > 2 else None)
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        return None  # not constant, or the degenerate min > max case: leave it to the kernel
    return lo, hi


def clamp_of(op: imc.KernelOp) -> tuple[float, float] | None:
    """(lo, hi) of a Relu or Clip kernel with constant bounds, else None."""
    return activation_bounds(
        op.get_attr("kernel"), op.get_attr("opset"), op.get_attr("params"), op.operands
    )


class FoldActivationIntoRequant(RewritePattern):
    """kernel Relu/Clip(requant(x)) -> requant(x) with its clamp narrowed."""

    root = imc.KernelOp.name

    def match_and_rewrite(self, op, rw: PatternRewriter):
        bounds = clamp_of(op)
        if bounds is None:
            return NoMatch("not a ReLU or a clip with constant bounds")
        src = op.operands[0].owner
        if not isinstance(src, imc.RequantOp):
            return NoMatch("its input is not a crossbar readout")
        if str(src.results[0].type.element_type) != "f32" or len(op.operands[0].users()) != 1:
            return NoMatch("the readout is not a float value used only here")
        if op.results[0].type != src.results[0].type:
            return NoMatch("the activation changes the type")
        lo, hi = bounds
        src.attributes["lo"] = FloatAttr(max(float(src.get_attr("lo")), lo))
        src.attributes["hi"] = FloatAttr(min(float(src.get_attr("hi")), hi))
        rw.replace_op(op, [src.results[0]])
        return True


@register_pass
@dataclass(frozen=True)
class FuseRequantActivationPass(Pass):
    """Folds a ReLU or constant-bound Clip that follows an ``imc.requant`` into its clamp."""

    name = "fuse-requant-activation"
    summary = "Fold ReLU/Clip after a crossbar readout into the readout's clamp"

    debug_patterns: bool = field(default=False, metadata={"help": "explain declined matches"})

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [FoldActivationIntoRequant()], self.debug_patterns)
