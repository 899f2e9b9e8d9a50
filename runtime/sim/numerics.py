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

import numpy as np
from numpy.lib.stride_tricks import as_strided

F32 = np.float32
F32_EXACT = 1 << 24
F64_EXACT = 1 << 53

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


def adc(y: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """The ADC: q = clamp(round_half_even(y / 2^shift), -2^(bits-1), 2^(bits-1)-1) · 2^shift.

    ``y`` may be exact integers or (noisy modes) floats; the result is int32, saturated.
    """
    step = float(2**shift)
    q = np.rint(np.asarray(y, dtype=np.float64) / step)
    q = np.clip(q, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return saturate(q * step, np.int32)


def accumulate_i32(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``old + new`` in int32 with saturation (the ``acc`` flag of xb.mvm)."""
    return saturate(old.astype(np.int64) + new.astype(np.int64), np.int32)


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
) -> np.ndarray:
    """The xb.mvm input gather (im2col) as one strided view, copied to (jobs, rows) bytes.

    Job (i, j) reads ``seg_count`` segments of ``seg_len`` bytes, segment k at ``src +
    i·outer_stride + j·inner_stride + k·seg_stride``. The extent is bounds-checked before the
    strided view is made, because `as_strided` itself never checks.
    """
    end = (
        src
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
        shape=(n_outer, n_inner, seg_count, seg_len),
        strides=(outer_stride, inner_stride, seg_stride, 1),
        writeable=False,
    )
    return view.reshape(n_outer * n_inner, seg_count * seg_len)


# --- cluster / nonlinear kernels --------------------------------------------------------------


def _sum_lr(x: np.ndarray) -> np.ndarray:
    """Sum along the last axis strictly left to right (keepdims)."""
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)
    return np.add.accumulate(x, axis=-1, dtype=x.dtype)[..., -1:]


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis: exp(x - max) / left-to-right sum, float32."""
    x = np.asarray(x, dtype=F32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / _sum_lr(e)


def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm along the last axis: ((x - μ) / sqrt(σ² + eps)) · gamma + beta, float32.

    μ and σ² are left-to-right sums divided by n.
    """
    x = np.asarray(x, dtype=F32)
    n = F32(x.shape[-1])
    d = x - _sum_lr(x) / n
    var = _sum_lr(d * d) / n
    return d / np.sqrt(var + F32(eps)) * gamma.astype(F32) + beta.astype(F32)


# Coefficients of a Chebyshev-fitted erfc (fractional error < 1.2e-7 everywhere).
_ERFC_POLY = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function in float64 from a fixed rational-exponential fit."""
    x = np.asarray(x, dtype=np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.zeros_like(t)
    for c in reversed(_ERFC_POLY):  # Horner, highest power first
        poly = poly * t + c
    r = t * np.exp(-z * z + poly)
    return np.where(x >= 0, r, 2.0 - r)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU (erf form) 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(-x/√2), computed in float64, to f32.

    Going through erfc avoids cancellation for negative x; the fit's error is below one float32
    ulp of the result.
    """
    x64 = np.asarray(x, dtype=F32).astype(np.float64)
    return (0.5 * x64 * erfc(-x64 / np.sqrt(2.0))).astype(F32)


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
    v = np.asarray(x).astype(F32) * np.asarray(scale, dtype=F32)
    if bias is not None:
        v = v + np.asarray(bias, dtype=F32)
    lo, hi = F32(lo), F32(hi)
    out_dtype = np.dtype(out_dtype)
    if out_dtype.kind == "f":
        return np.minimum(np.maximum(v, lo), hi).astype(F32)
    with np.errstate(over="ignore", invalid="ignore"):
        y = np.minimum(np.maximum(np.rint(v) + F32(zp), lo), hi)
    return saturate(y, out_dtype)


def quant(x, scale: float, zp: int, out_dtype) -> np.ndarray:
    """ONNX QuantizeLinear: saturate(rint(x / scale) + zp), in float32."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        y = np.rint(np.asarray(x, dtype=F32) / F32(scale)) + F32(zp)
    return saturate(y, out_dtype)


ELTWISE_OPS = ("add", "sub", "mul", "max", "min")


def eltwise(op: str, a: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    """Elementwise binary op; int32 saturates (computed in int64), float32 is IEEE."""
    fn = {
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "max": np.maximum,
        "min": np.minimum,
    }[op]
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


def dwconv(x, wgt, stride, pads, dil, pad_value: int) -> np.ndarray:
    """Depthwise conv of HWC int8 ``x`` with (kh, kw, c) int8 ``wgt``: int32 HWC output.

    ``pads`` is (top, left, bottom, right); padded positions read ``pad_value``.
    """
    h, w, _ = x.shape
    kh, kw, _ = wgt.shape
    xp = _pad_hwc(x.astype(np.int32), pads, pad_value)
    wq = wgt.astype(np.int32)
    acc = None
    for i, j, rows, cols in _taps(h, w, kh, kw, stride, pads, dil):
        term = xp[rows, cols, :] * wq[i, j, :]
        acc = term if acc is None else acc + term
    return acc.astype(np.int32)


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
