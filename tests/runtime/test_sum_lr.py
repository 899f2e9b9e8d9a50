"""sum_lr, the ISA's left-to-right sum (softmax, LayerNorm), equals an explicit left-to-right loop
bit for bit at every shape, whichever numpy path computes it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.runtime.kernels.nonlinear import sum_lr


def left_to_right(x: np.ndarray) -> np.ndarray:
    acc = np.zeros(x.shape[:-1], dtype=np.float32)
    for j in range(x.shape[-1]):
        acc = (acc + x[..., j]).astype(np.float32)
    return acc[..., None]


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    lead=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    n=st.integers(1, 300),
    spread=st.sampled_from([0.0, 2.0, 6.0]),
)
def test_sum_lr_is_left_to_right(seed, lead, n, spread):
    rng = np.random.default_rng(seed)
    shape = (*lead, n)
    x = (rng.standard_normal(shape) * np.exp(rng.standard_normal(shape) * spread)).astype(
        np.float32
    )
    got = sum_lr(x)
    assert got.dtype == np.float32 and got.shape == (*lead, 1)
    np.testing.assert_array_equal(got, left_to_right(x))


def test_cancellation_shows_the_order():
    """1e8 + 1 - 1e8 + 1 ... is 1 summed left to right in float32, not what pairs give."""
    row = np.array([1e8, 1, -1e8, 1] * 16, np.float32)
    x = np.stack([row, row[::-1]])
    np.testing.assert_array_equal(sum_lr(x), left_to_right(x))
    np.testing.assert_array_equal(sum_lr(x[:1]), left_to_right(x[:1]))
