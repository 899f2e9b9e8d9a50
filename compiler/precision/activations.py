"""Activation quantization of a crossbar layer: the DAC conversion of its input and its ADC ranges.

Static quantization fixes one scale per layer input from calibration data (max-abs, percentile or
MSE clipping, ``numerics/actquant.py``): non-negative inputs (ReLU outputs) use unsigned codes
0..2^bits − 1, others the narrow symmetric signed range, or with ``asymmetric`` unsigned codes and
a zero point covering [min, max]. Dynamic quantization leaves the scale to the array periphery,
one per input vector (assumed available on every target; it is the ``dynamic_quantize`` op).
Convolutions are quantized statically (their input vectors are im2col patches of one image).

The ADC shift of every (plane, sign, row tile, column group) is then chosen on the integer column
sums the calibration codes produce (``numerics/adc.py``, MSE criterion by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dialects.quant import ConvOp, CrossbarLayerOp, DynamicQuantizeOp, QuantizeOp
from ..interp.quant_ops import dynamic_codes, quantize_codes
from ..ir.attributes import DenseElementsAttr, FloatAttr, IntegerAttr
from ..ir.core import Operation, Value
from ..ir.types import NoneType, RankedTensorType, f32, i8, ui8
from .layers import as_layer, replace_layer
from .numerics.actquant import calibrate_scale
from .numerics.crossbar import (
    CrossbarWeights,
    calibrate_shift,
    crossbar_matmul,
    ideal_matmul,
    spread,
    tile_sums,
)
from .numerics.metrics import relative_error
from .record import set_float

MODES = ("auto", "static", "dynamic")
#: ADC calibration looks at most this many input vectors per layer (evenly spaced).
ADC_SAMPLE_ROWS = 512


@dataclass(frozen=True)
class ActSpec:
    """How to quantize layer inputs: mode, DAC bits, clipping method, ADC settings."""

    mode: str = "auto"
    bits: int = 8
    method: str = "maxabs"
    asymmetric: bool = False
    adc_bits: int = 8
    adc_group: int = 256
    adc_criterion: str = "mse"

    def dynamic_for(self, op: Operation) -> bool:
        """Whether ``op``'s input is quantized per vector at run time."""
        return self.dynamic_for_kind("conv" if isinstance(op, ConvOp) else "linear")

    def dynamic_for_kind(self, kind: str) -> bool:
        """Whether a ``kind`` ("linear" or "conv") layer's input is quantized per vector."""
        return kind != "conv" and self.mode in ("auto", "dynamic")


@dataclass(frozen=True)
class StaticParams:
    """A static input quantization: code type, scale, zero point."""

    element_type: object
    scale: float
    zero_point: int


def static_params(x: np.ndarray, spec: ActSpec) -> StaticParams:
    """Scale and zero point for calibration values ``x`` (any shape)."""
    x = np.asarray(x, np.float32)
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0:
        # Unsigned codes: qmax(bits + 1) = 2^bits − 1 levels above zero.
        scale = calibrate_scale(x, spec.method, spec.bits + 1)
        return StaticParams(ui8, float(scale), 0)
    if spec.asymmetric:
        levels = (1 << spec.bits) - 1
        scale = max(hi - lo, 1e-30) / levels
        zp = int(np.clip(np.rint(-lo / np.float32(scale)), 0, levels))
        return StaticParams(ui8, float(np.float32(scale)), zp)
    return StaticParams(i8, float(calibrate_scale(x, spec.method, spec.bits)), 0)


def input_ops(op: Operation, x_value: Value, x_cal: np.ndarray, spec: ActSpec, kind: str = ""):
    """The conversion op feeding layer ``op`` and the attributes the layer takes from it.

    ``kind`` ("linear"/"conv") overrides what ``op`` says. Returns ``(conversion op, codes
    value, scale operand or None, layer attributes)``.
    """
    t = x_value.type
    dynamic = spec.dynamic_for_kind(kind) if kind else spec.dynamic_for(op)
    if dynamic:
        scale_type = RankedTensorType((*t.shape[:-1], 1), f32)
        conv = DynamicQuantizeOp.create(
            [x_value], [RankedTensorType(t.shape, i8), scale_type],
            {"bits": IntegerAttr(spec.bits)}, location=op.location,
        )  # fmt: skip
        return conv, conv.results[0], conv.results[1], {}
    p = static_params(x_cal, spec)
    conv = QuantizeOp.create(
        [x_value], [RankedTensorType(t.shape, p.element_type)],
        {"scale": FloatAttr(p.scale), "zero_point": IntegerAttr(p.zero_point),
         "bits": IntegerAttr(spec.bits)},
        location=op.location,
    )  # fmt: skip
    attrs = {"input_scale": FloatAttr(p.scale), "input_zero_point": IntegerAttr(p.zero_point)}
    return conv, conv.results[0], None, attrs


