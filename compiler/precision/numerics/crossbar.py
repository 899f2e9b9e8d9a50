"""What a crossbar layer computes: integer column sums per row tile, ADC reads, digital rescale.

A layer ``y = W·x + b`` with ``W`` ``[O, K]`` sits on the arrays as *cells*: int8 ``[P, O, K]``
(P residual planes of ternary cells in {−1, 0, 1} or of 4-bit cells in −7..7) and per-plane,
per-channel scales. Each (plane, output channel) is one column; with separate positive/negative
scales (TTQ) a plane holds a positive and a negative column ("signs" S = 2). An 8-bit weight
is two 4-bit planes, w = 15·h + l (:func:`int4_pair`). A convolution's fan-in K is ordered
kernel row, kernel column, channel: the order an NHWC image holds an im2col row in.

With integer inputs (DAC codes ``q`` with zero point ``z``) the hardware computes, for every
column and row tile of the layer's ``rows`` inputs, the exact integer column sum Σ_k q_k·c_k; the
ADC reads it (shift per column group); the readings of the tiles accumulate in int32 (tile by
tile, saturating); the digital periphery subtracts z·Σ_k c_k (int32) and, in float32, sums the
planes' columns times their scales (times the input scale), in plane order, and adds the bias.
:func:`crossbar_matmul` is exactly that, computed by the runtime's own arithmetic
(``imcc.runtime.sim.machine.numerics``: the ADC, the accumulation, ``cl.requant``), so a compiled
program reproduces it bit for bit. With float inputs the layer is the ideal analog machine:
``x @ Ŵᵀ + b`` with the dequantized weights (:func:`ideal_matmul`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from imcc.runtime.sim.machine import numerics as nx

from .adc import calibrate_adc_shift

WEIGHT_FORMATS = ("ternary", "int4")
#: Largest |cell| of each format.
CELL_LIMIT = {"ternary": 1, "int4": 7}
#: An 8-bit weight as two 4-bit planes: w = INT4_BASE·h + l, |h|, |l| <= 7, |w| <= INT8_LIMIT.
INT4_BASE = 15
INT8_LIMIT = 7 * INT4_BASE + 7
#: ADC calibration scores this many shifts below the smallest one that never clips.
SHIFT_WINDOW = 8


@dataclass(frozen=True, eq=False)
class CrossbarWeights:
    """Cells ``int8 [P, O, K]``, scales ``float32 [P, O]`` (α or α⁺) and optional α⁻.

    ``fmt`` is ``"ternary"`` (cells in {−1, 0, 1}) or ``"int4"`` (cells in −7..7).
    """

    cells: np.ndarray
    scale: np.ndarray
    scale_neg: np.ndarray | None = None
    fmt: str = "ternary"

    @property
    def planes(self) -> int:
        """Number of planes P."""
        return int(self.cells.shape[0])

    @property
    def out_channels(self) -> int:
        """Output channels O."""
        return int(self.cells.shape[1])

    @property
    def fan_in(self) -> int:
        """Inputs K."""
        return int(self.cells.shape[2])

    @property
    def signs(self) -> int:
        """Columns per plane and channel: 2 with separate positive/negative scales, else 1."""
        return 1 if self.scale_neg is None else 2

    def column_cells(self) -> np.ndarray:
        """int8 ``[P, S, O, K]``: the cell values each column holds."""
        c = self.cells
        if self.scale_neg is None:
            return c[:, None]
        return np.stack([(c > 0), (c < 0)], axis=1).astype(np.int8)

    def column_scales(self) -> np.ndarray:
        """float32 ``[P, S, O]``: the digital scale applied to each column's reading."""
        if self.scale_neg is None:
            return np.asarray(self.scale, np.float32)[:, None]
        return np.stack([self.scale, -np.asarray(self.scale_neg)], axis=1).astype(np.float32)

    def dense(self) -> np.ndarray:
        """The float32 weight ``[O, K]`` the cells represent, planes summed in order."""
        cells = self.column_cells()  # int8 cells are exact in float32: no float copy of them
        scales = self.column_scales()
        out = np.zeros(self.cells.shape[1:], np.float32)
        for p in range(self.planes):
            for s in range(self.signs):
                out += scales[p, s][:, None] * cells[p, s]
        return out


