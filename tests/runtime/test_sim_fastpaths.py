"""The simulator's fast paths give exactly what their plain definitions give.

Each test restates a kernel the slow, obvious way (float64 / int64, np.where, per-code unpacking)
and compares bit patterns with what the simulator computes, special values included. The
onnxruntime kernels (`engines`) are compared with the numpy definitions at their exactness bounds,
and must refuse to exist just past them.
"""

from __future__ import annotations

import numpy as np
import pytest
from _simkit import ANALOG, DYNAMIC, machine, put, run
from imcc.runtime.isa import packing
from imcc.runtime.sim.fast import engines
from imcc.runtime.sim.machine import numerics as nx

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
    from imcc.runtime.kernels import nonlinear

    monkeypatch.setattr(nonlinear, "_GELU_BLOCK", 1000)
    assert np.array_equal(_bits(nx.gelu(x)), _bits(whole))


def test_gelu_in_place_equals_gelu_into_a_new_array():
    x = np.random.default_rng(3).standard_normal(70_000).astype(F32) * 4
    x[::997] = np.resize(SPECIAL, x[::997].size)
    want = nx.gelu(x)
    assert np.array_equal(_bits(nx.gelu(x, out=x)), _bits(want))
    inf = np.array([np.inf, -np.inf], F32)
    assert np.array_equal(_bits(nx.gelu(inf)), _bits(np.array([np.inf, -0.0], F32)))


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


# --- onnxruntime kernels (engines): exact where the bound says so, absent where it does not -------


