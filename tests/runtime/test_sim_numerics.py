"""The exact-arithmetic contract of runtime/sim/machine/numerics.py."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.sim.machine import numerics as nx


def test_exact_matmul_matches_int64_on_every_path():
    rng = np.random.default_rng(0)
    cases = [
        (rng.integers(-128, 128, (5, 64)), rng.integers(-7, 8, (64, 3))),  # float32 path
        (rng.integers(-128, 128, (5, 2000)), rng.integers(-128, 128, (2000, 3))),  # float64
        (np.full((2, 4), 2**31 - 1), np.full((4, 2), 2**30)),  # beyond 2^53: int64
    ]
    for x, w in cases:
        want = x.astype(object) @ w.astype(object)
        got = nx.exact_matmul(x, w)
        assert got.dtype == np.int64
        if np.abs(want).max() < 2**63:
            assert np.array_equal(got, want.astype(np.int64))


def test_float32_gemm_is_used_only_below_two_to_the_24():
    # 1024 * 128 * 128 = 2^24 exactly: still exact in float32
    x = np.full((1, 1024), -128, dtype=np.int8)
    w = np.full((1024, 1), -128, dtype=np.int8)
    assert nx.exact_matmul(x, w)[0, 0] == 2**24
    # above 2^24 an odd total is not a float32: the guard must
    # switch to float64
    x = np.concatenate([np.full((1, 1100), 127, np.int16), [[1]]], axis=1)
    w = np.concatenate([np.full((1100, 1), 127, np.int16), [[1]]], axis=0)
    assert nx.exact_matmul(x, w)[0, 0] == 1100 * 127 * 127 + 1  # odd and above 2^24


def test_adc_rounds_half_to_even_and_clips():
    y = np.array([0, 8, 24, 40, -8, -24, 2**20, -(2**20), 17])
    got = nx.adc(y, 4, 8)
    # 8/16 = 0.5 -> 0, 24/16 = 1.5 -> 2, 40/16 = 2.5 -> 2, 17/16 -> 1
    assert list(got) == [0, 0, 32, 32, 0, -32, 127 * 16, -128 * 16, 16]
    assert got.dtype == np.int32


def test_saturate_clamps_and_maps_nan_to_zero():
    x = np.array([np.nan, np.inf, -np.inf, 300.0, -300.0, 5.0])
    assert list(nx.saturate(x, np.int8)) == [0, 127, -128, 127, -128, 5]
    assert list(nx.saturate(np.array([2**40, -(2**40)]), np.int32)) == [2**31 - 1, -(2**31)]


def test_accumulate_saturates():
    a = np.array([2**31 - 10, -(2**31) + 1], np.int32)
    assert list(nx.accumulate_i32(a, np.array([100, -100]))) == [2**31 - 1, -(2**31)]


def test_softmax_sum_is_left_to_right():
    x = np.random.default_rng(1).standard_normal((3, 1000)).astype(np.float32) * 10
    e = np.exp(x - x.max(axis=1, keepdims=True))
    total = np.zeros((3, 1), np.float32)
    for j in range(1000):  # the definition, one element at a time
        total = total + e[:, j : j + 1]
    assert np.array_equal(nx.softmax(x), e / total)


def test_gelu_stays_within_float32_accuracy():
    import math

    x = np.linspace(-10, 10, 4001, dtype=np.float32)
    x = np.concatenate([x, np.float32(1.5) ** -np.arange(1, 200, dtype=np.float32)])
    x = np.concatenate([x, -x])  # tiny magnitudes too, where both branches meet
    ref = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x.astype(float)])
    err = np.abs(nx.gelu(x).astype(float) - ref)
    assert np.all(err <= 2.5e-7 * np.maximum(np.abs(ref), 1e-30) + 1e-38)


def test_requant_is_float32_multiply_then_add():
    x = np.array([[1_000_001, -3]], np.int32)
    scale = np.array([0.1, 0.5], np.float32)
    bias = np.array([0.25, 0.0], np.float32)
    want = np.float32(1_000_001) * np.float32(0.1) + np.float32(0.25)
    got = nx.requant(x, scale, bias, 0, -np.inf, np.inf, np.float32)
    assert got[0, 0] == want and got[0, 1] == np.float32(-1.5)
    # -1.5 rounds to -2 (even); zp then shifts it; saturation to int8
    assert list(nx.requant(x, scale, bias, 10, -np.inf, np.inf, np.int8)[0]) == [127, 8]


@settings(max_examples=40, deadline=None)
@given(
    n_outer=st.integers(1, 3),
    n_inner=st.integers(1, 4),
    seg_count=st.integers(1, 3),
    seg_len=st.integers(1, 5),
    gaps=st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7)),
    src=st.integers(0, 9),
)
def test_gather_matches_the_address_formula(n_outer, n_inner, seg_count, seg_len, gaps, src):
    seg_stride = seg_len + gaps[0]
    inner = seg_count * seg_stride + gaps[1]
    outer = n_inner * inner + gaps[2]
    mem = np.arange(4096, dtype=np.int64).astype(np.uint8)
    got = nx.gather_vectors(
        mem, src, n_outer, n_inner, outer, inner, seg_count, seg_len, seg_stride
    )
    for i in range(n_outer):
        for j in range(n_inner):
            want = np.concatenate(
                [
                    mem[src + i * outer + j * inner + k * seg_stride :][:seg_len]
                    for k in range(seg_count)
                ]
            )
            assert np.array_equal(got[i * n_inner + j], want)


def test_gather_refuses_reads_past_the_memory():
    mem = np.zeros(64, np.uint8)
    try:
        nx.gather_vectors(mem, 60, 1, 2, 0, 4, 1, 4, 0)
    except IndexError as err:
        assert "outside" in str(err)
    else:
        raise AssertionError("expected IndexError")


def test_pool_average_excludes_padding_and_rounds_to_even():
    x = np.array([[[1], [2]], [[4], [6]]], np.int8)  # 2x2, one channel
    got = nx.pool("avg", x, 2, 2, (1, 1), (1, 1, 0, 0))
    # windows: [1] -> 1, [1,2] -> 1.5 -> 2, [1,4] -> 2.5 -> 2, [1,2,4,6] -> 3.25 -> 3
    assert got[:, :, 0].tolist() == [[1, 2], [2, 3]]