@dataclass(frozen=True, eq=False)
class Readout:
    """How column sums leave the array: ``rows`` per tile, ADC ``bits`` and ``shift``.

    ``shift`` is int64 ``[P, S, T, G]`` (plane, sign, row tile, column group of ``group``
    columns); ``bits = 0`` means an ideal readout (exact sums, no ADC).
    """

    rows: int
    bits: int = 0
    shift: np.ndarray | None = None
    group: int = 256


def tiles(fan_in: int, rows: int) -> list[slice]:
    """Row tiles of at most ``rows`` inputs covering ``0..fan_in``."""
    return [slice(r, min(r + rows, fan_in)) for r in range(0, fan_in, rows)]


def crossbar_columns(
    out_channels: int, fan_in: int, planes: int = 1, array_rows: int = 256, per_plane: int = 1
) -> int:
    """Columns a layer occupies: one column per channel, plane and row tile of ``array_rows``.

    ``per_plane`` is 2 for asymmetric (α⁺ ≠ α⁻) planes, held as a positive and a negative column.
    """
    return planes * per_plane * out_channels * math.ceil(fan_in / array_rows)


def gather_rows(array_rows: int, run: int, runs: int = 2) -> int:
    """The row-tile height of a layer whose inputs come in ``runs`` contiguous runs of ``run``
    (a convolution's kh kernel rows of kw·C): the largest height at most ``array_rows`` whose
    tiles never straddle two runs (whole runs, or equal pieces of one), so an array's gather
    reads each tile as equal segments. One run (a 1x1 or 1xk kernel) is cut anywhere."""
    if runs <= 1 or run <= array_rows:
        return array_rows if runs <= 1 else (array_rows // run) * run
    return max(d for d in range(1, array_rows + 1) if run % d == 0)


def _exact_dtype(codes_max: int, cells_max: int, rows: int):
    # BLAS in float is exact for integer data while every partial sum stays below 2^mantissa.
    return np.float32 if codes_max * cells_max * rows < (1 << 24) else np.float64


def tile_sums(codes: np.ndarray, cells: np.ndarray, rows: int) -> list[np.ndarray]:
    """Exact integer column sums per row tile, ``[M, O]`` each for codes ``[M, K]``.

    The sums are integers held in float32 or float64, whichever represents every partial sum
    exactly (BLAS then computes them exactly in any order).
    """
    codes_max = int(np.abs(codes.astype(np.int64)).max()) if codes.size else 0
    cells_max = int(np.abs(cells.astype(np.int64)).max()) if cells.size else 0
    dtype = _exact_dtype(codes_max, cells_max, rows)
    a_all = codes.astype(dtype)
    b_all = cells.astype(dtype)
    return [a_all[:, t] @ b_all[:, t].T for t in tiles(codes.shape[1], rows)]


def adc_read_exact(sums: np.ndarray, shift: np.ndarray, bits: int) -> np.ndarray:
    """:func:`.adc.adc_read` for integer sums held in a float array (same float type).

    Dividing by 2^s is exact in binary floating point and ``np.rint`` rounds half to even, so
    this equals the int64 definition while every |sum| is exactly representable: below 2^24
    for float32 sums (what :func:`tile_sums` returns for such sums), 2^53 for float64.
    """
    # Scaling by a power of two and rounding are exact in float32 as well while |sum| < 2^24.
    exact32 = sums.dtype == np.float32
    dtype = np.float32 if exact32 else np.float64
    step = np.ldexp(dtype(1), np.asarray(shift, np.int64)).astype(dtype)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = np.multiply(sums, 1 / step, dtype=dtype)
    np.rint(out, out=out)
    np.clip(out, lo, hi, out=out)
    out *= step
    return out


def group_index(columns: int, group: int) -> np.ndarray:
    """ADC group of each column: consecutive blocks of ``group`` columns."""
    return np.arange(columns) // max(int(group), 1)


#: Arrays derived from a layer's read-only cells (IR attributes), for its next calibration chunks:
#: the interpreter runs one layer on every chunk in a row, so the last few suffice.
_DERIVED: OrderedDict = OrderedDict()
_DERIVED_SIZE = 4


def _derived(w: CrossbarWeights, kind: str, make):
    """``make()``, remembered while ``w``'s arrays are the same read-only objects."""
    parts = (w.cells, w.scale, w.scale_neg)
    if any(isinstance(a, np.ndarray) and a.flags.writeable for a in parts):
        return make()
    key = (kind, *map(id, parts))
    hit = _DERIVED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], parts)):
        _DERIVED.move_to_end(key)
        return hit[1]
    value = make()
    _DERIVED[key] = (parts, value)
    while len(_DERIVED) > _DERIVED_SIZE:
        _DERIVED.popitem(last=False)
    return value


