"""Reference semantics of the ``quant`` dialect, registered with the interpreter on import.

These functions are the executable definition of what the crossbar hardware computes for a
quantized layer: DAC codes, exact integer column sums per row tile, ADC reads, digital rescale
(see ``compiler/precision/numerics/crossbar.py``). A layer with a float input runs the ideal
analog product.
"""

from __future__ import annotations

import numpy as np
from imcc.runtime.sim.machine import numerics as nx

from ..dialects.quant import (
    ConvOp,
    CrossbarLayerOp,
    DepthwiseConvOp,
    DynamicMatmulOp,
    DynamicQuantizeOp,
    LinearOp,
    QuantizeOp,
    code_range,
)
from ..ir.core import Operation
from ..ir.types import numpy_dtype
from ..precision.numerics.actquant import dynamic_row_scales
from ..precision.numerics.crossbar import (
    apply_readout,
    crossbar_matmul,
    ideal_matmul,
    im2col,
    rows_to_nchw,
)
from .interpreter import Array, Interpreter, InterpreterError, register_interpreter


def quantize_codes(x: np.ndarray, scale: float, zero_point: int, element_type, bits: int):
    """``clamp(round_half_even(x / scale) + zero_point)`` as the codes' numpy dtype."""
    lo, hi = code_range(element_type, bits)
    q = np.rint(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, lo, hi).astype(numpy_dtype(element_type))


@register_interpreter(QuantizeOp)
def _quantize(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    t = op.results[0].type.element_type
    scale, zp, bits = op.get_attr("scale"), op.get_attr("zero_point"), op.get_attr("bits")
    return [quantize_codes(_finite(op, inputs[0]), scale, zp, t, bits)]


def dynamic_codes(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-vector (last axis) codes int8 and scales float32 ``[..., 1]``."""
    x = np.asarray(x, np.float32)
    rows = x.reshape(-1, x.shape[-1])
    scales = dynamic_row_scales(rows, bits)
    hi = (1 << (bits - 1)) - 1
    q = np.clip(np.rint(rows / scales[:, None]), -hi, hi).astype(np.int8)
    return q.reshape(x.shape), scales.reshape((*x.shape[:-1], 1))


@register_interpreter(DynamicQuantizeOp)
def _dynamic_quantize(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return list(dynamic_codes(_finite(op, inputs[0]), op.get_attr("bits")))


def layer_rows(op: CrossbarLayerOp, x: np.ndarray, x_scale: Array = None):
    """The crossbar input rows ``[M, K]`` of a layer op, their per-row scales (dynamic input)
    and how to put the ``[M, O]`` outputs back into the result's shape."""
    if isinstance(op, ConvOp):
        g = op.geometry()
        pad = op.get_attr("input_zero_point", 0) if op.integer_input else 0
        rows, hw = im2col(x, g["kernel_shape"], g["strides"], g["pads"], g["dilations"], pad)
        n = x.shape[0]
        return rows, None, lambda y: rows_to_nchw(y, n, hw)
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])
    scale = None if x_scale is None else x_scale.reshape(-1, 1)
    return rows, scale, lambda y: y.reshape((*lead, y.shape[-1]))


def evaluate_layer(op: CrossbarLayerOp, x: np.ndarray, x_scale: Array = None) -> np.ndarray:
    """The float32 output of a crossbar layer op for input ``x`` (and dynamic scales)."""
    rows, row_scale, restore = layer_rows(op, x, x_scale)
    w = op.crossbar_weights()
    if not op.integer_input:
        return restore(ideal_matmul(rows, w, op.bias()))
    scale = row_scale if row_scale is not None else op.get_attr("input_scale")
    zp = op.get_attr("input_zero_point", 0)
    out = op.output_codes()
    return restore(crossbar_matmul(rows, scale, zp, w, op.readout(), op.bias(), out))


