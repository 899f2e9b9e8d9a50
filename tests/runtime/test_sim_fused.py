"""The numba-compiled readout passes (`sim.fast.fused`) against their numpy definitions in
`machine.numerics`, byte for byte, on random and extreme operands."""

from __future__ import annotations

import numpy as np
import pytest
from imcc.runtime.sim.fast import fused
from imcc.runtime.sim.machine import numerics as nx

pytest.importorskip("numba")

F32 = np.float32
BOUNDS = [(-128, 127), (0, 255), (-10.0, 20.0), (5.0, 3.0), (-np.inf, np.inf), (200.0, 300.0)]


def _operands(rng, planes: int, case: int):
    rows, c = int(rng.integers(1, 40)), int(rng.integers(1, 70))
    if case % 3 == 0:  # the whole int32 range: conversions to float32 round
        x = rng.integers(-(2**31), 2**31, (rows, planes * c), dtype=np.int64).astype(np.int32)
    else:
        x = rng.integers(-40000, 40000, (rows, planes * c)).astype(np.int32)
    x.flat[:: int(rng.integers(2, 9))] = 0  # zeros: products of either sign
    scale = (rng.standard_normal(planes * c) * 10.0 ** rng.integers(-8, 3)).astype(F32)
    if case % 7 == 0:
        scale[0] = np.inf
    if case % 11 == 0:
        scale[-1] = np.nan
    bias = (rng.standard_normal(c) * 100).astype(F32) if case % 2 else None
    row_scale = (rng.random(rows) * 2).astype(F32) if case % 5 == 0 else None
    return x, scale, bias, row_scale


@pytest.mark.parametrize("planes", [1, 2, 3])
@pytest.mark.parametrize("case", range(24))
def test_requant_matches_numerics(planes, case):
    rng = np.random.default_rng(1000 * planes + case)
    x, scale, bias, row_scale = _operands(rng, planes, case)
    zp = int(rng.integers(-5, 5))
    dtype = np.dtype(np.int8 if case % 2 else np.uint8)
    lo, hi = BOUNDS[case % len(BOUNDS)]
    want = nx.requant_planes(x, planes, scale, None, row_scale, bias, zp, lo, hi, dtype)
    got = np.empty(want.shape, dtype)
    kernel = fused.requant_kernel(got, x, planes, scale, row_scale, bias, zp, lo, hi)
    with np.errstate(all="ignore"):
        kernel()
    assert np.array_equal(got, want)
    # into a float32 copy: the same integers, as floats
    copy = np.full(want.shape, np.nan, F32)
    with np.errstate(all="ignore"):
        fused.requant_kernel(copy, x, planes, scale, row_scale, bias, zp, lo, hi, dtype)()
    assert np.array_equal(copy.astype(dtype), want) and not np.isnan(copy).any()
    # a float32 result without clamps: the same bits, signed zeros and NaNs included
    want = nx.requant_planes(x, planes, scale, None, row_scale, bias, 0, -np.inf, np.inf, F32)
    got = np.empty(want.shape, F32)
    with np.errstate(all="ignore"):
        fused.requant_kernel(got, x, planes, scale, row_scale, bias, 0, -np.inf, np.inf)()
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_requant_reads_float_copies_like_integers():
    """A float32 x holding integers (a float copy) gives what the int32 x gives."""
    rng = np.random.default_rng(7)
    x = rng.integers(-(2**20), 2**20, (33, 48)).astype(np.int32)
    scale = (rng.random(48) * 1e-3).astype(F32)
    want = nx.requant(x, scale, None, 3, -128, 127, np.int8)
    got = np.empty_like(want)
    fused.requant_kernel(got, x.astype(F32), 1, scale, None, None, 3, -128, 127)()
    assert np.array_equal(got, want)


def test_requant_only_for_8_bit_or_unclamped_float_results():
    x = np.zeros((2, 4), np.int32)
    scale = np.ones(4, F32)
    assert (
        fused.requant_kernel(np.empty((2, 4), np.int32), x, 1, scale, None, None, 0, 0, 1) is None
    )
    assert fused.requant_kernel(np.empty((2, 4), F32), x, 1, scale, None, None, 0, 0, 1) is None
    # a float32 result only unclamped (numpy leaves the sign of a clamped zero unspecified)