def calibration_codes(conv: Operation, x: np.ndarray) -> tuple[np.ndarray, int]:
    """The codes the conversion op produces for calibration input ``x``, and the zero point."""
    if isinstance(conv, DynamicQuantizeOp):
        return dynamic_codes(x, conv.get_attr("bits"))[0], 0
    t = conv.results[0].type.element_type
    zp = conv.get_attr("zero_point")
    return quantize_codes(x, conv.get_attr("scale"), zp, t, conv.get_attr("bits")), zp


def adc_shifts(w: CrossbarWeights, codes_rows: np.ndarray, rows: int, spec: ActSpec) -> np.ndarray:
    """int64 ``[P, S, T, G]``: per plane, sign, row tile and column group, the ADC shift."""
    if codes_rows.shape[0] > ADC_SAMPLE_ROWS:
        codes_rows = codes_rows[spread(codes_rows.shape[0], ADC_SAMPLE_ROWS)]
    cells = w.column_cells()
    p, s = cells.shape[:2]
    t = -(-w.fan_in // rows)
    g = -(-w.out_channels // spec.adc_group)
    out = np.zeros((p, s, t, g), np.int64)
    for i in range(p):
        for j in range(s):
            for r, sums in enumerate(tile_sums(codes_rows, cells[i, j], rows)):
                out[i, j, r] = _calibrate(sums, spec)
    return out


def _calibrate(sums: np.ndarray, spec: ActSpec) -> np.ndarray:
    return calibrate_shift(sums, spec.adc_bits, spec.adc_criterion, spec.adc_group)


def adc_attrs(w: CrossbarWeights, codes_rows: np.ndarray, rows: int, spec: ActSpec) -> dict:
    """The ADC attributes of a layer (none for an ideal readout)."""
    if not spec.adc_bits:
        return {}
    shift = adc_shifts(w, codes_rows, rows, spec)
    return {
        "adc_bits": IntegerAttr(spec.adc_bits),
        "adc_shift": DenseElementsAttr.from_array(shift),
        "adc_group": IntegerAttr(spec.adc_group),
    }


def quantized_layer(op: CrossbarLayerOp, codes: Value, scale: Value | None, attrs: dict):
    """A copy of float-input layer ``op`` reading ``codes`` (and ``scale``) with ``attrs`` added."""
    new_attrs = {k: v for k, v in op.attributes.items()}
    new_attrs.update(attrs)
    operands = [codes]
    if len(op.operands) > 1:
        operands.append(scale if scale is not None else _none_operand(op))
    return type(op).create(operands, [op.results[0].type], new_attrs, location=op.location)


def _none_operand(op: CrossbarLayerOp) -> Value:
    value = op.operands[1]
    assert isinstance(value.type, NoneType)
    return value


def convert_layer(op: CrossbarLayerOp, x, spec: ActSpec) -> list[Operation]:
    """Replace float-input layer ``op`` (calibration input ``x``) by conversion + integer layer."""
    layer = as_layer(op)
    conv, codes, scale, attrs = input_ops(op, op.operands[0], x, spec)
    cal_codes, zp = calibration_codes(conv, x)
    sample = layer.rows(cal_codes, zp, spread(layer.row_count(cal_codes), ADC_SAMPLE_ROWS))
    attrs.update(adc_attrs(op.crossbar_weights(), sample, op.readout().rows, spec))
    new = quantized_layer(op, codes, scale, attrs)
    set_float(new, "quant.act_error", act_error(op, new, conv, x))
    replace_layer(op, [conv, new])
    return [conv, new]


def act_error(old: CrossbarLayerOp, new: CrossbarLayerOp, conv: Operation, x) -> float:
    """Relative error the DAC/ADC conversion adds to the layer's output on input ``x``,
    estimated on at most :data:`ACT_ERROR_ROWS` crossbar input vectors."""
    layer = as_layer(old)
    rows = layer.rows(x, index=spread(layer.row_count(x), ACT_ERROR_ROWS))
    w, bias = old.crossbar_weights(), old.bias()
    if isinstance(conv, DynamicQuantizeOp):
        codes, scale = dynamic_codes(rows, conv.get_attr("bits"))
        zp = 0
    else:
        # Quantizing im2col rows equals im2col of the codes: padding 0 becomes the zero point.
        codes, zp = calibration_codes(conv, rows)
        scale = conv.get_attr("scale")
    got = crossbar_matmul(codes, scale, zp, w, new.readout(), bias)
    return relative_error(ideal_matmul(rows, w, bias), got)


#: The act-error estimate looks at this many input vectors at most (evenly spaced).
ACT_ERROR_ROWS = 2048
