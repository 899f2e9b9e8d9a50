"""fuse-output-quant: a layer whose result is only quantized for the next layer emits the codes.

The periphery of a crossbar (or the depthwise unit) rescales its integer sums anyway; when the
float result only goes, through a ReLU or a clip, to the DAC conversion of the next layer, the
rescale can divide by that conversion's scale and round once: ``clamp(round_half_even(v /
s_out) + zp, lo, hi)``, the activation folded into the clamp. The layer then writes 8-bit codes
instead of float32 values (a quarter of the bytes) and the cores skip a pass over them. This is
the definition of the layer from here on (the quant level's semantics), so every later level
computes exactly it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..dialects.onnx import module_opset, plain_attributes
from ..dialects.quant import CrossbarLayerOp, DepthwiseConvOp, QuantizeOp, code_range
from ..ir.attributes import FloatAttr, IntegerAttr
from ..ir.builtin import ModuleOp
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern
from ..ir.types import RankedTensorType, f32
from ..pm import Pass, register_pass
from ._fusion import run_patterns
from .fuse_requant_activation import CLIP, RELU, activation_bounds


def _sole_user(value):
    users = value.users()
    return users[0] if len(users) == 1 else None


class FuseOutputQuantization(RewritePattern):
    """layer -> [Relu | Clip] -> quant.quantize  =>  layer{output codes}."""

    root = QuantizeOp.name

    def match_and_rewrite(self, op: QuantizeOp, rw: PatternRewriter):
        src = op.operands[0].owner
        act = None
        if getattr(src, "name", None) in (RELU, CLIP):
            act, src = src, src.operands[0].owner
        if not isinstance(src, CrossbarLayerOp | DepthwiseConvOp):
            return NoMatch("the quantized value is not a layer's (or its activation's) result")
        if isinstance(src, CrossbarLayerOp) and not src.integer_input:
            return NoMatch("the layer is the ideal analog one (float input)")
        if src.output_codes() is not None or src.results[0].type.element_type != f32:
            return NoMatch("the layer already emits codes")
        chain = [src] + ([act] if act is not None else [])
        for a, b in zip(chain, chain[1:] + [op]):
            if _sole_user(a.results[0]) is not b:
                return NoMatch("the float result has other users")
        scale = np.float32(op.get_attr("scale"))
        zp = int(op.get_attr("zero_point"))
        lo, hi = code_range(op.results[0].type.element_type, op.get_attr("bits"))
        if act is not None:
            bounds = _act_bounds(act)
            if bounds is None:
                return NoMatch("the clip has bounds that are not constants")
            a, b = bounds
            if a != -math.inf:
                lo = max(lo, int(np.rint(np.float32(a) / scale)) + zp)
            if b != math.inf:
                hi = min(hi, int(np.rint(np.float32(b) / scale)) + zp)
            if lo > hi:
                return NoMatch("the clip leaves no code")
        src.attributes.update(
            output_scale=FloatAttr(float(scale)),
            output_zero_point=IntegerAttr(zp),
            output_lo=IntegerAttr(lo),
            output_hi=IntegerAttr(hi),
        )
        old = src.results[0].type
        src.results[0].type = RankedTensorType(old.shape, op.results[0].type.element_type)
        rw.replace_op(op, [src.results[0]])
        if act is not None:
            rw.erase_op(act)
        return True


def _act_bounds(act):
    """(lo, hi) of a Relu or constant Clip onnx op (as fuse-requant-activation reads them)."""
    return activation_bounds(act.name, module_opset(act), plain_attributes(act), act.operands)


@register_pass
@dataclass(frozen=True)
class FuseOutputQuantPass(Pass):
    """Makes a layer (crossbar or depthwise) emit the DAC codes of the next layer when its float
    result only feeds, through a ReLU or a constant clip, that conversion."""

    name = "fuse-output-quant"
    summary = "Layers emit the next layer's DAC codes directly (ReLU/clip folded in)"

    debug_patterns: bool = field(default=False, metadata={"help": "explain declined matches"})

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [FuseOutputQuantization()], self.debug_patterns)
