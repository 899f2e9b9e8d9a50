"""The simulator's fast paths give exactly what their plain definitions give.

Each test restates a kernel the slow, obvious way (float64 / int64, np.where, per-code unpacking)
and compares bit patterns with what the simulator computes, special values included.
"""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DYNAMIC, machine, put, run
from imcc.runtime.isa import packing
from imcc.runtime.sim import numerics as nx

F32 = np.float32
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30], F32)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _plain_requant(x, scale, bias, zp, lo, hi, dtype):
    v = x.astype(F32) * scale + (bias if bias is not None else F32(0))
    if np.dtype(dtype).kind == "f":
        return np.minimum(np.maximum(v, F32(lo)), F32(hi))
    with np.errstate(invalid="ignore"):
        y = np.minimum(np.maximum(np.rint(v) + F32(zp), F32(lo)), F32(hi)).astype(np.float64)
    info = np.iinfo(dtype)
    y = np.clip(y, info.min, info.max)
    y[np.isnan(y)] = 0
    return y.astype(dtype)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float32"])
def test_requant_matches_its_plain_definition(dtype):
    rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):
        for _ in range(200):
            x = rng.integers(-(2**31), 2**31 - 1, (3, 5), dtype=np.int32)
            scale = (rng.standard_normal(5) * 10.0 ** rng.uniform(-9, 1)).astype(F32)
            bias = (rng.standard_normal(5) * 50).astype(F32)
            if rng.random() < 0.3:
                scale[rng.integers(5)] = rng.choice(SPECIAL)
            zp = 0 if dtype == "float32" else int(rng.integers(-10, 10))
            lo, hi = sorted(rng.choice([-np.inf, np.inf, -200.0, 0.0, 6.0, 127.0, 300.0], 2))
            got = nx.requant(x, scale, bias, zp, lo, hi, dtype)
            if dtype == "float32":
                want = _plain_requant(x, scale, bias, zp, lo, hi, dtype)
                assert np.array_equal(_bits(got), _bits(want))
            else:
                assert np.array_equal(got, _plain_requant(x, scale, bias, zp, lo, hi, dtype))


def test_quant_matches_its_plain_definition():
    x = np.concatenate([SPECIAL, np.linspace(-300, 300, 1201, dtype=F32)])
    for dtype in (np.int8, np.uint8):
        with np.errstate(all="ignore"):
            want = np.rint(x / F32(0.5)) + F32(3)
        got = nx.quant(x, 0.5, 3, dtype)
        assert np.array_equal(got, nx.saturate(want, dtype))


def test_float32_adc_matches_the_float64_one():
    rng = np.random.default_rng(1)
    for bits in (4, 8, 12):
        for shift in (0, 3, 32 - bits):
            y = rng.integers(-(2**24), 2**24 + 1, 4000)
            assert np.array_equal(nx.adc(y.astype(F32), shift, bits), nx.adc(y, shift, bits))


def test_gelu_does_not_depend_on_its_block_size(monkeypatch):
    x = np.random.default_rng(2).standard_normal(50_001).astype(F32) * 4
    x[:7] = SPECIAL
    whole = nx.gelu(x)
    monkeypatch.setattr(nx, "_GELU_BLOCK", 1000)
    assert np.array_equal(_bits(nx.gelu(x)), _bits(whole))


def test_erfc_select_is_exact_around_zero():
    # the fit gives erfc(0) slightly above 1, so erfc(-tiny) = 2 - that is below 1: both branches
    x = np.array([-1e-300, -0.0, 0.0, 1e-300, -1e-9, 1e-9, -30.0, 30.0])
    got = nx.erfc(x)
    r = nx.erfc(np.abs(x))
    assert np.array_equal(got, np.where(x >= 0, r, 2.0 - r))


@pytest.mark.parametrize("dtype", ["t2", "i4"])
def test_packed_checks_and_decoding_match_the_code_by_code_definition(dtype):
    bits = packing.DTYPES[dtype].bits
    per = 8 // bits
    rng = np.random.default_rng(3)
    for count in range(0, 3 * per + 2):
        for _ in range(60):
            raw = rng.integers(0, 256, packing.packed_nbytes(dtype, count), dtype=np.uint8)
            codes = ((raw[:, None] >> (np.arange(per) * bits)) & ((1 << bits) - 1)).reshape(-1)
            invalid = (codes[:count] == 1 << (bits - 1)).any()
            padding = codes[count:].any()
            problem = packing.check_packed(dtype, raw.tobytes(), count)
            assert (problem is None) == (not invalid and not padding)
            if invalid:
                assert "invalid" in problem
            want = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes)[:count]
            assert np.array_equal(packing.unpack(dtype, raw.tobytes(), count), want)


def test_rewriting_an_array_refreshes_what_mvm_jobs_cached():
    m = machine(mode="ideal")
    put(m, "L1", 0, np.arange(1, 9, dtype=np.int8).reshape(2, 4), "i8")
    window = {"array": DYNAMIC, "row0": 0, "col0": 0, "rows": 4, "cols": 4}
    jobs = {"seg_len": 4, "inner_stride": 4, "n_inner": 2, "dst_stride": 16}
    for scale in (1, 3):  # the second MVM must see the rewritten cells, not a cached copy
        put(m, "L1", 100, np.eye(4, dtype=np.int8) * scale, "i8")
        run(m, "xb.write", **window, src_mem="L1", src_addr=100, src_stride=4)
        run(m, "xb.mvm", **window, **jobs, src_mem="L1", src_addr=0, dst_mem="L1", dst_addr=200)
        y = m.load("L1", 200, "i32", (2, 4))
        assert np.array_equal(y, np.arange(1, 9).reshape(2, 4) * scale)


def test_wide_products_leave_the_float32_path_and_stay_exact():
    m = machine(mode="ideal")
    w = np.full((32, 2), 7, np.int8)
    m.write_cells(ANALOG, 0, 0, w)
    x = np.full((1, 32), 2**20, dtype=np.int32)  # 32 · 2^20 · 7 > 2^24: float64 path
    y = m.evaluate(ANALOG, 0, 0, 2, x, 0)
    assert list(y[0]) == [32 * 2**20 * 7] * 2