@pytest.mark.parametrize("shift", [0, 1, 4, 7])
@pytest.mark.parametrize("bits", [2, 6, 8, 11])
@pytest.mark.parametrize("scaled", [False, True])
def test_adc_matches_numerics(shift, bits, scaled):
    rng = np.random.default_rng(shift * 100 + bits + scaled)
    y = rng.integers(-(2**20), 2**20, (int(rng.integers(1, 50)), 37)).astype(F32)
    if scaled:
        y *= F32(2.0**-shift)
    want, got = np.empty(y.shape, np.int32), np.empty(y.shape, np.int32)
    y_want, y_got = y.copy(), y.copy()
    nx.adc_kernel(y_want, shift, bits, scaled, want)()
    fused.adc_kernel(y_got, shift, bits, scaled, got)()
    assert np.array_equal(got, want)
    assert np.array_equal(y_got, y_want)  # both leave the result in y
    alone = np.empty(y.shape, np.int32)
    fused.adc_kernel(y.copy(), shift, bits, scaled, alone, keep=False)()
    assert np.array_equal(alone, want)
    # a strided int32 result (rows further apart than their width)
    wide = np.zeros((y.shape[0], 64), np.int32)
    fused.adc_kernel(y.copy(), shift, bits, scaled, wide[:, :37])()
    assert np.array_equal(wide[:, :37], want) and not wide[:, 37:].any()
    # from the int32 sums, the float32 result into another array
    if not scaled:
        kept, from_ints = np.zeros(y.shape, F32), np.empty(y.shape, np.int32)
        fused.adc_kernel(y.astype(np.int32), shift, bits, False, from_ints, keep=kept)()
        assert np.array_equal(from_ints, want) and np.array_equal(kept, y_want)
    # kept in y as float32: q · 2^shift, or q alone
    for rescale in (True, False):
        a, b = y.copy(), y.copy()
        nx.adc_kernel(a, shift, bits, scaled, a, rescale=rescale)()
        fused.adc_kernel(b, shift, bits, scaled, b, rescale=rescale)()
        assert np.array_equal(a.view(np.int32), b.view(np.int32))


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setattr(fused, "_module", None)
    monkeypatch.setenv("IMCC_NO_JIT", "1")
    assert fused.load() is None
    y = np.zeros((2, 2), F32)
    assert fused.adc_kernel(y, 1, 8, True, np.empty((2, 2), np.int32)) is None


@pytest.mark.parametrize("case", range(60))
def test_dwconv_matches_numerics(case):
    rng = np.random.default_rng(case)
    oh = ow = 0
    while min(oh, ow) < 1:  # a geometry with an output
        h, w, c = (int(v) for v in rng.integers(1, 12, 3))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        dil = tuple(int(v) for v in rng.integers(1, 5 if case % 4 == 0 else 3, 2))
        pads = tuple(int(v) for v in rng.integers(0, 7 if case % 4 == 0 else 3, 4))
        oh = nx.out_size(h, kh, stride[0], pads[0], pads[2], dil[0])
        ow = nx.out_size(w, kw, stride[1], pads[1], pads[3], dil[1])
    dtype = np.dtype(np.int8 if case % 3 else np.uint8)
    info = np.iinfo(dtype)
    pad = int(rng.integers(info.min, info.max + 1)) if case % 2 else 0
    x = rng.integers(info.min, info.max + 1, (h, w, c)).astype(dtype)
    wgt = rng.integers(-128, 128, (kh, kw, c)).astype(np.int8)
    want = nx.dwconv(x, wgt, stride, pads, dil, pad)
    y, yf = np.empty_like(want), np.empty(want.shape, F32)
    fused.dwconv_kernel(x, wgt, stride, pads, dil, pad, y, yf)()
    assert np.array_equal(y, want) and np.array_equal(yf, want.astype(F32))
    # from a float32 copy of x, the int32 sums alone
    y2 = np.zeros_like(want)
    fused.dwconv_kernel(x.astype(F32), wgt, stride, pads, dil, pad, y2)()
    assert np.array_equal(y2, want)


def test_dwconv_taps_that_reach_no_pixel_of_a_row():
    """Left padding wider than a tap's reach: the tap reads padding only (the row buffer must
    not be indexed past its end; ``NUMBA_BOUNDSCHECK=1`` shows it)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 1, 4)).astype(np.int8)
    wgt = rng.integers(-128, 128, (2, 3, 4)).astype(np.int8)
    geometry = ((3, 1), (5, 6, 0, 5), (2, 4), 7)  # stride, pads, dilation, pad value
    want = nx.dwconv(x, wgt, *geometry)
    y = np.empty_like(want)
    fused.dwconv_kernel(x, wgt, *geometry, y)()
    assert np.array_equal(y, want)
