"""Activation quantization: rounding, saturation, static and dynamic scales."""

import numpy as np
import pytest
from imcc.compiler.precision.numerics import (
    calibrate_scale,
    dequantize,
    dynamic_row_scales,
    fake_quantize,
    int_weights,
    quantize,
    quantize_dynamic,
    scale_maxabs,
    scale_mse,
    scale_percentile,
)


def test_round_half_even_and_saturation():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 300.0, -300.0], dtype=np.float32)
    assert quantize(x, 1.0).tolist() == [0, 2, 2, 0, -2, -2, 126, 127, -127]
    assert quantize(np.array([7.0, -9.0]), 1.0, bits=4).tolist() == [7, -7]
    assert quantize(x, 1.0).dtype == np.int32


def test_bad_scales_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="positive and finite"):
        quantize(np.ones(3), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        scale_maxabs(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="unknown calibration method 'max'"):
        calibrate_scale(np.ones(3), "max")
    with pytest.raises(ValueError, match="percentile"):
        scale_percentile(np.ones(3), 0)


def heavy_tailed(seed=0, n=20000):
    return np.random.default_rng(seed).standard_t(2.5, size=n).astype(np.float32)


def mse(x, s, bits=8):
    return float(np.mean((fake_quantize(x, s, bits).astype(np.float64) - x) ** 2))


@pytest.mark.parametrize("bits", [4, 8])
def test_clipping_rules_order_and_mse_optimality(bits):
    x = heavy_tailed(2)
    s_max, s_pct = scale_maxabs(x, bits), scale_percentile(x, 99.9, bits)
    s_mse = scale_mse(x, bits)
    assert s_pct < s_max and s_mse <= s_max
    assert mse(x, s_mse, bits) <= min(mse(x, s_pct, bits), mse(x, s_max, bits))
    if bits == 4:  # few levels: clipping the tail pays off a lot
        assert mse(x, s_mse, bits) < 0.5 * mse(x, s_max, bits)
    assert calibrate_scale(x, "mse", bits) == s_mse and calibrate_scale(x, "maxabs", bits) == s_max


def test_error_inside_the_range_is_at_most_half_a_step():
    x = np.random.default_rng(3).uniform(-5, 5, size=1000).astype(np.float32)
    s = scale_maxabs(x)
    assert np.abs(fake_quantize(x, s) - x).max() <= s / 2 * (1 + 1e-5)


def test_dynamic_row_scales():
    x = np.random.default_rng(4).normal(size=(6, 40)).astype(np.float32)
    x[2] = 0
    q, s = quantize_dynamic(x)
    assert s[2] == 1.0 and (q[2] == 0).all()
    others = np.delete(np.arange(6), 2)
    assert (np.abs(q[others]).max(axis=1) == 127).all()
    np.testing.assert_allclose(dequantize(q, s[:, None]), x, atol=float(s[others].max()) / 2 + 1e-7)
    with pytest.raises(ValueError, match="2-D"):
        dynamic_row_scales(np.ones(3))


def test_int_weights_per_channel():
    w = np.random.default_rng(5).normal(size=(4, 9)).astype(np.float32) * np.arange(1, 5)[:, None]
    q, s = int_weights(w)
    assert (np.abs(q).max(axis=1) == 127).all()
    rel = np.linalg.norm(dequantize(q, s[:, None]) - w) / np.linalg.norm(w)
    assert rel < 0.01


def test_all_zero_tensor_gets_a_usable_scale():
    z = np.zeros(10, np.float32)
    for method in ("maxabs", "percentile", "mse"):
        assert calibrate_scale(z, method) == 1.0