def column_matrix(w: CrossbarWeights) -> np.ndarray:
    """int8 ``[K, P·S·O]``: the cells of every column, plane-major (the accumulator's order)."""
    cells = w.column_cells()
    p, s, o, k = cells.shape
    return np.ascontiguousarray(cells.reshape(p * s * o, k).T)


def column_shifts(w: CrossbarWeights, readout: Readout) -> np.ndarray:
    """int64 ``[T, P·S·O]``: the ADC shift of every row tile and column."""
    gid = group_index(w.out_channels, readout.group)
    per = np.asarray(readout.shift, np.int64)[:, :, :, gid]  # [P, S, T, O]
    p, s, t, o = per.shape
    return per.transpose(2, 0, 1, 3).reshape(t, p * s * o)


def crossbar_accumulators(codes: np.ndarray, w: CrossbarWeights, readout: Readout) -> np.ndarray:
    """The int32 accumulators ``[M, P·S·O]``: per column, the ADC readings of its row tiles'
    exact column sums, added tile by tile in int32 (saturating); exact sums without an ADC."""
    codes = np.asarray(codes)
    shifts = column_shifts(w, readout) if readout.bits else None
    fast = _float32_tiles(codes, w, readout, shifts)
    mat = column_matrix(w) if fast is None else None
    acc = None
    for t, sl in enumerate(tiles(w.fan_in, readout.rows)):
        if fast is not None:  # the same integers, computed in float32 where that is exact
            y = fast[0][:, sl] @ fast[1][sl]
            if shifts is not None:
                y = adc_read_exact(y, shifts[t], readout.bits)
            y = y.astype(np.int32)
        else:
            y = nx.exact_matmul(codes[:, sl], mat[sl])
            y = nx.saturate(y, np.int32) if shifts is None else nx.adc(y, shifts[t], readout.bits)
        acc = y if acc is None else nx.accumulate_i32(acc, y)
    if acc is None:
        acc = np.zeros((codes.shape[0], w.planes * w.signs * w.out_channels), np.int32)
    return acc


def _column_rows(w: CrossbarWeights) -> np.ndarray:
    """int8 ``[P·S·O, K]``: each column's cells as a row (`column_matrix` transposed)."""
    cells = w.column_cells()
    return cells.reshape(-1, cells.shape[-1])


def _float32_tiles(codes, w: CrossbarWeights, readout: Readout, shifts):
    """(codes ``[M, K]``, cells ``[K, P·S·O]``) as float32 when every tile's column sums and
    their ADC readings are exact there (sums within 2^24, readings q·2^shift within int32),
    else None. The cells are a transposed view, which BLAS reads as it is."""
    rows = _column_rows(w)
    if codes.size == 0 or rows.size == 0 or codes.dtype.kind not in "iu":
        return None
    codes_max = max(-int(codes.min()), int(codes.max()))
    cells_max = _derived(w, "cells_max", lambda: max(-int(rows.min()), int(rows.max())))
    if _exact_dtype(codes_max, cells_max, min(readout.rows, w.fan_in)) is not np.float32:
        return None
    if shifts is not None and not nx.adc_f32_ok(int(shifts.max(initial=0)), readout.bits):
        return None
    if shifts is not None and int(shifts.min(initial=0)) < 0:
        return None
    return codes.astype(np.float32), _derived(w, "cells32", lambda: rows.astype(np.float32).T)


@dataclass(frozen=True)
class OutputCodes:
    """A readout that quantizes its result for the next layer itself: codes
    ``clamp(round_half_even(v / scale) + zero_point, lo, hi)`` of numpy ``dtype``."""

    scale: float
    zero_point: int
    lo: int
    hi: int
    dtype: np.dtype


