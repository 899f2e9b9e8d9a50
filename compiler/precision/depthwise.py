"""8-bit depthwise convolutions for the digital depthwise unit (``quant.dwconv``).

Depthwise convolutions map badly onto crossbars (one channel per column, mostly zeros), so the
cluster target runs them on its digital depthwise unit: int8 weights (per-channel max-abs steps),
8-bit DAC codes in (statically calibrated, unsigned after a ReLU), exact int32 sums out. This
module finds the float depthwise convolutions of a model and builds their quantized form.
"""

from __future__ import annotations

import numpy as np

from ..dialects import onnx as onnx_dialect
from ..dialects.quant import DepthwiseConvOp, QuantizeOp
from ..ir.attributes import ArrayAttr, DenseElementsAttr, FloatAttr, IntegerAttr
from ..ir.core import Operation
from ..ir.rewriter import constant_value
from ..ir.types import NoneType, RankedTensorType, f32
from .activations import ActSpec, static_params

CONV = onnx_dialect.ONNX_OPS["Conv"]
#: Largest |weight code|: the narrow symmetric int8 range.
WEIGHT_MAX = 127


def is_float_depthwise(op: Operation) -> bool:
    """A float32 2-D depthwise Conv (one input channel per group, one output per channel) with
    constant weights and bias and explicit padding."""
    if not isinstance(op, CONV) or len(op.operands) < 2:
        return False
    x, y = op.operands[0].type, op.results[0].type
    w = constant_value(op.operands[1])
    if not isinstance(x, RankedTensorType) or x.rank != 4 or x.element_type != f32:
        return False
    if w is None or w.array.ndim != 4 or y.element_type != f32:
        return False
    c = x.shape[1]
    group = op.get_attr("group", 1)
    if group != c or c is None or w.array.shape[:2] != (c, 1):
        return False
    if op.get_attr("auto_pad", "NOTSET") != "NOTSET":
        return False
    if len(op.operands) > 2 and not isinstance(op.operands[2].type, NoneType):
        return constant_value(op.operands[2]) is not None
    return True


def depthwise_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes ``[kh, kw, C]`` and float32 steps ``[C]`` of weights ``[C, 1, kh, kw]``."""
    w = np.asarray(w, np.float32)[:, 0]  # [C, kh, kw]
    amax = np.abs(w).max(axis=(1, 2))
    step = np.where(amax > 0, amax / np.float32(WEIGHT_MAX), np.float32(1)).astype(np.float32)
    codes = np.clip(np.rint(w / step[:, None, None]), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    return np.ascontiguousarray(codes.transpose(1, 2, 0)), step


def quantized_depthwise(op: Operation, x_cal: np.ndarray, spec: ActSpec) -> list[Operation]:
    """The DAC conversion and ``quant.dwconv`` replacing float depthwise ``op`` (calibration
    input ``x_cal``)."""
    x = op.operands[0]
    p = static_params(x_cal, spec)
    quantize = QuantizeOp.create(
        [x], [RankedTensorType(x.type.shape, p.element_type)],
        {"scale": FloatAttr(p.scale), "zero_point": IntegerAttr(p.zero_point),
         "bits": IntegerAttr(spec.bits)},
        location=op.location,
    )  # fmt: skip
    codes, step = depthwise_weights(constant_value(op.operands[1]).array)
    kh, kw = codes.shape[:2]

    def ints(key, default):
        return ArrayAttr(tuple(IntegerAttr(int(v)) for v in (op.get_attr(key) or default)))

    attrs = {
        "weights": DenseElementsAttr.from_array(codes),
        "scale": DenseElementsAttr.from_array(step),
        "input_scale": FloatAttr(p.scale),
        "input_zero_point": IntegerAttr(p.zero_point),
        "kernel_shape": ArrayAttr((IntegerAttr(kh), IntegerAttr(kw))),
        "strides": ints("strides", (1, 1)),
        "pads": ints("pads", (0, 0, 0, 0)),
        "dilations": ints("dilations", (1, 1)),
    }
    if len(op.operands) > 2 and not isinstance(op.operands[2].type, NoneType):
        bias = constant_value(op.operands[2]).array.astype(np.float32)
        attrs["bias"] = DenseElementsAttr.from_array(bias)
    dw = DepthwiseConvOp.create(
        [quantize.results[0]], [op.results[0].type], attrs, location=op.location
    )
    return [quantize, dw]
