"""ADC model and clip-range calibration."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.precision.numerics import (
    adc_codes,
    adc_read,
    calibrate_adc_shift,
    round_shift,
    saturated,
)
from imcc.compiler.precision.numerics.adc import column_groups


def reference(sums, s, bits):
    """The documented formula, in float64 (exact for these magnitudes)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.clip(np.rint(np.asarray(sums, np.float64) / 2.0**s), lo, hi) * 2.0**s


def test_half_even_cases():
    sums = np.array([1, 3, 5, -1, -3, -5, 2, 7])
    assert round_shift(sums, 1).tolist() == [0, 2, 2, 0, -2, -2, 1, 4]
    assert round_shift(np.array([6, 10, -6, 11]), 2).tolist() == [2, 2, -2, 3]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=50),
    st.integers(0, 30),
    st.integers(2, 12),
)
def test_adc_matches_the_formula(sums, s, bits):
    got = adc_read(np.array(sums, np.int64), s, bits)
    assert np.array_equal(got, reference(sums, s, bits).astype(np.int64))


def test_codes_range_and_saturation_flags():
    # -257/2 = -128.5 rounds to the even -128 (in range); 255/2 = 127.5 rounds to 128 (clipped).
    sums = np.array([-1000, -257, -256, 0, 254, 255, 1000])
    codes = adc_codes(sums, 1, 8)
    assert codes.tolist() == [-128, -128, -128, 0, 127, 127, 127]
    assert saturated(sums, 1, 8).tolist() == [True, False, False, False, False, True, True]


def test_bad_inputs():
    with pytest.raises(ValueError, match="integers"):
        adc_read(np.array([1.5]), 1)
    with pytest.raises(ValueError, match="shift"):
        adc_read(np.array([1]), -1)
    with pytest.raises(ValueError, match="criterion"):
        calibrate_adc_shift(np.ones((3, 2), np.int64), criterion="max")


def column_sums(seed=0, n=400, cols=12):
    rng = np.random.default_rng(seed)
    spread = np.repeat([20, 300, 5000], cols // 3)
    return np.rint(rng.laplace(size=(n, cols)) * spread).astype(np.int64)


@pytest.mark.parametrize("frac", [0.0, 0.001, 0.01, 0.1])
def test_fraction_criterion_picks_the_finest_admissible_step(frac):
    x = column_sums(1)
    gid = column_groups(x.shape[1], group_size=4)
    shifts = calibrate_adc_shift(x, 8, max_fraction=frac, group_size=4)
    assert shifts.shape == (3,) and shifts[0] < shifts[1] < shifts[2]
    for g, s in enumerate(shifts):
        cols = x[:, gid == g]
        assert saturated(cols, s, 8).mean() <= frac
        if s > 0:
            assert saturated(cols, s - 1, 8).mean() > frac


def test_mse_criterion_minimises_reading_error():
    x = column_sums(2)
    shifts = calibrate_adc_shift(x, 6, criterion="mse", group_size=4)
    gid = column_groups(x.shape[1], group_size=4)
    for g, s in enumerate(shifts):
        cols = x[:, gid == g]
        errs = [np.mean((adc_read(cols, k, 6) - cols).astype(np.float64) ** 2) for k in range(40)]
        assert errs[s] == min(errs) and s == int(np.argmin(errs))


def test_explicit_groups_match_group_size():
    x = column_sums(3)
    by_size = calibrate_adc_shift(x, group_size=4)
    by_ids = calibrate_adc_shift(x, groups=np.arange(12) // 4)
    assert np.array_equal(by_size, by_ids)
    per_col = calibrate_adc_shift(x, group_size=1)
    assert per_col.shape == (12,)
    with pytest.raises(ValueError, match="groups"):
        calibrate_adc_shift(x, groups=np.zeros(5, np.int64))


def test_all_zero_sums_need_no_shift():
    zeros = np.zeros((10, 4), np.int64)
    assert calibrate_adc_shift(zeros).tolist() == [0]
    assert calibrate_adc_shift(zeros, criterion="mse", group_size=2).tolist() == [0, 0]