@dataclass(frozen=True, eq=False)
class ReadoutParams:
    """The digital periphery of a layer as ``cl.requant`` takes it: per-column scales of its
    ``planes`` column blocks, int32 offsets (zero-point sums), bias, and the result's zero
    point, clamp and type."""

    planes: int
    scale: np.ndarray
    offset: np.ndarray | None
    bias: np.ndarray | None
    zero_point: int
    lo: float
    hi: float
    dtype: np.dtype


def readout_params(
    col_scale: np.ndarray,
    planes: int,
    input_scale: float | None,
    zero_point: int,
    column_sums: np.ndarray,
    bias: np.ndarray | None,
    out: OutputCodes | None = None,
) -> ReadoutParams:
    """The periphery of a layer with per-column scales ``col_scale`` (float32, plane-major) and
    cell sums ``column_sums``: scale = column scale · input scale in float32 (``input_scale``
    None: dynamic, the per-vector scale comes at run time), divided by the output scale in
    float32 when the layer emits codes (the bias likewise); the zero point's sums as offsets."""
    scale = np.asarray(col_scale, np.float32)
    if input_scale is not None:
        scale = scale * np.float32(input_scale)
    bias = None if bias is None else np.asarray(bias, np.float32)
    offset = None
    if zero_point:
        offset = (int(zero_point) * np.asarray(column_sums, np.int64)).astype(np.int32)
    if out is None:
        inf = float("inf")
        return ReadoutParams(planes, scale, offset, bias, 0, -inf, inf, np.dtype(np.float32))
    step = np.float32(out.scale)
    scale = (scale / step).astype(np.float32)
    bias = None if bias is None else (bias / step).astype(np.float32)
    return ReadoutParams(
        planes, scale, offset, bias, out.zero_point, float(out.lo), float(out.hi), out.dtype
    )


def apply_readout(acc: np.ndarray, p: ReadoutParams, row_scale=None) -> np.ndarray:
    """The layer's result from its int32 accumulators ``[M, planes·C]`` (``cl.requant``)."""
    rs = None if row_scale is None else np.asarray(row_scale, np.float32).reshape(-1)
    return nx.requant_planes(
        acc, p.planes, p.scale, p.offset, rs, p.bias, p.zero_point, p.lo, p.hi, p.dtype
    )


def crossbar_params(w: CrossbarWeights, input_scale, zero_point: int, bias, out=None):
    """`readout_params` of a crossbar layer (``input_scale`` an array: dynamic)."""
    dynamic = np.ndim(input_scale) > 0
    return readout_params(
        w.column_scales().reshape(-1).astype(np.float32),
        w.planes * w.signs,
        None if dynamic else float(np.float32(input_scale)),
        zero_point,
        _derived(w, "sums", lambda: _column_rows(w).sum(axis=1, dtype=np.int64)),
        bias,
        out,
    )


def crossbar_matmul(
    codes: np.ndarray,
    input_scale,
    zero_point: int,
    w: CrossbarWeights,
    readout: Readout,
    bias: np.ndarray | None = None,
    out: OutputCodes | None = None,
) -> np.ndarray:
    """The layer output ``[M, O]`` for integer inputs ``[M, K]``: float32, or codes with ``out``.

    ``input_scale`` is a scalar (static quantization) or float32 ``[M, 1]`` (one scale per
    input vector, dynamic quantization). The digital periphery is the ISA's ``cl.requant``
    (`readout_params`): zero-point column sums subtracted in int32, then Σ over planes of
    float32(acc)·scale in float32, times the per-vector scale (dynamic), plus the bias.
    """
    acc = crossbar_accumulators(codes, w, readout)
    p = crossbar_params(w, input_scale, zero_point, bias, out)
    return apply_readout(acc, p, input_scale if np.ndim(input_scale) > 0 else None)


def ideal_matmul(x: np.ndarray, w: CrossbarWeights, bias: np.ndarray | None = None) -> np.ndarray:
    """The ideal analog layer on float inputs ``[M, K]``: ``x @ Ŵᵀ + b`` in float32."""
    y = np.asarray(x, np.float32) @ _derived(w, "dense", w.dense).T
    if bias is not None:
        y = y + np.asarray(bias, np.float32)
    return y.astype(np.float32)


def conv_output_size(size: int, kernel: int, stride: int, pad0: int, pad1: int, dil: int) -> int:
    """Output length of one spatial axis."""
    return (size + pad0 + pad1 - ((kernel - 1) * dil + 1)) // stride + 1


