"""numba-compiled elementwise kernels behind `fused` (imported only through `fused.load`).

Each function does, element by element and in one pass, exactly the float32 operations the
numpy definition in `machine.numerics` does pass by pass: the same conversions, products and
sums in the same order (numba leaves float32 arithmetic in float32 and, without ``fastmath``,
never contracts a product and a sum into one rounding), rint ties to even, and the clamps of
``np.clip`` (a NaN passes both and becomes 0, as `numerics.saturate_kernel` makes it).

The requantizations (`numerics.requant_planes` without offsets) take ``x`` (rows, planes·c)
into ``dst`` (rows, c): ``scale`` (planes, c), ``row_scale`` (rows,), ``bias`` (c,), ``zp``
float32 and ``bounds`` (2, 2), the clamps applied in order. A row scale of 1 and a bias of -0.0
change nothing (x · 1 and x + -0.0 are x, signed zeros and NaNs included). With ``integral``
the result is rounded and clamped: an integer ``dst`` gets the integers, a float32 one (a float
copy) holds them; without, a float32 ``dst`` gets the unclamped float32 values. One and two
planes have loops of their own: the compiler vectorizes a row's channels only when no loop
over planes sits inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FLAGS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_FLAGS)
def _finish(t, rs, b, zp, bounds, integral):  # pragma: no cover - compiled
    """t · rs + b; for an integer result then rint, + zp, clamped twice, NaN made 0."""
    t = (t * rs) + b
    if not integral:
        return t
    t = np.rint(t) + zp
    t = bounds[0, 0] if t < bounds[0, 0] else t
    t = bounds[0, 1] if t > bounds[0, 1] else t
    t = bounds[1, 0] if t < bounds[1, 0] else t
    t = bounds[1, 1] if t > bounds[1, 1] else t
    return np.float32(0.0) if t != t else t


@njit(**_FLAGS)
def requant1(x, scale, row_scale, bias, zp, bounds, integral, dst):  # pragma: no cover - compiled
    """One plane."""
    rows, c = dst.shape
    s0 = scale[0]
    for r in range(rows):
        xr, dr, rs = x[r], dst[r], row_scale[r]
        for ch in range(c):
            dr[ch] = _finish(np.float32(xr[ch]) * s0[ch], rs, bias[ch], zp, bounds, integral)


@njit(**_FLAGS)
def requant2(x, scale, row_scale, bias, zp, bounds, integral, dst):  # pragma: no cover - compiled
    """Two planes: plane 0's term plus plane 1's."""
    rows, c = dst.shape
    s0, s1 = scale[0], scale[1]
    for r in range(rows):
        xr, dr, rs = x[r], dst[r], row_scale[r]
        for ch in range(c):
            t = np.float32(xr[ch]) * s0[ch] + np.float32(xr[c + ch]) * s1[ch]
            dr[ch] = _finish(t, rs, bias[ch], zp, bounds, integral)


@njit(**_FLAGS)
def requant(x, scale, row_scale, bias, zp, bounds, integral, dst):  # pragma: no cover - compiled
    """Any number of planes, summed in order in a row buffer."""
    rows, c = dst.shape
    v = np.empty(c, np.float32)
    for r in range(rows):
        xr, dr, rs = x[r], dst[r], row_scale[r]
        s = scale[0]
        for ch in range(c):
            v[ch] = np.float32(xr[ch]) * s[ch]
        for j in range(1, scale.shape[0]):
            s, xj = scale[j], xr[j * c : (j + 1) * c]
            for ch in range(c):
                v[ch] = v[ch] + np.float32(xj[ch]) * s[ch]
        for ch in range(c):
            dr[ch] = _finish(v[ch], rs, bias[ch], zp, bounds, integral)


@njit(**_FLAGS)
def adc(y, down, up, lo, hi, round_, keep, out, stride):  # pragma: no cover - compiled
    """`numerics.adc_kernel` of the sums ``y`` (rows, cols; float32, or int32 converted to
    float32) into ``out``, row r at ``out[r · stride:]`` (int32 memory, or float32 ``y``
    itself): times ``down``, rint when ``round_``, clamp to [lo, hi], times ``up``. A
    non-empty float32 ``keep`` (rows, cols), which may be ``y``, receives the result too (a
    float copy for the next step). ``out`` is one-dimensional so that its rows are known to be
    contiguous: a strided two-dimensional array would not vectorize."""
    rows, cols = y.shape
    kept = keep.size > 0
    for r in range(rows):
        yr, orow = y[r], out[r * stride : r * stride + cols]
        for c in range(cols):
            t = np.float32(yr[c]) * down
            if round_:
                t = np.rint(t)
            t = lo if t < lo else t
            t = (hi if t > hi else t) * up
            if kept:
                keep[r, c] = t
            orow[c] = t


@njit(**_FLAGS)
def dwconv(x, wt, stride, pads, dil, pad, y, yf):  # pragma: no cover - compiled
    """`numerics.dwconv` of ``x`` (h, w, c) (int8, uint8, or float32 holding those integers)
    into int32 ``y`` and/or float32 ``yf`` (oh, ow, c; an empty array is not written).
    ``wt`` (kh, kw, ow·c): the float32 weights repeated over an output row. Summed in float32,
    exact when every partial sum is an integer of at most 2^24 (`engines.dwconv_exact`), so
    the order does not matter; ``pads`` (top, left), ``pad`` the value padded positions read.

    One output row at a time, tap by tap: with stride 1 a tap is one contiguous multiply-add
    over the row's in-bounds pixels and channels."""
    h, wd, c = x.shape
    kh, kw = wt.shape[0], wt.shape[1]
    oh, ow = (y.shape[0], y.shape[1]) if y.size else (yf.shape[0], yf.shape[1])
    sh, sw, pt, pl, dh, dw = stride[0], stride[1], pads[0], pads[1], dil[0], dil[1]
    padv = np.float32(pad)
    acc = np.empty(ow * c, np.float32)
    for o in range(oh):
        acc[:] = 0.0
        for i in range(kh):
            iy = o * sh - pt + i * dh
            inside = 0 <= iy < h
            for j in range(kw):
                wr = wt[i, j]
                off = j * dw - pl  # input column of output column q: q·sw + off
                qa = 0 if off >= 0 else (-off + sw - 1) // sw  # first q reading inside
                qb = min(ow, (wd - 1 - off) // sw + 1) if wd - 1 - off >= 0 else 0
                if not inside:
                    qa, qb = 0, 0
                qa = min(qa, ow)  # a tap that reaches no pixel of the row: all padding
                qb = max(qa, qb)
                if padv != 0:  # padded pixels of this tap
                    for k in range(qa * c):
                        acc[k] += padv * wr[k]
                    for k in range(qb * c, ow * c):
                        acc[k] += padv * wr[k]
                if qb > qa:  # (slices first: an index that may be negative wraps, slowly)
                    xr = x[iy].reshape(wd * c)
                    if sw == 1:
                        a, b = qa * c, qb * c
                        xs, ws, acs = xr[a + off * c : b + off * c], wr[a:b], acc[a:b]
                        for k in range(b - a):
                            acs[k] += np.float32(xs[k]) * ws[k]
                    else:
                        for q in range(qa, qb):
                            src, dst = (q * sw + off) * c, q * c
                            xs, ws, acs = xr[src : src + c], wr[dst : dst + c], acc[dst : dst + c]
                            for ch in range(c):
                                acs[ch] += np.float32(xs[ch]) * ws[ch]
        if y.size:
            yr = y[o].reshape(ow * c)
            for k in range(ow * c):
                yr[k] = acc[k]
        if yf.size:
            fr = yf[o].reshape(ow * c)
            for k in range(ow * c):
                fr[k] = acc[k]
