"""The ``quant`` dialect: quantized crossbar layers and the activation conversions feeding them.

The precision passes (``ternarize``, ``quantize-weights``, ``quantize-activations``,
``precision-auto``) rewrite a model's static weight products into these ops, so the IR carries
exactly what the hardware holds and computes, and the reference interpreter
(``compiler/interp/quant_ops.py``) runs it bit for bit:

- ``quant.quantize`` — the DAC: float → int8 codes with a static scale and zero point;
- ``quant.dynamic_quantize`` — per-vector scales computed by the array periphery at run time;
- ``quant.dynamic_matmul`` — a product of two run-time operands on a dynamic array (attention);
- ``quant.linear`` / ``quant.conv`` — one crossbar layer: weight cells (ternary planes or int8
  codes) with per-output-channel scales, the ADC readout (bits, array rows per tile, a shift per
  plane, sign, row tile and column group) and the digital rescale and bias.

A layer whose input is a float tensor is the ideal analog machine (no DAC, no ADC): this is what
``ternarize`` alone produces, before ``quantize-activations`` inserts the conversions. Weight
attributes (one convention for both layer ops):

- ``weights``: int8 ``[P, O, K]`` — P residual planes of ternary cells (values in {−1, 0, 1})
  or, with ``format = "int4"``, of 4-bit cells in −7..7 (an 8-bit weight is two such planes);
  K is the fan-in (kh·kw·C for a conv, in that order: kernel row, kernel column, channel);
- ``scale``: f32 ``[P, O]`` — α per plane and channel (α⁺ when ``scale_neg`` is present);
- ``scale_neg``: f32 ``[P, O]`` — optional separate negative scales (TTQ); each plane then uses a
  positive and a negative column per channel;
- ``bias``: f32 ``[O]`` (optional);
- ``array_rows``: inputs per row tile (at most the array height; a conv's tiles never straddle
  two kernel rows); each tile's column sums are read by the ADC separately and the readings
  added in int32;
- ``input_scale`` / ``input_zero_point``: the static quantization of an integer input;
- ``adc_bits`` (optional, 0 = ideal), ``adc_shift`` i64 ``[P, S, T, G]``, ``adc_group`` (columns
  per ADC range group).

Discardable ``quant.*`` attributes (``quant.weight_error``, ``quant.output_error``,
``quant.choice``) record what the passes measured, so the precision report can be printed from the
IR alone.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.attributes import ArrayAttr, DenseElementsAttr, FloatAttr, IntegerAttr, StringAttr
from ..ir.diagnostics import VerificationError
from ..ir.ops import AttrDef, IROp, OperandDef, Pure, ResultDef, tensor_or_none, tensor_type
from ..ir.types import FloatType, IntegerType, NoneType, RankedTensorType, f32, numpy_dtype
from ..precision.numerics.crossbar import (
    CELL_LIMIT,
    WEIGHT_FORMATS,
    CrossbarWeights,
    OutputCodes,
    Readout,
    ReadoutParams,
    readout_params,
)

#: Largest DAC width the int8 activation tensors can hold.
MAX_ACT_BITS = 8


def code_range(element_type, bits: int) -> tuple[int, int]:
    """Codes of a ``bits``-wide activation: narrow symmetric for i8, full range for ui8."""
    if isinstance(element_type, IntegerType) and element_type.unsigned:
        return 0, (1 << bits) - 1
    return -((1 << (bits - 1)) - 1), (1 << (bits - 1)) - 1


def is_code_type(t) -> bool:
    """Whether ``t`` is a tensor of i8 or ui8 activation codes."""
    return (
        isinstance(t, RankedTensorType)
        and isinstance(t.element_type, IntegerType)
        and t.element_type.width == 8
    )


def _same_shape(a, b) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


class QuantOp(IROp):
    """Shared helpers: error wording and attribute reads."""

    traits = frozenset({Pure})

    def fail(self, message: str) -> None:
        raise VerificationError(f"'{self.name}' {message}", self.location)

    def array(self, key: str) -> np.ndarray | None:
        """The numpy value of a dense attribute, or None when absent."""
        a = self.attributes.get(key)
        return None if a is None else a.array


class QuantizeOp(QuantOp):
    """The DAC: ``q = clamp(round_half_even(x / scale) + zero_point, lo, hi)``.

    The result holds ``bits``-wide codes: i8 is the narrow symmetric range ±(2^(bits−1) − 1) with
    zero point 0; ui8 is 0 .. 2^bits − 1 with any zero point in that range (0 for non-negative
    inputs such as ReLU outputs). The division is done in float32.

    Example:
        %1 = "quant.quantize"(%0) {bits = 8, scale = 0.0125 : f32, zero_point = 0} : (tensor<1x64xf32>) -> tensor<1x64xui8>
    """

    name = "quant.quantize"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("q", tensor_type),)
    attr_defs = (
        AttrDef("scale", FloatAttr, required=True),
        AttrDef("zero_point", IntegerAttr, required=True),
        AttrDef("bits", IntegerAttr, required=True),
    )

    def verify_(self) -> None:
        x, q = self.operands[0].type, self.results[0].type
        if not isinstance(x.element_type, FloatType):
            self.fail(f"input must be a float tensor, got {x}")
        if not is_code_type(q):
            self.fail(f"result must be a tensor of i8 or ui8 codes, got {q}")
        if not _same_shape(x.shape, q.shape):
            self.fail(f"result shape {q} differs from the input {x}")
        _check_codes(self, q.element_type, self.get_attr("bits"), self.get_attr("zero_point"))
        scale = self.get_attr("scale")
        if not (math.isfinite(scale) and scale > 0):
            self.fail(f"scale must be positive and finite, got {scale}")


def _check_codes(op: QuantOp, element_type, bits: int, zero_point: int) -> None:
    if not 2 <= bits <= MAX_ACT_BITS:
        op.fail(f"bits must be in 2..{MAX_ACT_BITS}, got {bits}")
    lo, hi = code_range(element_type, bits)
    if element_type.unsigned:
        if not lo <= zero_point <= hi:
            op.fail(f"zero point {zero_point} is outside the {bits}-bit code range {lo}..{hi}")
    elif zero_point != 0:
        op.fail(f"signed (i8) codes are symmetric: zero point must be 0, got {zero_point}")


class DynamicQuantizeOp(QuantOp):
    """Per-vector quantization by the array periphery: for every vector along the last axis,
    ``scale = max|x| / (2^(bits−1) − 1)`` (1 for an all-zero vector) and
    ``q = clamp(round_half_even(x / scale))`` in the narrow symmetric range. The second result
    holds the scales with the last axis kept as 1.

    Example:
        %1, %2 = "quant.dynamic_quantize"(%0) {bits = 8} : (tensor<2x128x384xf32>) -> (tensor<2x128x384xi8>, tensor<2x128x1xf32>)
    """

    name = "quant.dynamic_quantize"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("q", tensor_type), ResultDef("scale", tensor_type))
    attr_defs = (AttrDef("bits", IntegerAttr, required=True),)

    def verify_(self) -> None:
        x = self.operands[0].type
        q, s = self.results[0].type, self.results[1].type
        if not isinstance(x.element_type, FloatType) or x.rank < 1:
            self.fail(f"input must be a float tensor of rank >= 1, got {x}")
        if not is_code_type(q) or q.element_type.unsigned:
            self.fail(f"codes must be an i8 tensor, got {q}")
        if not _same_shape(x.shape, q.shape):
            self.fail(f"codes shape {q} differs from the input {x}")
        if s.element_type != f32 or not _same_shape((*x.shape[:-1], 1), s.shape):
            self.fail(f"scales must be f32 with the input's shape and a last axis of 1, got {s}")
        _check_codes(self, q.element_type, self.get_attr("bits"), 0)


#: A layer that quantizes its own result for the next one (``fuse-output-quant``): codes
#: clamp(round_half_even(v / output_scale) + output_zero_point, output_lo, output_hi).
_OUTPUT_ATTRS = (
    AttrDef("output_scale", FloatAttr),
    AttrDef("output_zero_point", IntegerAttr),
    AttrDef("output_lo", IntegerAttr),
    AttrDef("output_hi", IntegerAttr),
)


class OutputCodesMixin:
    """Layers whose result is either float32 or, with ``output_*`` attributes, DAC codes."""

    def output_codes(self) -> OutputCodes | None:
        """The result's quantization, None for a float32 result."""
        if "output_scale" not in self.attributes:
            return None
        dtype = numpy_dtype(self.results[0].type.element_type)
        return OutputCodes(
            self.get_attr("output_scale"), int(self.get_attr("output_zero_point")),
            int(self.get_attr("output_lo")), int(self.get_attr("output_hi")), dtype,
        )  # fmt: skip

    def check_result_type(self) -> None:
        """f32, or codes exactly when the output attributes say so (all four of them)."""
        y = self.results[0].type
        given = [a.name for a in _OUTPUT_ATTRS if a.name in self.attributes]
        if given and len(given) != len(_OUTPUT_ATTRS):
            self.fail("output codes need output_scale, output_zero_point, output_lo, output_hi")
        if not given:
            if y.element_type != f32:
                self.fail(f"result must be f32 without output quantization, got {y}")
            return
        if not is_code_type(y):
            self.fail(f"a result quantized to codes must be i8 or ui8, got {y}")
        scale = self.get_attr("output_scale")
        if not (math.isfinite(scale) and scale > 0):
            self.fail(f"output_scale must be positive and finite, got {scale}")
        info = np.iinfo(numpy_dtype(y.element_type))
        lo, hi = self.get_attr("output_lo"), self.get_attr("output_hi")
        if not info.min <= lo <= hi <= info.max:
            self.fail(f"output codes {lo}..{hi} do not fit {y.element_type}")