@register_interpreter(LinearOp, ConvOp)
def _layer(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    x_scale = inputs[1] if len(inputs) > 1 else None
    return [evaluate_layer(op, inputs[0], x_scale)]


def _finite(op: Operation, x: Array) -> np.ndarray:
    if x is None or not np.isfinite(x).all():
        raise InterpreterError(f"'{op.name}' input holds NaN or infinite values", op.location)
    return x


def depthwise(op: DepthwiseConvOp, codes: np.ndarray) -> np.ndarray:
    """The output of ``quant.dwconv`` for DAC codes ``codes`` (NCHW): the depthwise unit's int32
    sums (``dw.conv``), then the periphery (``cl.requant``)."""
    g = op.geometry()
    w = op.array("weights")
    zp = int(op.get_attr("input_zero_point"))
    acc = np.stack(
        [
            nx.dwconv(img.transpose(1, 2, 0), w, g["strides"], g["pads"], g["dilations"], zp)
            for img in np.asarray(codes)
        ]
    )  # [N, Ho, Wo, C]
    n, ho, wo, c = acc.shape
    y = apply_readout(acc.reshape(-1, c), op.readout_params())
    return np.ascontiguousarray(y.reshape(n, ho, wo, c).transpose(0, 3, 1, 2))


@register_interpreter(DepthwiseConvOp)
def _dwconv(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    return [depthwise(op, inputs[0])]


def dynamic_sums(a: np.ndarray, bt: np.ndarray, rows: int, bits: int, shift: int) -> np.ndarray:
    """int32 ``[*g, M, N]``: per row tile of ``rows`` inputs the exact sums ``a @ bt`` read by
    the ADC (``bits`` 0: exact), the readings added in int32 with saturation — what the
    ``imc.mvm`` jobs of a dynamic product leave in their accumulator."""
    *g, m, k = a.shape
    n = bt.shape[-1]
    a3, b3 = a.reshape(-1, m, k), bt.reshape(-1, k, n)
    out = np.empty((a3.shape[0], m, n), dtype=np.int32)
    for i in range(a3.shape[0]):  # one group (batch, head) at a time, as the arrays run them
        acc = None
        for r0 in range(0, k, rows):
            y = nx.exact_matmul(a3[i, :, r0 : r0 + rows], b3[i, r0 : r0 + rows])
            y = nx.adc(y, shift, bits) if bits else nx.saturate(y, np.int32)
            acc = y if acc is None else nx.accumulate_i32(acc, y)
        out[i] = acc if acc is not None else 0
    return out.reshape(*g, m, n)


def dynamic_tile_sums(a: np.ndarray, bt: np.ndarray, rows: int) -> list[np.ndarray]:
    """Per row tile of ``rows`` inputs, the exact column sums of every group's product as one
    int64 ``[groups·M, N]`` array (what the ADC of a dynamic product reads; calibration)."""
    *_, m, k = a.shape
    n = bt.shape[-1]
    a3, b3 = a.reshape(-1, m, k), bt.reshape(-1, k, n)
    return [
        np.concatenate(
            [
                nx.exact_matmul(a3[i, :, r0 : r0 + rows], b3[i, r0 : r0 + rows])
                for i in range(len(a3))
            ]
        )
        for r0 in range(0, k, rows)
    ]


def dynamic_matmul(op: DynamicMatmulOp, a, a_scale, bt, b_scale) -> np.ndarray:
    """The op's result: ``float32(sums) · a_scale (· b_scale)``, left to right."""
    acc = dynamic_sums(
        a, bt, int(op.get_attr("array_rows")), int(op.get_attr("adc_bits")),
        int(op.get_attr("adc_shift")),
    )  # fmt: skip
    y = acc.astype(np.float32) * a_scale
    return y if b_scale is None else y * b_scale


@register_interpreter(DynamicMatmulOp)
def _dynamic_matmul(op: Operation, inputs: list[Array], interp: Interpreter) -> list[Array]:
    a, a_scale, bt, *rest = inputs
    b_scale = rest[0] if rest else None
    return [dynamic_matmul(op, a, a_scale, bt, b_scale)]
