"""Execution modes from one binary: ideal, adc, noisy (seeded), drift."""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DIGITAL, machine, run, tiny_target

RNG = np.random.default_rng(7)
W = RNG.integers(-7, 8, size=(32, 16)).astype(np.int8)
X = RNG.integers(-128, 128, size=(64, 32), dtype=np.int8)


# a wide ADC and a big L2, to look at noise and drift without clipping
WIDE = {"arrays.ima.adc_bits": 24, "memory.L2.size": "1 MiB"}


def _mvm(m, array=ANALOG, w=W, x=X, shift=6):
    out = 0x40000 if m.mem["L2"].size > 0x40000 else 0x8000
    m.write_cells(array, 0, 0, w)
    m.store("L2", 0, x, "i8")
    run(
        m,
        "xb.mvm",
        array=array,
        row0=0,
        col0=0,
        rows=32,
        cols=w.shape[1],
        src_mem="L2",
        src_addr=0,
        seg_len=32,
        inner_stride=32,
        n_inner=x.shape[0],
        dst_mem="L2",
        dst_addr=out,
        dst_stride=4 * w.shape[1],
        adc_shift=shift,
    )
    return m.load("L2", out, "i32", (x.shape[0], w.shape[1]))


def test_noisy_mode_is_seeded_and_reproducible():
    a = _mvm(machine("noisy", seed=1))
    b = _mvm(machine("noisy", seed=1))
    c = _mvm(machine("noisy", seed=2))
    clean = _mvm(machine("adc"))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, clean)
    # noise, not garbage: close to the clean result relative to the output range
    assert np.abs(a - clean).mean() < 0.1 * np.abs(clean).mean()


def test_digital_arrays_are_exact_in_noisy_mode():
    w = RNG.integers(-1, 2, size=(32, 16)).astype(np.int8)
    got = _mvm(machine("noisy", seed=3), array=DIGITAL, w=w)
    assert np.array_equal(got, X.astype(np.int64) @ w.astype(np.int64))


def test_stuck_at_zero_faults_zero_the_outputs():
    t = tiny_target(
        **{
            "arrays.ima.prog_noise": 0,
            "arrays.ima.read_noise": 0,
            "arrays.ima.stuck_zero": 1.0,
            "arrays.ima.stuck_max": 0,
        }
    )
    assert not _mvm(machine("noisy", target=t)).any()
    t = tiny_target(
        **{
            "arrays.ima.prog_noise": 0,
            "arrays.ima.read_noise": 0,
            "arrays.ima.stuck_zero": 0,
            "arrays.ima.stuck_max": 0,
        }
    )
    assert np.array_equal(_mvm(machine("noisy", target=t)), _mvm(machine("adc")))


def test_read_noise_has_the_documented_spread():
    t = tiny_target(
        **WIDE,
        **{
            "arrays.ima.prog_noise": 0,
            "arrays.ima.read_noise": 0.01,
            "arrays.ima.stuck_zero": 0,
            "arrays.ima.stuck_max": 0,
        },
    )
    x = np.tile(X[:1], (4000, 1))
    got = _mvm(machine("ideal", target=t), x=x, shift=0)
    diff = (_mvm(machine("noisy", seed=5, target=t), x=x, shift=0) - got).astype(float)
    sigma = 0.01 * 7 * np.sqrt(np.square(X[0].astype(float)).sum())
    assert diff.std() == pytest.approx(sigma, rel=0.1)


def test_drift_at_t0_equals_noisy_and_shrinks_later():
    noisy = _mvm(machine("noisy", seed=4))
    t0 = tiny_target().arrays[0].drift_t0
    assert np.array_equal(_mvm(machine("drift", seed=4, drift_time=t0)), noisy)
    wide = tiny_target(**WIDE)
    late = _mvm(machine("drift", seed=4, drift_time=1e7, target=wide), shift=0)
    early = _mvm(machine("drift", seed=4, drift_time=t0, target=wide), shift=0)
    ratio = np.abs(late).sum() / np.abs(early).sum()
    # (1e7 / 20)^-0.05 ~ 0.52 on average over cells
    assert 0.4 < ratio < 0.7
