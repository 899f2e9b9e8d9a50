"""One-pass kernels for the readout and depthwise steps of a `Session`, compiled by numba.

A crossbar readout is a chain of elementwise float32 operations: the ADC (scale, round, clamp,
scale back, store as int32) and the requantization of its planes (convert, scale and sum the
planes, row scale, bias, round, zero point, clamp, store as int8). numpy runs each operation as
its own pass over the whole matrix, plus a call's overhead; `_jit` runs the chain once per
element, the same operations in the same order, so the result is the same to the bit. A
depthwise convolution runs tap by tap over each output row, channels innermost, in float32
sums that are exact integers. ``tests/runtime/test_sim_fused.py`` compares every kernel with
`machine.numerics` on random and extreme values.

`load()` gives the compiled module, or None when numba is missing or disabled
(``IMCC_NO_JIT=1``); callers then keep their numpy kernels. Compiled code is cached on disk by
numba, so only the first session on a machine waits for the compiler.
"""

from __future__ import annotations

import os
from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..machine.numerics import INT_RANGES, narrow_bounds

F32 = np.float32
_NOWHERE = np.empty((0, 0), F32)
_module = None


def load():
    """The compiled kernels (`_jit`), or None."""
    global _module
    if _module is None:
        _module = False
        if os.environ.get("IMCC_NO_JIT", "") in ("", "0"):
            try:
                from . import _jit
            except ImportError:
                pass
            else:
                _module = _jit
    return _module or None


def requant_bounds(dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """The clamps `numerics.saturate_kernel` applies for an integer ``dtype`` as (2, 2): its
    `numerics.narrow_bounds`, a single clamp followed by the type's range again (which then
    changes nothing). The bounds are numbers (the ISA's encoding refuses NaN in float
    fields)."""
    bounds = narrow_bounds(dtype, lo, hi)
    return np.array(bounds + [INT_RANGES[dtype.name]] * (2 - len(bounds)), F32)


def requant_kernel(dst, x, planes: int, scale, row_scale, bias, zp, lo, hi, dtype=None):
    """`numerics.requant_planes` (no offsets) of ``x`` (rows, planes·c) into ``dst`` (rows, c)
    as a function of no arguments, or None without numba. ``dtype``: the integer type the
    clamps are for (``dst``'s, or the stored type when ``dst`` is a float32 copy); a float32
    result (no ``dtype``) only without clamps, whose signed zeros numpy leaves unspecified.
    ``x``, ``row_scale`` and ``dst`` may be views of memory, read and written when the function
    runs; ``scale`` (planes·c) and ``bias`` (c) are read then too."""
    jit = load()
    dtype = np.dtype(dtype or dst.dtype)
    integral = dtype.name in ("int8", "uint8")
    if jit is None or not (integral or (dtype == F32 and lo == -np.inf and hi == np.inf)):
        return None
    rows, c = dst.shape
    fn = {1: jit.requant1, 2: jit.requant2}.get(planes, jit.requant)
    return partial(
        fn,
        x,
        np.asarray(scale).reshape(planes, c),
        np.ones(rows, F32) if row_scale is None else row_scale,
        np.full(c, -0.0, F32) if bias is None else bias,
        F32(zp),
        requant_bounds(dtype, lo, hi) if integral else np.zeros((2, 2), F32),
        integral,
        dst,
    )


def adc_kernel(y, shift: int, bits: int, scaled: bool, out, integral=True, rescale=True, keep=True):
    """`numerics.adc_kernel` as one pass, or None without numba.

    ``keep``: where the result goes as float32 besides ``out``: True for ``y`` itself, as
    numpy's kernel leaves it; False for nowhere (one store fewer); or a float32 array of
    ``y``'s shape. ``y`` may also be the int32 sums themselves (``scaled`` False), when they
    are at most 2^24 in magnitude: float32(y) is then what a float32 ``y`` would hold.
    """
    jit = load()
    if jit is None or (not rescale and out is not y):
        return None
    half = 2 ** (bits - 1)
    down = F32(2.0**-shift) if shift and not scaled else F32(1.0)
    up = F32(2.0**shift) if shift and rescale else F32(1.0)
    round_ = bool(shift) or not integral
    if keep is True:
        keep = y if y.dtype == F32 and out is not y else None
    keep = _NOWHERE if keep is None or keep is False else keep
    rows = _rows(out)
    if rows is None:
        return None
    return partial(jit.adc, y, down, up, F32(-half), F32(half - 1), round_, keep, *rows)


def _rows(a: np.ndarray) -> tuple[np.ndarray, int] | None:
    """A matrix with contiguous rows as (a 1-D view from its first element to its last, the
    distance between rows in elements); None for other layouts."""
    rows, cols = a.shape
    step = a.strides[0] // a.itemsize if rows > 1 else cols
    if (cols > 1 and a.strides[1] != a.itemsize) or a.strides[0] % a.itemsize or step < cols:
        return None
    span = (rows - 1) * step + cols if rows else 0
    return as_strided(a, shape=(span,), strides=(a.itemsize,)), step


def dwconv_kernel(x, wgt, stride, pads, dil, pad_value: int, y=None, yf=None):
    """`numerics.dwconv` of ``x`` (h, w, c) into int32 ``y`` and/or float32 ``yf`` (oh, ow,
    c), views of memory or scratch that do not overlap ``x``, as a function of no arguments;
    None without numba. The caller makes sure the float32 sums are exact
    (`engines.dwconv_exact`); the weights ``wgt`` (kh, kw, c) are read now."""
    jit = load()
    if jit is None or (y is None and yf is None):
        return None
    none = np.empty((0, 0, 0), F32)
    kh, kw, c = wgt.shape
    ow = (yf if y is None else y).shape[1]
    tiled = np.broadcast_to(wgt.astype(F32)[:, :, None, :], (kh, kw, ow, c))
    return partial(
        jit.dwconv,
        x,
        np.ascontiguousarray(tiled).reshape(kh, kw, ow * c),
        np.array(stride, np.int64),
        np.array(pads[:2], np.int64),
        np.array(dil, np.int64),
        pad_value,
        none.astype(np.int32) if y is None else y,
        none if yf is None else yf,
    )