_LAYER_ATTRS = (
    *_OUTPUT_ATTRS,
    AttrDef("weights", DenseElementsAttr, required=True),
    AttrDef("format", StringAttr, required=True),
    AttrDef("scale", DenseElementsAttr, required=True),
    AttrDef("scale_neg", DenseElementsAttr),
    AttrDef("bias", DenseElementsAttr),
    AttrDef("array_rows", IntegerAttr, required=True),
    AttrDef("input_scale", FloatAttr),
    AttrDef("input_zero_point", IntegerAttr),
    AttrDef("adc_bits", IntegerAttr),
    AttrDef("adc_shift", DenseElementsAttr),
    AttrDef("adc_group", IntegerAttr),
)


class CrossbarLayerOp(OutputCodesMixin, QuantOp):
    """Shared part of ``quant.linear`` and ``quant.conv``: weights, readout, input conversion."""

    def crossbar_weights(self) -> CrossbarWeights:
        """The layer's cells and scales."""
        return CrossbarWeights(
            self.array("weights"), self.array("scale"), self.array("scale_neg"),
            self.get_attr("format"),
        )  # fmt: skip

    def readout(self) -> Readout:
        """Rows per tile and the ADC settings (bits 0: ideal readout)."""
        return Readout(
            int(self.get_attr("array_rows")), int(self.get_attr("adc_bits", 0)),
            self.array("adc_shift"), int(self.get_attr("adc_group", 0) or 1),
        )  # fmt: skip

    @property
    def integer_input(self) -> bool:
        """Whether the layer reads DAC codes (else it is the ideal analog layer)."""
        return is_code_type(self.operands[0].type)

    def bias(self) -> np.ndarray | None:
        return self.array("bias")

    def verify_layer(self, fan_in, out_channels) -> None:
        """Checks shared by both layer ops; ``fan_in``/``out_channels`` as the operands imply."""
        w = self.attributes["weights"]
        fmt = self.get_attr("format")
        if fmt not in WEIGHT_FORMATS:
            self.fail(f"format must be one of {', '.join(WEIGHT_FORMATS)}, got '{fmt}'")
        if str(w.type.element_type) != "i8" or w.type.rank != 3:
            self.fail(f"weights must be i8 [planes, out, fan_in], got {w.type}")
        p, o, k = w.type.shape
        if fan_in is not None and k != fan_in:
            self.fail(f"weights have fan-in {k}, the input provides {fan_in}")
        if out_channels is not None and o != out_channels:
            self.fail(f"weights have {o} output channels, the result has {out_channels}")
        cells = w.array
        limit = CELL_LIMIT[fmt]
        if cells.size and np.abs(cells.astype(np.int16)).max() > limit:
            allowed = "{-1, 0, 1}" if fmt == "ternary" else f"-{limit}..{limit}"
            self.fail(f"{fmt} weights must be in {allowed}")
        for key in ("scale", "scale_neg"):
            self._check_dense(key, (p, o), "f32")
        self._check_dense("bias", (o,), "f32")
        rows = self.get_attr("array_rows")
        if rows < 1:
            self.fail(f"array_rows must be positive, got {rows}")
        self._verify_input()
        self._verify_adc(p, o, k, rows)

    def _check_dense(self, key: str, shape: tuple, element: str) -> None:
        a = self.attributes.get(key)
        if a is None:
            return
        if tuple(a.type.shape) != shape or str(a.type.element_type) != element:
            dims = "x".join(map(str, shape))
            self.fail(f"attribute '{key}' must be tensor<{dims}x{element}>, got {a.type}")
        if element.startswith("f") and not np.isfinite(a.array).all():
            self.fail(f"attribute '{key}' holds NaN or infinite values")

    def _verify_input(self) -> None:
        x = self.operands[0].type
        dynamic = len(self.operands) > 1 and not isinstance(self.operands[1].type, NoneType)
        if isinstance(x.element_type, FloatType):
            if dynamic or "input_scale" in self.attributes or "adc_bits" in self.attributes:
                self.fail("a float input is the ideal analog layer: no input scale, no ADC")
            return
        if not is_code_type(x):
            self.fail(f"input must be float or i8/ui8 codes, got {x}")
        if dynamic == ("input_scale" in self.attributes):
            self.fail("integer input needs exactly one of an input_scale or a scale operand")
        if dynamic and x.element_type.unsigned:
            self.fail("dynamically quantized input must be i8")
        zp = self.get_attr("input_zero_point", 0)
        if not x.element_type.unsigned and zp != 0:
            self.fail(f"i8 input codes are symmetric: input_zero_point must be 0, got {zp}")

    def _verify_adc(self, p: int, o: int, k: int, rows: int) -> None:
        bits = self.get_attr("adc_bits", 0)
        if not bits:
            return
        if not 1 <= bits <= 32:
            self.fail(f"adc_bits must be in 1..32, got {bits}")
        group = self.get_attr("adc_group")
        if group is None or group < 1 or "adc_shift" not in self.attributes:
            self.fail("an ADC needs adc_shift and a positive adc_group")
        s = 2 if "scale_neg" in self.attributes else 1
        shape = (p, s, -(-k // rows), -(-o // group))
        self._check_dense("adc_shift", shape, "i64")
        shift = self.array("adc_shift")
        if shift.size and ((shift < 0) | (shift > 62)).any():
            self.fail("adc_shift values must be in 0..62")


class LinearOp(CrossbarLayerOp):
    """A crossbar fully connected layer: ``y[..., o] = Σ_k x[..., k]·Ŵ[o, k] + bias[o]``.

    ``x`` is ``[..., K]``: float (ideal analog), ``ui8``/``i8`` codes with a static
    ``input_scale``, or i8 codes with per-vector scales ``[..., 1]`` as the second operand
    (``none`` otherwise). The result is f32 ``[..., O]``.

    Example:
        %2 = "quant.linear"(%1, %none) {array_rows = 256, format = "ternary", input_scale = 0.02 : f32, input_zero_point = 0, scale = dense<[[0.5, 0.25]]> : tensor<1x2xf32>, weights = dense<[[[1, 0, -1], [0, 1, 1]]]> : tensor<1x2x3xi8>} : (tensor<4x3xi8>, none) -> tensor<4x2xf32>
    """

    name = "quant.linear"
    operand_defs = (
        OperandDef("x", tensor_type),
        OperandDef("x_scale", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = _LAYER_ATTRS

    def verify_(self) -> None:
        x, y = self.operands[0].type, self.results[0].type
        self.check_result_type()
        if x.rank < 1:
            self.fail(f"needs an input of rank >= 1, got {x}")
        if not _same_shape(x.shape[:-1], y.shape[:-1]):
            self.fail(f"result {y} must keep the input's leading dimensions {x}")
        scale = self.operand("x_scale")
        if scale is not None and not _same_shape((*x.shape[:-1], 1), scale.type.shape):
            self.fail(f"input scales {scale.type} must be the input's shape with a last axis of 1")
        self.verify_layer(x.shape[-1], y.shape[-1])


class ConvOp(CrossbarLayerOp):
    """A crossbar 2-D convolution (group 1, NCHW): im2col rows of the input (padded with the
    zero point) times the crossbar weights, as one job per layer. Input float or ui8/i8 codes
    with a static ``input_scale``; result f32 ``[N, O, Ho, Wo]``. ``kernel_shape``, ``strides``,
    ``dilations`` (2 values) and ``pads`` (top, left, bottom, right) are explicit.

    Example:
        %1 = "quant.conv"(%0) {array_rows = 256, dilations = [1, 1], format = "ternary", kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<0.5> : tensor<1x1xf32>, strides = [1, 1], weights = dense<1> : tensor<1x1x2xi8>} : (tensor<1x2x4x4xf32>) -> tensor<1x1x4x4xf32>
    """

    name = "quant.conv"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        *_LAYER_ATTRS,
        AttrDef("kernel_shape", ArrayAttr, required=True),
        AttrDef("strides", ArrayAttr, required=True),
        AttrDef("pads", ArrayAttr, required=True),
        AttrDef("dilations", ArrayAttr, required=True),
    )

    def geometry(self) -> dict[str, tuple[int, ...]]:
        """kernel_shape, strides, pads, dilations as int tuples."""
        keys = ("kernel_shape", "strides", "pads", "dilations")
        return {k: tuple(int(v) for v in self.get_attr(k)) for k in keys}

    def verify_(self) -> None:
        x, y = self.operands[0].type, self.results[0].type
        self.check_result_type()
        if x.rank != 4 or y.rank != 4:
            self.fail(f"needs an NCHW input and an NCHW result, got {x} -> {y}")
        g = self.geometry()
        sizes = {"kernel_shape": 2, "strides": 2, "pads": 4, "dilations": 2}
        for key, n in sizes.items():
            if len(g[key]) != n or any(v < (0 if key == "pads" else 1) for v in g[key]):
                self.fail(
                    f"'{key}' must hold {n} {'non-negative' if key == 'pads' else 'positive'} integers"
                )
        kh, kw = g["kernel_shape"]
        fan_in = None if x.shape[1] is None else x.shape[1] * kh * kw
        self.verify_layer(fan_in, y.shape[1])


class DepthwiseConvOp(OutputCodesMixin, QuantOp):
    """An 8-bit depthwise convolution (group = channels, NCHW), the digital depthwise unit's job:
    ``acc[n, c, y, x] = Σ_{i, j} q[n, c, y·sh + i·dh − pt, x·sw + j·dw − pl] · w[i, j, c]`` exact
    in int32 on DAC codes ``q`` (padding reads the zero point), then, per channel in float32,
    ``(acc − zero_point · Σ_{i,j} w[i, j, c]) · (scale[c] · input_scale) + bias[c]``.
    ``weights`` are int8 codes ``[kh, kw, C]`` in −127..127 with per-channel steps ``scale``.

    Example:
        %y = "quant.dwconv"(%q) {dilations = [1, 1], input_scale = 0.05 : f32, input_zero_point = 0, kernel_shape = [1, 1], pads = [0, 0, 0, 0], scale = dense<0.01> : tensor<2xf32>, strides = [1, 1], weights = dense<3> : tensor<1x1x2xi8>} : (tensor<1x2x4x4xui8>) -> tensor<1x2x4x4xf32>
    """

    name = "quant.dwconv"
    operand_defs = (OperandDef("x", tensor_type),)
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("weights", DenseElementsAttr, required=True),
        AttrDef("scale", DenseElementsAttr, required=True),
        AttrDef("bias", DenseElementsAttr),
        AttrDef("input_scale", FloatAttr, required=True),
        AttrDef("input_zero_point", IntegerAttr, required=True),
        AttrDef("kernel_shape", ArrayAttr, required=True),
        AttrDef("strides", ArrayAttr, required=True),
        AttrDef("pads", ArrayAttr, required=True),
        AttrDef("dilations", ArrayAttr, required=True),
        *_OUTPUT_ATTRS,
    )

    def geometry(self) -> dict[str, tuple[int, ...]]:
        """kernel_shape, strides, pads, dilations as int tuples."""
        keys = ("kernel_shape", "strides", "pads", "dilations")
        return {k: tuple(int(v) for v in self.get_attr(k)) for k in keys}

    def readout_params(self) -> ReadoutParams:
        """The periphery (``cl.requant``) after the depthwise unit's int32 sums."""
        return readout_params(
            self.array("scale").astype(np.float32), 1, self.get_attr("input_scale"),
            int(self.get_attr("input_zero_point")), self.weight_sums(), self.array("bias"),
            self.output_codes(),
        )  # fmt: skip

    def weight_sums(self) -> np.ndarray:
        """int64 ``[C]``: Σ over the kernel of each channel's weights (zero-point correction)."""
        return self.array("weights").astype(np.int64).sum(axis=(0, 1))

    def verify_(self) -> None:
        x, y = self.operands[0].type, self.results[0].type
        self.check_result_type()
        if x.rank != 4 or y.rank != 4 or not is_code_type(x):
            self.fail(f"needs NCHW i8/ui8 codes and an NCHW result, got {x} -> {y}")
        g = self.geometry()
        w = self.attributes["weights"]
        c = x.shape[1]
        kh, kw = g["kernel_shape"]
        if str(w.type.element_type) != "i8" or tuple(w.type.shape) != (kh, kw, c):
            self.fail(f"weights must be i8 [{kh}, {kw}, {c}], got {w.type}")
        if w.array.size and (w.array == -128).any():
            self.fail("weight codes must be in -127..127")
        if y.shape[1] != c:
            self.fail(f"a depthwise convolution keeps the {c} channels, got {y}")
        for key in ("scale", "bias"):
            self._check(key, c)
        zp = self.get_attr("input_zero_point")
        if not x.element_type.unsigned and zp != 0:
            self.fail(f"i8 input codes are symmetric: input_zero_point must be 0, got {zp}")

    def _check(self, key: str, c: int) -> None:
        a = self.attributes.get(key)
        if a is None:
            return
        if tuple(a.type.shape) != (c,) or str(a.type.element_type) != "f32":
            self.fail(f"attribute '{key}' must be tensor<{c}xf32>, got {a.type}")
        if not np.isfinite(a.array).all():
            self.fail(f"attribute '{key}' holds NaN or infinite values")


class DynamicMatmulOp(QuantOp):
    """A product of two run-time operands on a dynamic array (attention's Q·Kᵀ and P·V).

    ``bt`` (i8 codes ``[*g, K, N]``) is written into dynamic arrays, ``K`` along the rows and
    ``N`` along the columns; the rows of ``a`` (i8 codes ``[*g, M, K]``) stream through it as
    input vectors. Per row tile of ``array_rows`` inputs the exact integer column sums are read
    by the ADC (``adc_bits``, 0 = ideal; step ``2^adc_shift``, clamped) and the readings added in
    int32, saturating. The result, f32 ``[*g, M, N]``, is
    ``float32(acc) · a_scale`` then ``· b_scale`` when given: ``a_scale`` f32 ``[*g, M, 1]`` are
    the per-vector scales of ``a``, ``b_scale`` f32 ``[*g, 1, N]`` per-column scales of ``bt``
    (``none`` when ``bt``'s scale was folded into ``a``).

    Example:
        %y = "quant.dynamic_matmul"(%a, %as, %bt, %bs) {adc_bits = 12, adc_shift = 4, array_rows = 64} : (tensor<1x2x8x16xi8>, tensor<1x2x8x1xf32>, tensor<1x2x16x8xi8>, tensor<1x2x1x8xf32>) -> tensor<1x2x8x8xf32>
    """

    name = "quant.dynamic_matmul"
    operand_defs = (
        OperandDef("a", tensor_type),
        OperandDef("a_scale", tensor_type),
        OperandDef("bt", tensor_type),
        OperandDef("b_scale", tensor_or_none, optional=True),
    )
    result_defs = (ResultDef("y", tensor_type),)
    attr_defs = (
        AttrDef("array_rows", IntegerAttr, required=True, doc="inputs per row tile (ADC reading)"),
        AttrDef("adc_bits", IntegerAttr, required=True, doc="ADC bits (0: ideal readout)"),
        AttrDef("adc_shift", IntegerAttr, required=True, doc="ADC step 2^adc_shift"),
    )

    def b_scale(self):
        """The ``b_scale`` operand, None when absent."""
        if len(self.operands) < 4 or isinstance(self.operands[3].type, NoneType):
            return None
        return self.operands[3]

    def verify_(self) -> None:
        a, sa, bt = (self.operands[i].type for i in (0, 1, 2))
        y = self.results[0].type
        if any(not isinstance(t, RankedTensorType) or t.rank < 2 for t in (a, sa, bt, y)):
            self.fail("operands and result must be ranked tensors of rank >= 2")
        for name, t in (("a", a), ("bt", bt)):
            if not is_code_type(t) or t.element_type.unsigned:
                self.fail(f"'{name}' must be i8 codes, got {t}")
        *g, m, k = a.shape
        k2, n = bt.shape[-2:]
        if tuple(bt.shape[:-2]) != tuple(g) or k2 != k:
            self.fail(f"'bt' must be [{', '.join(map(str, (*g, k)))}, N] for 'a' {a}, got {bt}")
        if sa.element_type != f32 or tuple(sa.shape) != (*g, m, 1):
            self.fail(f"'a_scale' must be f32 [*g, M, 1] for 'a' {a}, got {sa}")
        sb = self.b_scale()
        if sb is not None and (sb.type.element_type != f32 or tuple(sb.type.shape) != (*g, 1, n)):
            self.fail(f"'b_scale' must be f32 [*g, 1, N] for 'bt' {bt}, got {sb.type}")
        if y.element_type != f32 or tuple(y.shape) != (*g, m, n):
            self.fail(f"result must be f32 [*g, M, N] = {(*g, m, n)}, got {y}")
        if self.get_attr("array_rows") < 1:
            self.fail("array_rows must be positive")
        if not 0 <= self.get_attr("adc_bits") <= 32 or not 0 <= self.get_attr("adc_shift") < 32:
            self.fail("adc_bits must be in 0..32 and adc_shift in 0..31")
