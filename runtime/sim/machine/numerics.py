"""The exact arithmetic of every kernel, as small numpy functions.

This module is the contract between the simulator and the compiler's reference interpreter: both
call these functions, so a quantized graph and its compiled program agree bit for bit. The rules:

- float32 throughout, with a fixed order of operations; sums the ISA defines "left to right" use
  `np.add.accumulate` (sequential by definition), never `np.sum` (pairwise, order unspecified);
- rounding to integers is round-half-to-even (`np.rint`);
- casts to integer dtypes saturate (NaN becomes 0);
- integer matrix products are exact: a float32 GEMM when every partial sum is below 2^24 (all
  such integers are exact in binary32, whatever order BLAS adds them in), float64 below 2^53, else
  int64.

Elementwise transcendental functions use numpy's float32 kernels; those are deterministic on one
machine and numpy build, which is what the contract needs (both sides call the same function).
"""

from __future__ import annotations

import importlib

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...kernels.nonlinear import gelu, layernorm, softmax  # noqa: F401  (ISA semantics)

F32 = np.float32
F32_EXACT = 1 << 24
F64_EXACT = 1 << 53


def _find_clip():
    """The ufunc behind np.clip, without its Python wrapper (microseconds per small call)."""
    for name in ("numpy._core.umath", "numpy.core.umath"):
        try:
            return importlib.import_module(name).clip
        except (ImportError, AttributeError):
            continue
    return np.clip


_CLIP = _find_clip()

INT_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int32": (-(2**31), 2**31 - 1),
}


# --- rounding and casts ---------------------------------------------------------------------