def conv_output_hw(hw, kernel, strides, pads, dilations) -> tuple[int, int]:
    """(Ho, Wo) of a 2-D convolution of an ``hw`` = (H, W) input; ``pads`` as ONNX's."""
    top, left, bottom, right = pads
    return (
        conv_output_size(hw[0], kernel[0], strides[0], top, bottom, dilations[0]),
        conv_output_size(hw[1], kernel[1], strides[1], left, right, dilations[1]),
    )


def _padded(x, kernel, strides, pads, dilations, pad_value):
    """The NCHW input padded with ``pad_value``, and the output's (Ho, Wo)."""
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=pad_value)
    return xp, conv_output_hw(x.shape[2:], kernel, strides, pads, dilations)


def im2col(
    x: np.ndarray,
    kernel: tuple[int, int],
    strides: tuple[int, int] = (1, 1),
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilations: tuple[int, int] = (1, 1),
    pad_value=0,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Rows ``[N·Ho·Wo, C·kh·kw]`` of a 2-D convolution's input (NCHW), in (C, kh, kw) order.

    ``pads`` is ONNX's (top, left, bottom, right); padding uses ``pad_value`` (the zero point for
    integer codes). Returns the rows and (Ho, Wo).
    """
    n, c = x.shape[:2]
    kh, kw = kernel
    xp, (ho, wo) = _padded(x, kernel, strides, pads, dilations, pad_value)
    ext_h, ext_w = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (ext_h, ext_w), axis=(2, 3))
    win = win[
        :, :, : (ho - 1) * strides[0] + 1 : strides[0], : (wo - 1) * strides[1] + 1 : strides[1]
    ]
    win = win[..., :: dilations[0], :: dilations[1]]
    # (N, Ho, Wo, kh, kw, C): the fan-in in kernel row, kernel column, channel order
    rows = win.transpose(0, 2, 3, 4, 5, 1).reshape(n * ho * wo, kh * kw * c)
    return rows, (ho, wo)


def im2col_rows(
    x: np.ndarray,
    index: np.ndarray,
    kernel: tuple[int, int],
    strides: tuple[int, int] = (1, 1),
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilations: tuple[int, int] = (1, 1),
    pad_value=0,
) -> np.ndarray:
    """Rows ``index`` of :func:`im2col`'s result, gathered without building the others."""
    c = x.shape[1]
    kh, kw = kernel
    xp, (ho, wo) = _padded(x, kernel, strides, pads, dilations, pad_value)
    index = np.asarray(index, np.int64)
    image, pos = np.divmod(index, ho * wo)
    oy, ox = np.divmod(pos, wo)
    ys = oy[:, None] * strides[0] + np.arange(kh) * dilations[0]  # [m, kh]
    xs = ox[:, None] * strides[1] + np.arange(kw) * dilations[1]  # [m, kw]
    patch = xp[
        image[:, None, None, None],
        np.arange(c)[None, None, None, :],
        ys[:, :, None, None],
        xs[:, None, :, None],
    ]  # [m, kh, kw, C]
    return patch.reshape(len(index), kh * kw * c)


def spread(count: int, at_most: int) -> np.ndarray:
    """``at_most`` evenly spaced indices of ``count`` rows (all of them when there are fewer)."""
    return np.linspace(0, count - 1, min(count, at_most)).astype(np.int64)


def conv_matrix(weight: np.ndarray) -> np.ndarray:
    """A convolution weight ``[O, C, kh, kw]`` as ``[O, kh·kw·C]`` in the fan-in order of
    :func:`im2col`."""
    o = weight.shape[0]
    return np.ascontiguousarray(np.asarray(weight).transpose(0, 2, 3, 1).reshape(o, -1))


def int4_pair(weight: np.ndarray) -> CrossbarWeights:
    """Per-channel symmetric 8-bit weights held as two 4-bit planes.

    Codes c = round(w / step) in ±INT8_LIMIT (step = max|w| / INT8_LIMIT per output channel,
    1 for an all-zero one) split as c = INT4_BASE·h + l with |h|, |l| <= 7; the planes' scales
    are INT4_BASE·step and step, so the planes sum to c·step exactly.
    """
    w = np.asarray(weight, np.float32)
    amax = np.abs(w).max(axis=1) if w.size else np.zeros(w.shape[0], np.float32)
    step = np.where(amax > 0, amax / np.float32(INT8_LIMIT), np.float32(1.0)).astype(np.float32)
    cells = _int4_cells(w, step)
    scale = np.stack([step * np.float32(INT4_BASE), step]).astype(np.float32)
    return CrossbarWeights(cells, scale, None, "int4")