def _int8(rng, shape, lo=-128, hi=127) -> np.ndarray:
    a = rng.integers(lo, hi, shape, dtype=np.int8, endpoint=True)
    flat = a.reshape(-1)
    flat[: flat.size // 5] = lo  # runs of extremes: the largest products and sums
    flat[flat.size // 5 : 2 * flat.size // 5] = hi
    rng.shuffle(flat)
    return a


@pytest.mark.parametrize("seed", range(4))
def test_dwconv_kernels_equal_the_numpy_definition(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    # blocks of one output row or a few rows: first, middle and last blocks pad differently
    monkeypatch.setattr(engines, "DW_BLOCK_ELEMS", int(rng.choice([1, 30, 200, 10**6])))
    built = 0
    for _ in range(5):
        h, w, c = (int(v) for v in rng.integers(1, 10, 3))
        kh, kw = (int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        dil = tuple(int(v) for v in rng.integers(1, 3, 2))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        pad = int(rng.choice([0, -128, 127, int(rng.integers(-128, 128))]))
        if nx.out_size(h, kh, stride[0], pads[0], pads[2], dil[0]) < 1:
            continue
        if nx.out_size(w, kw, stride[1], pads[1], pads[3], dil[1]) < 1:
            continue
        x, wgt = _int8(rng, (h, w, c)), _int8(rng, (kh, kw, c))
        want = nx.dwconv(x, wgt, stride, pads, dil, pad)[None]
        for float_in, float_out in ((False, False), (True, True)):
            k = engines.dwconv_kernel((h, w, c), wgt, stride, pads, dil, pad, float_in, float_out)
            assert k is not None, (h, w, c, kh, kw, stride, pads, dil, pad)
            built += 1
            feed = x[None].astype(F32) if float_in else x[None]
            y = np.empty(want.shape, np.int32)
            yf = np.empty(want.shape, F32)
            k.bind(feed, y, yf if float_out else None)()
            assert np.array_equal(y, want)
            if float_out:
                assert np.array_equal(yf, want.astype(F32))
    assert built


def test_dwconv_kernels_whose_row_blocks_read_padding_only_run_as_one_block(monkeypatch):
    monkeypatch.setattr(engines, "DW_BLOCK_ELEMS", 1)  # one block per output row
    x = _int8(np.random.default_rng(5), (2, 3, 4))
    wgt = _int8(np.random.default_rng(6), (1, 2, 4))
    # 3 rows of padding above: output rows 0..2 read nothing but padding
    for pad in (0, 9):
        k = engines.dwconv_kernel(x.shape, wgt, (1, 1), (3, 1, 1, 0), (1, 1), pad)
        assert len(k.blocks) == 1
        want = nx.dwconv(x, wgt, (1, 1), (3, 1, 1, 0), (1, 1), pad)
        assert np.array_equal(k(x[None])[0][0], want)
    tall = _int8(np.random.default_rng(7), (2, 2, 4))
    k = engines.dwconv_kernel(x.shape, tall, (1, 1), (0, 1, 1, 0), (1, 1), 0)
    assert len(k.blocks) == 2  # row 1 reads input row 1 and a padded row
    want = nx.dwconv(x, tall, (1, 1), (0, 1, 1, 0), (1, 1), 0)
    assert np.array_equal(k(x[None])[0][0], want)


def test_dwconv_kernels_stop_at_the_float32_bound():
    # 32 x 32 taps of (-128) · (-128): the sum is exactly 2^24, the largest exact one
    x = np.full((32, 32, 2), -128, np.int8)
    wgt = np.full((32, 32, 2), -128, np.int8)
    k = engines.dwconv_kernel(x.shape, wgt, (1, 1), (0, 0, 0, 0), (1, 1), 0)
    assert k is not None
    assert np.array_equal(k(x[None])[0], np.full((1, 1, 1, 2), 2**24, np.int32))
    # one more row of taps could pass 2^24: no kernel (the numpy path is exact in int32)
    tall = np.full((33, 32, 2), -128, np.int8)
    assert not engines.dwconv_exact(33, 32, 128)
    assert engines.dwconv_kernel((33, 32, 2), tall, (1, 1), (0, 0, 0, 0), (1, 1), 0) is None
    # the bound uses the actual weights: small ones allow large windows
    assert engines.dwconv_kernel((33, 32, 2), tall // 64, (1, 1), (0, 0, 0, 0), (1, 1), 0)


@pytest.mark.parametrize("signed", [True, False])
def test_mvm_kernels_equal_exact_integer_products(signed):
    rng = np.random.default_rng(int(signed))
    for _ in range(8):
        jobs, rows, cols = (int(v) for v in rng.integers(1, 40, 3))
        wmax = int(rng.choice([1, 7, 64]))
        cells = _int8(rng, (rows, cols), -wmax, wmax)
        x = _int8(rng, (jobs, rows)) if signed else _int8(rng, (jobs, rows)).view(np.uint8)
        exact = x.astype(np.int64) @ cells.astype(np.int64)
        xu = (x.view(np.uint8) ^ np.uint8(0x80)) if signed else x
        for shift in (None, 0, int(rng.integers(1, 12))):
            k = engines.mvm_kernel(jobs, cells, signed, shift)
            assert k is not None
            if shift is None:
                out, want = np.empty((jobs, cols), np.int32), exact.astype(np.int32)
            else:
                out, want = np.empty((jobs, cols), F32), (exact * 2.0**-shift).astype(F32)
            k.bind({"x": np.ascontiguousarray(xu)}, {"y": out})()
            assert np.array_equal(out, want)


def test_mvm_kernels_are_refused_beyond_their_exactness_bounds():
    cells = np.full((16, 4), 65, np.int8)  # 2 · 255 · 65 > 32767: int16 pair sums could saturate
    assert not engines.mvm_exact(16, True, 65, False)
    assert engines.mvm_kernel(3, cells, True, None) is None
    assert engines.mvm_kernel(3, cells - 1, True, None) is not None  # 64 is fine
    # float32 output needs |sum| <= 2^24: 3000 rows of 255 · 32 are above, of 128 · 32 below
    assert not engines.mvm_exact(3000, False, 32, True) and engines.mvm_exact(3000, True, 32, True)
    assert engines.mvm_exact(3000, False, 32, False)  # int32 output: fine


def test_kernels_refuse_buffers_they_cannot_bind():
    k = engines.mvm_kernel(2, np.ones((4, 3), np.int8), False, None)
    raw = np.zeros(64, np.uint8)
    misaligned = raw[1:25].view(np.int32).reshape(2, 3)
    strided = np.zeros((2, 6), np.int32)[:, ::2]
    x = np.zeros((2, 4), np.uint8)
    assert k.bind({"x": x}, {"y": misaligned}) is None
    assert k.bind({"x": x}, {"y": strided}) is None
    assert k.bind({"x": x}, {"y": np.zeros((2, 3), np.int32)}) is not None


def test_requant_of_a_float_copy_equals_requant_of_the_integers():
    rng = np.random.default_rng(4)
    x = rng.integers(-300, 300, (40, 6)).astype(np.int32)
    x[:5] = 0
    copy = x.astype(F32)
    copy[:5] = -0.0  # a producer's float copy may hold -0.0 for 0
    with np.errstate(all="ignore"):
        for _ in range(30):
            scale = (rng.standard_normal(6) * 0.3).astype(F32)
            bias = (rng.standard_normal(6) * 2).astype(F32)
            bias[rng.random(6) < 0.3] = -0.0
            if rng.random() < 0.3:
                scale[rng.integers(6)] = rng.choice(SPECIAL)
            bias = None if rng.random() < 0.3 else bias
            for dtype in ("int8", "uint8", "int32"):
                args = (scale, bias, int(rng.integers(-3, 3)), -50.0, 100.0, dtype)
                assert np.array_equal(nx.requant(copy, *args), nx.requant(x, *args))
