"""The crossbar numerics: exact integer sums per tile, the ADC fast path against its int64
definition, the whole layer against a plain int64 reference, im2col against the Conv kernel."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.precision.numerics.adc import adc_read, calibrate_adc_shift
from imcc.compiler.precision.numerics.crossbar import (
    CrossbarWeights,
    Readout,
    adc_read_exact,
    calibrate_shift_exact,
    conv_matrix,
    crossbar_matmul,
    ideal_matmul,
    im2col,
    rows_to_nchw,
    tile_sums,
)
from imcc.runtime.kernels.onnx import KernelContext, kernel_for


def reference_layer(codes, scale, zp, w: CrossbarWeights, readout: Readout, bias):
    """The crossbar layer spelled out with the quant.adc definitions: int64 tile sums read by
    the ADC and added, zero-point column sums subtracted, then in float32 the planes' columns
    times (column scale · input scale) summed in plane order, plus the bias."""
    cells = w.column_cells().astype(np.int64)
    scales = w.column_scales()
    q = codes.astype(np.int64)
    gid = np.arange(w.out_channels) // readout.group
    v = None
    for p in range(w.planes):
        for s in range(w.signs):
            acc = np.zeros((q.shape[0], w.out_channels), np.int64)
            for r, start in enumerate(range(0, w.fan_in, readout.rows)):
                t = slice(start, start + readout.rows)
                sums = q[:, t] @ cells[p, s][:, t].T
                if readout.bits:
                    sums = adc_read(sums, readout.shift[p, s, r][gid], readout.bits)
                acc += sums
            acc -= zp * cells[p, s].sum(axis=1)
            term = acc.astype(np.float32) * (scales[p, s] * np.float32(scale))
            v = term if v is None else v + term
    return v if bias is None else v + bias


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    planes=st.integers(1, 3),
    asym=st.booleans(),
    rows=st.sampled_from([3, 8, 64]),
    group=st.sampled_from([1, 2, 7]),
    zp=st.sampled_from([0, 5]),
    bits=st.sampled_from([0, 4, 8]),
)
def test_layer_matches_int64_reference(seed, planes, asym, rows, group, zp, bits):
    rng = np.random.default_rng(seed)
    o, k, m = 5, 19, 7
    cells = rng.integers(-1, 2, size=(planes, o, k)).astype(np.int8)
    scale = rng.uniform(0.1, 1, size=(planes, o)).astype(np.float32)
    neg = rng.uniform(0.1, 1, size=(planes, o)).astype(np.float32) if asym else None
    w = CrossbarWeights(cells, scale, neg)
    tiles, groups = -(-k // rows), -(-o // group)
    shift = rng.integers(0, 6, size=(planes, w.signs, tiles, groups))
    readout = Readout(rows, bits, shift if bits else None, group)
    codes = rng.integers(0, 256, size=(m, k)).astype(np.uint8)
    bias = rng.normal(size=o).astype(np.float32)
    got = crossbar_matmul(codes, 0.03, zp, w, readout, bias)
    want = reference_layer(codes, 0.03, zp, w, readout, bias)
    np.testing.assert_array_equal(got, want)


def test_int8_weights_sum_exactly_in_float64_tiles():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(4, 1024))
    cells = rng.integers(-127, 128, size=(3, 1024))
    sums = tile_sums(codes, cells, 1024)  # 255·127·1024 > 2^24: must switch to float64
    assert sums[0].dtype == np.float64
    np.testing.assert_array_equal(sums[0].astype(np.int64), codes @ cells.T)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), bits=st.sampled_from([4, 8]), group=st.integers(1, 9))
def test_adc_fast_path_equals_definition(seed, bits, group):
    rng = np.random.default_rng(seed)
    x = np.rint(rng.standard_normal((60, 9)) * 10 ** rng.uniform(0, 4.5)).astype(np.int64)
    shift = rng.integers(0, 16, size=9)
    want = adc_read(x, shift, bits)
    np.testing.assert_array_equal(adc_read_exact(x.astype(np.float64), shift, bits), want)
    np.testing.assert_array_equal(adc_read_exact(x.astype(np.float32), shift, bits), want)
    fast = calibrate_shift_exact(x.astype(np.float64), bits, group)
    np.testing.assert_array_equal(
        fast, calibrate_adc_shift(x, bits, criterion="mse", group_size=group)
    )


def test_ideal_path_is_dense_product():
    rng = np.random.default_rng(1)
    cells = rng.integers(-1, 2, size=(2, 3, 4)).astype(np.int8)
    w = CrossbarWeights(cells, np.array([[0.5, 1, 2], [0.25, 0.25, 0.5]], np.float32))
    x = rng.normal(size=(5, 4)).astype(np.float32)
    dense = 0.5 * cells[0] * np.array([[1], [2], [4]]) + 0.25 * cells[1] * np.array([[1], [1], [2]])
    np.testing.assert_allclose(ideal_matmul(x, w), x @ dense.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(w.dense(), dense.astype(np.float32))


def test_im2col_matches_conv_kernel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    attrs = {"strides": [2, 1], "pads": [1, 0, 2, 1], "dilations": [1, 2], "kernel_shape": [3, 2]}
    rows, hw = im2col(x, (3, 2), (2, 1), (1, 0, 2, 1), (1, 2))
    got = rows_to_nchw(rows @ conv_matrix(w).T, 2, hw)
    want = kernel_for("Conv", 13)([x, w, None], attrs, KernelContext(13, 1))[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    bits=st.sampled_from([0, 6, 8]),
    max_shift=st.sampled_from([3, 12, 26]),
    signed=st.booleans(),
)
def test_int4_layers_over_several_tiles_match_the_reference(seed, bits, max_shift, signed):
    """Wide tiles of 4-bit cells (the float32 path, or int64 where a shift leaves int32)."""
    rng = np.random.default_rng(seed)
    o, k, m, rows = 6, 600, 9, 256
    cells = rng.integers(-7, 8, size=(2, o, k)).astype(np.int8)
    w = CrossbarWeights(cells, rng.uniform(0.1, 1, size=(2, o)).astype(np.float32), fmt="int4")
    shift = rng.integers(0, max_shift + 1, size=(2, w.signs, -(-k // rows), o))
    readout = Readout(rows, bits, shift if bits else None, 1)
    codes = (
        rng.integers(-127, 128, size=(m, k)).astype(np.int8)
        if signed
        else rng.integers(0, 256, size=(m, k)).astype(np.uint8)
    )
    got = crossbar_matmul(codes, 0.02, 0, w, readout, None)
    np.testing.assert_array_equal(got, reference_layer(codes, 0.02, 0, w, readout, None))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pads=st.tuples(*[st.integers(0, 2)] * 4),
)
def test_im2col_rows_are_the_rows_of_im2col(seed, kernel, strides, dilations, pads):
    """Sampling rows without building the rest gives the same rows (same order, padding)."""
    from imcc.compiler.precision.numerics.crossbar import im2col_rows, spread

    rng = np.random.default_rng(seed)
    x = rng.integers(-9, 9, size=(2, 3, 7, 6)).astype(np.int16)
    full, _ = im2col(x, kernel, strides, pads, dilations, 5)
    index = spread(len(full), 7)
    np.testing.assert_array_equal(
        im2col_rows(x, index, kernel, strides, pads, dilations, 5), full[index]
    )