def round_half_even(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties to even, keeping the float dtype."""
    return np.rint(x)


def saturate(x: np.ndarray, dtype) -> np.ndarray:
    """Cast to integer ``dtype`` clamping to its range; float inputs must already be integral."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.asarray(x).astype(dtype)
    lo, hi = INT_RANGES[dtype.name]
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return np.clip(x.astype(np.int64), lo, hi).astype(dtype)
    x = np.clip(x.astype(np.float64), lo, hi)  # infinities land on the bounds
    nan = np.isnan(x)
    if nan.any():
        x[nan] = 0.0
    return x.astype(dtype)


# --- exact integer products -----------------------------------------------------------------


def exact_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` for integer matrices, exactly, as int64.

    Picks float32 when the largest possible partial sum (k · max|x| · max|w|) is at most 2^24, so
    the result is exact whatever summation order the BLAS uses; float64 up to 2^53; int64 beyond.
    """
    k = x.shape[-1]
    if x.size == 0 or w.size == 0:
        return np.zeros(x.shape[:-1] + w.shape[-1:], dtype=np.int64)
    bound = k * int(np.abs(x).max(initial=0)) * int(np.abs(w).max(initial=0))
    if bound <= F32_EXACT:
        return (x.astype(F32) @ w.astype(F32)).astype(np.int64)
    if bound <= F64_EXACT:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x.astype(np.int64) @ w.astype(np.int64)


# Largest |x| of each integer input dtype of xb.mvm, so the exactness bound needs no pass over x.
_DTYPE_ABSMAX = {np.dtype(np.int8): 128, np.dtype(np.uint8): 255}


def f32_exact(x: np.ndarray, w_absmax: int) -> bool:
    """Whether ``x @ w`` (integers, max|w| = w_absmax) has every partial sum within 2^24.

    Decided from x's dtype range when that suffices (one 256-row window of 4-bit cells needs
    256 · 255 · 7 < 2^24), else from its actual values.
    """
    k = x.shape[-1]
    bound = _DTYPE_ABSMAX.get(x.dtype)
    if bound is None or k * bound * w_absmax > F32_EXACT:
        bound = max(-int(x.min(initial=0)), int(x.max(initial=0)))
    return k * bound * w_absmax <= F32_EXACT


def adc(y: np.ndarray, shift, bits: int) -> np.ndarray:
    """The ADC: q = clamp(round_half_even(y / 2^shift), -2^(bits-1), 2^(bits-1)-1) · 2^shift.

    ``y`` may be exact integers or (noisy modes) floats; the result is int32, saturated.
    ``shift`` is one step for all of ``y`` or one per column (broadcast over the last axis): the
    arithmetic is the same, element by element.
    """
    if np.ndim(shift) == 0 and y.dtype == F32 and adc_f32_ok(shift, bits):
        return adc_f32(y.copy(), shift, bits, integral=False)
    step = np.ldexp(1.0, np.asarray(shift, np.int64))  # exact powers of two, float64
    q = np.rint(np.asarray(y, dtype=np.float64) / step)
    q = np.clip(q, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return saturate(q * step, np.int32)


def adc_f32_ok(shift: int, bits: int) -> bool:
    """Whether `adc_f32` is exact for this ADC (everything fits float32 and int32)."""
    return bits <= 24 and shift + bits <= 32


def adc_f32(y, shift: int, bits: int, scaled=False, out=None, integral=True) -> np.ndarray:
    """`adc` of float32 column sums, computed in place in ``y`` (see `adc_kernel`)."""
    if out is None:
        out = np.empty(y.shape, dtype=np.int32)
    adc_kernel(y, shift, bits, scaled, out, integral)()
    return out


def adc_kernel(y, shift: int, bits: int, scaled: bool, out, integral=True, rescale=True):
    """The float32 ADC path as a function of no arguments: ``out = adc(y)``, ``y`` overwritten.

    Scaling by a power of two, rounding and clamping to a ≤ 24-bit range are exact in float32 and
    the result fits int32 (`adc_f32_ok`). ``scaled``: ``y`` already holds the sums times
    2^-shift (a GEMM on weights scaled by 2^-shift gives exactly that). ``out``: an int32 array
    of y's shape (e.g. a view of memory) or ``y`` itself, to keep q · 2^shift as float32 (or q
    alone, with ``rescale=False``). ``integral``: y holds exact integers (a GEMM's column sums),
    so rounding with shift 0 changes nothing and is skipped.
    """
    if not rescale and out is not y:
        raise ValueError("only a float32 result may keep q without its scale 2^shift")
    half = 2 ** (bits - 1)
    lo, hi = F32(-half), F32(half - 1)
    down = F32(2.0**-shift) if shift and not scaled else None
    up = F32(2.0**shift) if shift and rescale else None
    round_ = bool(shift) or not integral

    def run() -> None:
        if down is not None:
            np.multiply(y, down, out=y)
        if round_:
            np.rint(y, out=y)
        _CLIP(y, lo, hi, out=y)
        if up is not None:
            np.multiply(y, up, out=y)  # exact: q · 2^shift fits float32 and int32
        if out is not y:
            np.copyto(out, y, casting="unsafe")

    return run


def accumulate_i32(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``old + new`` in int32 with saturation (the ``acc`` flag of xb.mvm)."""
    total = np.add(old, new, dtype=np.int64)
    np.clip(total, INT_RANGES["int32"][0], INT_RANGES["int32"][1], out=total)
    return total.astype(np.int32)


def accumulate_i32_into(dst: np.ndarray, new: np.ndarray) -> None:
    """``dst = saturate_int32(dst + new)`` for int32 ``dst`` and integral ``new`` (|new| ≤ 2^31).

    The float64 sum is exact (below 2^53), so this is `accumulate_i32` without int64 copies.
    """
    total = np.add(dst, new, dtype=np.float64)
    np.clip(total, INT_RANGES["int32"][0], INT_RANGES["int32"][1], out=total)
    np.copyto(dst, total, casting="unsafe")


def gather_vectors(
    mem: np.ndarray,
    src: int,
    n_outer: int,
    n_inner: int,
    outer_stride: int,
    inner_stride: int,
    seg_count: int,
    seg_len: int,
    seg_stride: int,
    n_batch: int = 1,
    batch_stride: int = 0,
) -> np.ndarray:
    """The xb.mvm input gather (im2col) as one strided view, copied to (jobs, rows) bytes.

    Job (b, i, j) reads ``seg_count`` segments of ``seg_len`` bytes, segment k at ``src +
    b·batch_stride + i·outer_stride + j·inner_stride + k·seg_stride``. The extent is
    bounds-checked before the strided view is made, because `as_strided` itself never checks.
    """
    end = (
        src
        + (n_batch - 1) * batch_stride
        + (n_outer - 1) * outer_stride
        + (n_inner - 1) * inner_stride
        + (seg_count - 1) * seg_stride
        + seg_len
    )
    if src < 0 or end > mem.size:
        raise IndexError(f"gather reads bytes {src}..{end} outside a memory of {mem.size} bytes")
    base = mem[src:end]
    view = as_strided(
        base,
        shape=(n_batch, n_outer, n_inner, seg_count, seg_len),
        strides=(batch_stride, outer_stride, inner_stride, seg_stride, 1),
        writeable=False,
    )
    return view.reshape(n_batch * n_outer * n_inner, seg_count * seg_len)


# --- cluster / nonlinear kernels --------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in float32 (exp overflow gives exactly 0)."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x))


def tanh(x: np.ndarray) -> np.ndarray:
    """tanh in float32."""
    return np.tanh(np.asarray(x, dtype=F32))


def exp(x: np.ndarray) -> np.ndarray:
    """exp in float32 (overflow gives inf)."""
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(x, dtype=F32))


def requant(x, scale, bias, zp: int, lo: float, hi: float, out_dtype) -> np.ndarray:
    """Per-channel rescale of a rows × channels integer matrix (cl.requant).

    v = float32(x) · scale[c] (+ bias[c]); integer out: clamp(rint(v) + zp, lo, hi), saturated;
    f32 out: clamp(v, lo, hi).
    """
    x = np.asarray(x)
    out = np.empty(x.shape, dtype=out_dtype)
    work = out if out.dtype == F32 else np.empty(x.shape, dtype=F32)
    scale = np.asarray(scale, dtype=F32)
    bias = None if bias is None else np.asarray(bias, dtype=F32)
    finite = bool(np.isfinite(scale).all()) and (bias is None or bool(np.isfinite(bias).all()))
    with np.errstate(over="ignore", invalid="ignore"):
        requant_kernel(out, x, scale, bias, zp, lo, hi, work, may_be_nan=not finite)()
    return out


def requant_kernel(
    dst, x, scale, bias, zp: int, lo: float, hi: float, work, may_be_nan=True, store=True
):
    """`requant` of ``x`` into ``dst`` as a function of no arguments, every decision made now.

    ``x``, ``dst`` (e.g. a view of memory) and the float32 scratch ``work`` have one shape;
    ``scale`` and ``bias`` (float32 or None) broadcast against it: a caller may tile them over
    several rows, the operations being elementwise. ``work`` may be ``dst`` itself for an f32
    result. ``x`` is read completely before ``dst`` is written; a float32 ``x`` holding the
    integers (a float copy, see `plan_context`) gives the same result for an integer ``dst``.
    ``may_be_nan``: whether scale or bias may hold non-finite values (integer x times finite
    scale plus finite bias is never NaN, at worst ±inf). ``store=False`` (int8 and uint8 only):
    leave the result in ``work`` as float32 and do not write ``dst``; with whole bounds ``lo``
    and ``hi`` that is exactly the integers the store would write.
    Call the kernel with float overflow warnings off (`np.errstate`).
    """
    v = work
    convert = x.dtype != F32  # float32 x is multiplied as it is
    lo, hi = F32(lo), F32(hi)
    floating = dst.dtype.kind == "f"
    clamp_lo, clamp_hi = lo != -np.inf, hi != np.inf  # clamping to ±inf changes nothing
    saturate_v = None if floating else saturate_kernel(v, dst, lo, hi, may_be_nan, store)
    zp = F32(zp) if zp else None  # adding 0 only turns -0.0 into 0.0, which a cast erases

    def run() -> None:
        if convert:
            np.copyto(v, x, casting="unsafe")  # float32(x): the conversion astype does
            np.multiply(v, scale, out=v)
        else:
            np.multiply(x, scale, out=v)
        if bias is not None:
            np.add(v, bias, out=v)
        if floating:
            if clamp_lo:
                np.maximum(v, lo, out=v)
            if clamp_hi:
                np.minimum(v, hi, out=v)
            if v is not dst:
                np.copyto(dst, v)
            return
        np.rint(v, out=v)
        if zp is not None:
            np.add(v, zp, out=v)
        saturate_v()

    return run


def saturate_kernel(v, out, lo=-np.inf, hi=np.inf, may_be_nan=True, store=True):
    """``out = saturate(min(max(v, lo), hi))`` for an integral float32 ``v`` we own, as a function.

    np.clip is one pass where maximum + minimum are two slower ones; it differs from them only
    in the sign of zero and NaN payloads, which the integer cast erases. int8/uint8 bounds are
    float32 numbers, so both clamps fold into one when the ranges meet; int32 bounds are not
    (2^31 - 1 rounds up), so int32 goes through float64 like `saturate`. ``store=False`` (int8
    and uint8 only): leave the clamped values in ``v`` and do not write ``out``. Call it with
    invalid-value warnings off.
    """
    dtype = out.dtype
    if not store and dtype.name not in ("int8", "uint8"):
        raise ValueError(f"only int8 and uint8 results can stay in float32, not {dtype.name}")
    if dtype.name not in ("int8", "uint8"):
        clamp = lo != -np.inf or hi != np.inf

        def wide() -> None:
            if clamp:
                _CLIP(v, F32(lo), F32(hi), out=v)
            np.copyto(out, saturate(v, dtype))

        return wide
    bounds = narrow_bounds(dtype, lo, hi)

    def narrow() -> None:
        for c_lo, c_hi in bounds:
            _CLIP(v, c_lo, c_hi, out=v)
        if may_be_nan:
            nan = np.isnan(v)
            if nan.any():
                v[nan] = 0.0
        if store:
            np.copyto(out, v, casting="unsafe")  # in range and integral: the cast astype does

    return narrow


def narrow_bounds(dtype: np.dtype, lo: float, hi: float) -> list[tuple[np.float32, np.float32]]:
    """The float32 clamps, in order, that take integral values to ``clamp(v, lo, hi)``
    saturated to the int8 or uint8 ``dtype``: one clamp to the meet of [lo, hi] and the type's
    range, or where they do not meet, [lo, hi] and then the type's range."""
    dlo, dhi = INT_RANGES[dtype.name]
    a, b = max(float(lo), dlo), min(float(hi), dhi)
    if lo <= hi and a <= b:
        return [(F32(a), F32(b))]
    return [(F32(lo), F32(hi)), (F32(dlo), F32(dhi))]


def quant(x, scale: float, zp: int, out_dtype, lo=-np.inf, hi=np.inf) -> np.ndarray:
    """cl.quant (ONNX QuantizeLinear, or a DAC's narrower code range):
    saturate(clamp(rint(x / scale) + zp, lo, hi)), in float32."""
    x = np.asarray(x, dtype=F32)
    out = np.empty(x.shape, dtype=out_dtype)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        quant_kernel(out, x, scale, zp, np.empty(x.shape, dtype=F32), lo, hi)()
    return out


def quant_kernel(dst, x, scale: float, zp: int, work, lo=-np.inf, hi=np.inf):
    """`quant` of float32 ``x`` into ``dst`` through float32 ``work``, as a function.

    Call it with float warnings off (`np.errstate`).
    """
    scale = F32(scale)
    zp = F32(zp) if zp else None  # adding 0 only turns -0.0 into 0.0, which the cast erases
    saturate_work = saturate_kernel(work, dst, lo, hi)

    def run() -> None:
        np.divide(x, scale, out=work)
        np.rint(work, out=work)
        if zp is not None:
            np.add(work, zp, out=work)
        saturate_work()

    return run


ELTWISE_UFUNCS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}
ELTWISE_OPS = tuple(ELTWISE_UFUNCS)


def eltwise(op: str, a: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    """Elementwise binary op; int32 saturates (computed in int64), float32 is IEEE."""
    fn = ELTWISE_UFUNCS[op]
    if np.dtype(dtype).kind == "f":
        with np.errstate(all="ignore"):
            return fn(a.astype(F32), b.astype(F32)).astype(F32)
    return saturate(fn(a.astype(np.int64), b.astype(np.int64)), np.int32)


def out_size(n: int, k: int, stride: int, pad0: int, pad1: int, dil: int = 1) -> int:
    """Output length of a window sweep: (n + pads - dil·(k-1) - 1) // stride + 1."""
    return (n + pad0 + pad1 - dil * (k - 1) - 1) // stride + 1


def _taps(h, w, kh, kw, stride, pads, dil):
    """Yield (i, j, row slice, col slice) of each kernel tap over the padded input."""
    sh, sw = stride
    dh, dw = dil
    oh = out_size(h, kh, sh, pads[0], pads[2], dh)
    ow = out_size(w, kw, sw, pads[1], pads[3], dw)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            yield i, j, rows, cols


def _pad_hwc(x: np.ndarray, pads, value) -> np.ndarray:
    t, left, b, r = pads
    return np.pad(x, ((t, b), (left, r), (0, 0)), constant_values=value)


# Output elements per block of `dwconv`: the block's accumulator and tap products (int32) then
# stay in the CPU cache while all kernel taps are added.
_DW_BLOCK = 49152


def dwconv(x, wgt, stride, pads, dil, pad_value: int, out=None, wtile=None) -> np.ndarray:
    """Depthwise conv of HWC int8 ``x`` with (kh, kw, c) int8 ``wgt``: int32 HWC output.

    ``pads`` is (top, left, bottom, right); padded positions read ``pad_value``. Integer sums do
    not depend on their order, so the output is computed a few rows at a time (each block's
    padded input rows copied into a small int32 buffer, then one multiply-add per tap) and
    written to ``out`` when given (an int32 (oh, ow, c) array, e.g. a view of memory that does
    not overlap ``x``). ``wtile``: `dwconv_weights` of ``wgt``, when the caller keeps it.
    """
    h, w, c = x.shape
    kh, kw, _ = wgt.shape
    (sh, sw), (dh, dw) = stride, dil
    t, left, b, r = pads
    oh = out_size(h, kh, sh, t, b, dh)
    ow = out_size(w, kw, sw, left, r, dw)
    if out is None:
        out = np.empty((oh, ow, c), dtype=np.int32)
    if wtile is None:
        wtile = dwconv_weights(wgt, ow)
    rows = max(1, min(oh, _DW_BLOCK // max(1, ow * c)))  # output rows per block
    span = (rows - 1) * sh + (kh - 1) * dh + 1  # input rows they read
    buf = np.full((span, w + left + r, c), pad_value, dtype=np.int32)
    term = np.empty((rows, ow, c), dtype=np.int32)
    for r0 in range(0, oh, rows):
        n = min(rows, oh - r0)
        first = r0 * sh - t  # input row of buffer row 0
        need = (n - 1) * sh + (kh - 1) * dh + 1
        lo, hi = max(first, 0), min(first + need, h)
        buf[: max(0, lo - first)] = pad_value
        if hi > lo:
            buf[lo - first : hi - first, left : left + w] = x[lo:hi]
        buf[max(hi - first, 0) : need] = pad_value
        acc, tmp = out[r0 : r0 + n], term[:n]
        for i in range(kh):
            rs = slice(i * dh, i * dh + (n - 1) * sh + 1, sh)
            for j in range(kw):
                cs = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                if i == 0 and j == 0:
                    np.multiply(buf[rs, cs], wtile[0, 0], out=acc)
                else:  # in place: no temporaries
                    np.multiply(buf[rs, cs], wtile[i, j], out=tmp)
                    acc += tmp
    return out


def dwconv_weights(wgt: np.ndarray, ow: int) -> np.ndarray:
    """Depthwise weights as int32, repeated over an output row: (kh, kw, ow, c).

    Multiplying a block by a whole row of weights runs numpy's long contiguous loops instead of
    one short loop per pixel.
    """
    kh, kw, c = wgt.shape
    return np.ascontiguousarray(np.broadcast_to(wgt.astype(np.int32)[:, :, None], (kh, kw, ow, c)))


def pool(op: str, x, kh, kw, stride, pads) -> np.ndarray:
    """Max or average pooling of an HWC tensor; padding never contributes.

    avg: float32 sum over in-bounds taps in row-major tap order, divided by the in-bounds count,
    rounded half to even for integer dtypes.
    """
    h, w, _ = x.shape
    dtype = x.dtype
    if op == "max":
        fill = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
        xp = _pad_hwc(x, pads, fill)
        out = None
        for _, _, rows, cols in _taps(h, w, kh, kw, stride, pads, (1, 1)):
            out = xp[rows, cols, :] if out is None else np.maximum(out, xp[rows, cols, :])
        return out.astype(dtype)
    xp = _pad_hwc(x.astype(F32), pads, 0)
    inside = _pad_hwc(np.ones((h, w, 1), dtype=F32), pads, 0)
    total = count = None
    for _, _, rows, cols in _taps(h, w, kh, kw, stride, pads, (1, 1)):
        total = xp[rows, cols, :] if total is None else total + xp[rows, cols, :]
        count = inside[rows, cols, :] if count is None else count + inside[rows, cols, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
    if dtype.kind == "f":
        return mean.astype(F32)
    return saturate(np.rint(mean), dtype)


def matmul_i8(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 (m × k) @ int8 (k × n) with int32 products and sums, exact, saturated to int32."""
    return saturate(exact_matmul(a, b), np.int32)


def matmul_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 (m × k) @ (k × n) accumulating over t = 0, 1, ... k-1 in order (no FMA)."""
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=F32)
    with np.errstate(all="ignore"):
        for t in range(a.shape[1]):  # one rank-1 update per step keeps the order defined
            acc += a[:, t : t + 1] * b[t : t + 1, :]
    return acc


# --- crossbar readout and activation quantization (cl.requant planes, cl.quant, cl.dquant) ---------


def requant_planes(
    x, planes: int, scale, offset, row_scale, bias, zp: int, lo: float, hi: float, out_dtype
) -> np.ndarray:
    """`requant` of a crossbar accumulator with ``planes`` column blocks (cl.requant).

    ``x`` is int32 ``[rows, planes·C]``; for channel c, ``v = Σ_j float32(sat32(x[:, j·C + c] −
    offset[j·C + c])) · scale[j·C + c]`` summed in float32 for j = 0, 1, ... in order, then
    ``v · row_scale[r]`` (when given) and ``+ bias[c]`` (when given). An integer result is
    ``clamp(round_half_even(v) + zp, lo, hi)`` saturated to its type, a float one ``clamp(v, lo,
    hi)``. With one plane and neither offset nor row scale this is exactly `requant`.
    """
    x = np.asarray(x)
    rows, width = x.shape
    c = width // planes
    scale = np.asarray(scale, dtype=F32).reshape(planes, c)
    if offset is not None:
        off = np.asarray(offset, dtype=np.int64).reshape(planes, c)
    v = None
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(planes):
            block = x[:, j * c : (j + 1) * c]
            if offset is not None:
                block = saturate(block.astype(np.int64) - off[j], np.int32)
            term = block.astype(F32) * scale[j]
            v = term if v is None else v + term
        if row_scale is not None:
            v = v * np.asarray(row_scale, dtype=F32).reshape(rows, 1)
        if bias is not None:
            v = v + np.asarray(bias, dtype=F32)
        return _finish_requant(v.astype(F32, copy=False), zp, lo, hi, np.dtype(out_dtype))


def _finish_requant(v: np.ndarray, zp: int, lo: float, hi: float, dtype: np.dtype) -> np.ndarray:
    lo, hi = F32(lo), F32(hi)
    if dtype.kind == "f":
        if lo != -np.inf:
            v = np.maximum(v, lo)
        if hi != np.inf:
            v = np.minimum(v, hi)
        return v.astype(dtype)
    v = np.rint(v)
    if zp:
        v = v + F32(zp)
    return saturate(np.clip(v, lo, hi), dtype)


def dquant(x, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """cl.dquant: per-row dynamic quantization of a rows × n float32 matrix.

    ``scale[r] = max_j |x[r, j]| / (2^(bits−1) − 1)`` in float32 (1 for an all-zero row) and
    ``q = clamp(round_half_even(x / scale[r]), −(2^(bits−1) − 1), 2^(bits−1) − 1)`` as int8.
    """
    x = np.asarray(x, dtype=F32)
    top = F32((1 << (bits - 1)) - 1)
    if x.size:  # max |x| = max(max x, −min x) exactly, without an |x| temporary
        amax = np.maximum(x.max(axis=-1, initial=F32(0)), -x.min(axis=-1, initial=F32(0)))
    else:
        amax = np.zeros(x.shape[:-1], F32)
    scales = np.where(amax > 0, amax / top, F32(1.0)).astype(F32)
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.divide(x, scales[..., None])
        np.rint(q, out=q)
        np.clip(q, -top, top, out=q)
    return q.astype(np.int8), scales


_DQUANT_TINY = F32(2.0**-100)


def dquant_kernel(x, dst, scale_dst, bits: int, work):
    """`dquant` of the rows × n float32 ``x`` into int8 ``dst`` and float32 ``scale_dst`` (views
    of memory) as a function of no arguments, through the float32 scratch ``work``.

    The same operations as `dquant`, less two passes: when every row's max |x| is finite,
    |x / scale| rounds to at most 2^(bits−1) − 1 (x ≤ amax and amax / fl(amax / top) < top + ½),
    so the clamp changes nothing and rounding casts straight into ``dst``, unless a scale is
    so small that its quotient lost precision (below 2^-100 · top, far above float32's normal
    range).
    Call it with float warnings off.
    """
    top = F32((1 << (bits - 1)) - 1)
    rows = x.shape[0]
    hi, lo = np.empty(rows, F32), np.empty(rows, F32)
    scales = np.empty(rows, F32)

    def run() -> None:
        if not x.size:
            scale_dst[:] = F32(1.0)
            return
        np.max(x, axis=-1, initial=F32(0), out=hi)
        np.min(x, axis=-1, initial=F32(0), out=lo)
        np.negative(lo, out=lo)
        np.maximum(hi, lo, out=hi)  # max |x| per row
        np.divide(hi, top, out=scales)
        scales[~(hi > 0)] = F32(1.0)
        np.divide(x, scales[:, None], out=work)
        if np.isfinite(hi).all() and not ((hi > 0) & (hi < _DQUANT_TINY)).any():
            np.rint(work, out=dst, casting="unsafe")
        else:
            np.rint(work, out=work)
            np.clip(work, -top, top, out=work)
            np.copyto(dst, work, casting="unsafe")
        scale_dst[:] = scales

    return run


def requant_planes_kernel(dst, x, planes: int, scale, offset, row_scale, bias, zp, lo, hi, work):
    """`requant_planes` of ``x`` into ``dst`` as a function of no arguments (cl.requant with
    planes, offsets or row scales on a prepared path): the same float32 operations in the same
    order, into the float32 scratch ``work`` (``dst``'s shape); ``x``, ``row_scale`` and ``dst``
    may be views of memory, read when the function runs. Call it with float warnings off."""
    rows, c = dst.shape
    scale = np.asarray(scale, dtype=F32).reshape(planes, c)
    off = None if offset is None else np.asarray(offset, np.float64).reshape(planes, c)
    bias = None if bias is None else np.asarray(bias, dtype=F32)
    if dst.dtype == F32 and dst.flags.c_contiguous:
        work = dst  # a float result is built where it goes (x is read plane by plane first)
    term = np.empty((rows, c), F32)
    wide = np.empty((rows, c), np.float64) if off is not None else None
    i32 = INT_RANGES["int32"]
    finish = _finish_kernel(work, dst, zp, lo, hi)

    def run() -> None:
        for j in range(planes):
            out = work if j == 0 else term
            block = x[:, j * c : (j + 1) * c]
            if off is not None:  # exact in float64, then the int32 saturation, then float32
                np.subtract(block, off[j], out=wide, dtype=np.float64)
                np.clip(wide, i32[0], i32[1], out=wide)
                np.copyto(out, wide, casting="unsafe")
                np.multiply(out, scale[j], out=out)
            else:  # float32(x) · scale: numpy converts the integers to float32 first
                np.multiply(block, scale[j], out=out, dtype=F32, casting="unsafe")
            if j:
                np.add(work, term, out=work)
        if row_scale is not None:
            np.multiply(work, np.asarray(row_scale).reshape(rows, 1), out=work)
        if bias is not None:
            np.add(work, bias, out=work)
        finish()

    return run


def _finish_kernel(v, dst, zp: int, lo: float, hi: float):
    """`_finish_requant` of float32 ``v`` (ours to overwrite) into ``dst``, as a function."""
    lo, hi = F32(lo), F32(hi)
    if dst.dtype.kind == "f":

        def floating() -> None:
            if lo != -np.inf:
                np.maximum(v, lo, out=v)
            if hi != np.inf:
                np.minimum(v, hi, out=v)
            if v is not dst:
                np.copyto(dst, v, casting="unsafe")

        return floating
    zp = F32(zp) if zp else None
    saturate_v = saturate_kernel(v, dst, lo, hi)

    def integral() -> None:
        np.rint(v, out=v)
        if zp is not None:
            np.add(v, zp, out=v)
        saturate_v()

    return integral
