"""numba-compiled elementwise kernels behind `fused` (imported only through `fused.load`).

Each function does, element by element and in one pass, exactly the float32 operations the
numpy definition in `machine.numerics` does pass by pass: the same conversions, products and
sums in the same order (numba leaves float32 arithmetic in float32 and, without ``fastmath``,
never contracts a product and a sum into one rounding), rint ties to even, and the clamps of
``np.clip`` (a NaN passes both and becomes 0, as `numerics.saturate_kernel` makes it).

The requantizations (`numerics.requant_planes` without offsets) take ``x`` (rows, planes·c)
into ``dst`` (rows, c): ``scale`` (planes, c), ``row_scale`` (rows,), ``bias`` (c,), ``zp``
float32 and ``bounds`` (2, 2), the clamps applied in order. A row scale of 1 and a bias of 0
change nothing an integer can show (0 + -0.0 is 0.0). An integer ``dst`` gets the clamped
integers; a float32 one (a float copy) holds them. One and two planes have loops of their own:
the compiler vectorizes a row's channels only when no loop over planes sits inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FLAGS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_FLAGS)
def _finish(t, rs, b, zp, bounds):  # pragma: no cover - compiled
    """rint(t · rs + b) + zp, clamped twice, NaN made 0."""
    t = np.rint((t * rs) + b) + zp
    t = bounds[0, 0] if t < bounds[0, 0] else t
    t = bounds[0, 1] if t > bounds[0, 1] else t
    t = bounds[1, 0] if t < bounds[1, 0] else t
    t = bounds[1, 1] if t > bounds[1, 1] else t
    return np.float32(0.0) if t != t else t


@njit(**_FLAGS)
def requant1(x, scale, row_scale, bias, zp, bounds, dst):  # pragma: no cover - compiled
    """One plane."""
    rows, c = dst.shape
    s0 = scale[0]
    for r in range(rows):
        xr, dr, rs = x[r], dst[r], row_scale[r]
        for ch in range(c):
            dr[ch] = _finish(np.float32(xr[ch]) * s0[ch], rs, bias[ch], zp, bounds)


@njit(**_FLAGS)
def requant2(x, scale, row_scale, bias, zp, bounds, dst):  # pragma: no cover - compiled
    """Two planes: plane 0's term plus plane 1's."""
    rows, c = dst.shape
    s0, s1 = scale[0], scale[1]
    for r in range(rows):
        xr, dr, rs = x[r], dst[r], row_scale[r]
        for ch in range(c):
            t = np.float32(xr[ch]) * s0[ch] + np.float32(xr[c + ch]) * s1[ch]
            dr[ch] = _finish(t, rs, bias[ch], zp, bounds)


@njit(**_FLAGS)
def requant(x, scale, row_scale, bias, zp, bounds, dst):  # pragma: no cover - compiled
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
            dr[ch] = _finish(v[ch], rs, bias[ch], zp, bounds)


@njit(**_FLAGS)
def adc(y, down, up, lo, hi, round_, out):  # pragma: no cover - compiled
    """`numerics.adc_kernel` of float32 ``y`` (rows, cols) into ``out`` (int32, or ``y``
    itself): times ``down``, rint when ``round_``, clamp to [lo, hi], times ``up``. Like the
    numpy kernel it leaves the result in ``y`` too (a float copy for the next step)."""
    for r in range(y.shape[0]):
        yr, orow = y[r], out[r]
        for c in range(yr.shape[0]):
            t = yr[c] * down
            if round_:
                t = np.rint(t)
            t = lo if t < lo else t
            t = (hi if t > hi else t) * up
            yr[c] = t
            orow[c] = t