def _int4_cells(w: np.ndarray, step: np.ndarray) -> np.ndarray:
    """int8 ``[2, O, K]``: the planes h, l of the codes c = clip(round(w / step)).

    The codes are small integers, exact in float32, and c / INT4_BASE never lies halfway
    between two integers, so h = round(c / INT4_BASE) and l = c − INT4_BASE·h are computed in
    float32, in place, without int64 or float64 copies of the layer.
    """
    codes = np.divide(w, step[:, None])
    np.rint(codes, out=codes)
    np.clip(codes, -INT8_LIMIT, INT8_LIMIT, out=codes)
    if np.isnan(codes).any():
        return _int4_cells_int64(codes)
    cells = np.empty((2, *w.shape), np.int8)
    high = np.divide(codes, np.float32(INT4_BASE))
    np.rint(high, out=high)
    cells[0] = high
    high *= np.float32(INT4_BASE)
    codes -= high
    cells[1] = codes
    return cells


def _int4_cells_int64(codes: np.ndarray) -> np.ndarray:
    """The planes through int64, for codes with NaNs (a non-finite weight, or a channel of
    denormals whose step underflows to 0): the cells they have always been given."""
    c = codes.astype(np.int64)
    high = np.rint(c / INT4_BASE).astype(np.int64)
    return np.stack([high, c - INT4_BASE * high]).astype(np.int8)


def rows_to_nchw(y: np.ndarray, n: int, out_hw: tuple[int, int]) -> np.ndarray:
    """Layer outputs ``[N·Ho·Wo, O]`` back to NCHW."""
    ho, wo = out_hw
    return np.ascontiguousarray(y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2))


def calibrate_shift(sums: np.ndarray, bits: int, criterion: str, group: int) -> np.ndarray:
    """Per group of ``group`` columns, the ADC shift for integer calibration sums ``[M, O]`` by
    ``criterion``: :func:`.adc.calibrate_adc_shift`, through :func:`calibrate_shift_exact` for
    ``mse`` (the same shifts, found in floating point)."""
    if criterion == "mse":
        x = sums if sums.dtype.kind == "f" else sums.astype(np.float64)
        return calibrate_shift_exact(x, bits, group)
    exact = np.rint(sums).astype(np.int64)
    return calibrate_adc_shift(exact, bits, criterion=criterion, group_size=group)


def calibrate_shift_exact(sums: np.ndarray, bits: int, group: int) -> np.ndarray:
    """Per group of ``group`` columns, the ADC shift minimising the mean squared reading error
    of calibration sums ``[M, O]`` (ties: the smaller shift) -- :func:`.adc.calibrate_adc_shift`
    with ``criterion="mse"``, computed in float64 on integer-valued sums."""
    x = np.asarray(sums)
    gid = group_index(x.shape[1], group)
    ngroups = int(gid.max()) + 1
    top = max(int(np.abs(x).max()), 1).bit_length() + 1
    scores = np.full((top + 1, ngroups), np.inf)
    # Shifts far below the one that just avoids clipping clip nearly every sum; they never win
    # on real data, so only a window of SHIFT_WINDOW shifts below the no-clip shift is scored.
    # Above the first shift that clips nothing no shift can win: its grid is a subset of the
    # finer grids below, so every sum's rounding error only grows (and ties take the smaller).
    no_clip = max(top - bits, 0)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x_min, x_max = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    for s in range(max(no_clip - SHIFT_WINDOW, 0), top + 1):
        d = adc_read_exact(x, s, bits) - x
        col = np.einsum("ij,ij->j", d, d, dtype=np.float64)
        scores[s] = np.bincount(gid, weights=col, minlength=ngroups)
        if lo <= np.rint(x_min / 2.0**s) and np.rint(x_max / 2.0**s) <= hi:
            break
    return np.argmin(scores, axis=0).astype(np.int64)
