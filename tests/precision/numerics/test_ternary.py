"""Ternarization rules: definitions, optimality relations, sparsity targets, exact round trips."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imcc.compiler.precision.numerics import (
    Ternary,
    as_matrix,
    detect_ternary,
    fit_scales,
    l2_optimal_count,
    ternarize,
    ternarize_planes,
)


def sq_err(w, tern: Ternary) -> np.ndarray:
    d = np.asarray(w, np.float64) - tern.dequantize().astype(np.float64)
    return (d * d).sum(axis=1)


def test_as_matrix_flattens_oihw():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    m = as_matrix(w)
    assert m.shape == (2, 12)
    assert np.array_equal(m[1], w[1].ravel())
    with pytest.raises(ValueError, match="at least 2 dims"):
        as_matrix(np.ones(3))


@pytest.mark.parametrize(
    "bad, message",
    [(np.ones(4), "must be 2-D"), (np.array([[1.0, np.nan]]), "NaN"), (np.ones((2, 0)), "empty")],
)
def test_bad_weights_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        ternarize(bad)


def test_unknown_rule_is_rejected():
    with pytest.raises(ValueError, match="unknown ternarization rule 'foo'"):
        ternarize(np.ones((2, 3)), rule="foo")


def test_twn_matches_its_definition():
    w = np.array([[0.1, -0.9, 0.5, 0.05, -0.3, 0.0]], dtype=np.float32)
    tern = ternarize(w, "twn", keep_exact=False)
    delta = 0.7 * np.abs(w).mean()
    expect = (np.sign(w) * (np.abs(w) > delta)).astype(np.int8)
    assert np.array_equal(tern.t[0], expect)
    assert tern.alpha[0, 0] == np.float32(np.abs(w)[expect != 0].astype(np.float64).mean())
    assert tern.t.dtype == np.int8 and tern.alpha_pos.dtype == np.float32


def test_l2_count_matches_brute_force_over_all_supports():
    rng = np.random.default_rng(1)
    w = rng.laplace(size=(20, 7))
    tern = ternarize(w, "l2", keep_exact=False)
    for o in range(w.shape[0]):
        best = np.inf
        for mask in itertools.product([0, 1], repeat=w.shape[1]):
            m = np.array(mask, bool)
            alpha = np.abs(w[o][m]).mean() if m.any() else 0.0
            best = min(best, float(((w[o] - alpha * np.sign(w[o]) * m) ** 2).sum()))
        assert sq_err(w[o : o + 1], _row(tern, o))[0] == pytest.approx(best, rel=1e-6, abs=1e-12)


def _row(tern: Ternary, o: int) -> Ternary:
    return Ternary(
        tern.t[:, o : o + 1],
        tern.alpha_pos[:, o : o + 1],
        tern.alpha_neg[:, o : o + 1],
        tern.exact[o : o + 1],
    )


@pytest.mark.parametrize("name", ["laplace", "normal", "skewed", "uniform"])
@pytest.mark.parametrize("factor", [0.5, 0.7, 1.0, 1.6])
def test_l2_error_never_exceeds_twn_per_channel(name, factor, zoo):
    w = zoo()[name]
    l2 = sq_err(w, ternarize(w, "l2"))
    twn = sq_err(w, ternarize(w, "twn", factor=factor))
    assert (l2 <= twn * (1 + 1e-6) + 1e-12).all()
    # The fixed 0.7 rule is not optimal on these shapes: somewhere it is strictly worse.
    if factor == 0.7:
        assert (l2 < twn * (1 - 1e-4)).any()


def test_l2_error_never_exceeds_twn_on_digits(digits_layer):
    w, _ = digits_layer
    assert (sq_err(w, ternarize(w, "l2")) <= sq_err(w, ternarize(w, "twn")) * (1 + 1e-6)).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_l2_count_is_argmax_over_sizes(seed, n):
    rng = np.random.default_rng(seed)
    a = np.abs(rng.standard_t(3, size=(4, n)))
    k = l2_optimal_count(a)
    srt = -np.sort(-a, axis=1)
    for o in range(4):
        errs = [(a[o] ** 2).sum() - srt[o, :j].sum() ** 2 / j for j in range(1, n + 1)]
        assert errs[k[o] - 1] <= min(errs) + 1e-9


def test_asymmetric_scales_are_optimal_and_beat_symmetric(zoo):
    for w in zoo(3).values():
        sym = ternarize(w, "l2")
        asym = ternarize(w, "l2", asymmetric=True)
        assert (sq_err(w, asym) <= sq_err(w, sym) * (1 + 1e-6)).all()
        assert not asym.symmetric
        with pytest.raises(ValueError, match="separate"):
            _ = asym.alpha


def test_fit_scales_is_a_stationary_point(zoo):
    w = zoo(4)["laplace"].astype(np.float64)
    t = ternarize(w, "twn").t[0]
    none = np.zeros(len(w), bool)
    for asym in (False, True):
        ap, an = fit_scales(w, t, asym)
        base = sq_err(w, Ternary(t[None], ap[None], an[None], none))
        nudges = (
            [(1.01, 1.0), (0.99, 1.0), (1.0, 1.01), (1.0, 0.99)]
            if asym
            else [(1.01,) * 2, (0.99,) * 2]
        )
        for dp, dn in nudges:
            moved = Ternary(t[None], (ap * dp)[None], (an * dn)[None], none)
            assert (base <= sq_err(w, moved) + 1e-9).all()


@pytest.mark.parametrize("sparsity", [0.5, 0.6, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_target_sparsity_within_one_element_per_channel(sparsity, asymmetric, zoo):
    for w in zoo(5).values():
        tern = ternarize(w, "sparsity", sparsity=sparsity, asymmetric=asymmetric)
        zeros = (tern.t[0] == 0).sum(axis=1)
        assert (np.abs(zeros - sparsity * w.shape[1]) <= 1).all()


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.9])
def test_tensor_scope_sparsity_is_met_globally(sparsity, zoo):
    w = zoo(6)["laplace"]
    tern = ternarize(w, "sparsity", sparsity=sparsity, scope="tensor")
    assert abs((tern.t == 0).sum() - sparsity * w.size) <= 1
    per_channel = (tern.t[0] == 0).mean(axis=1)
    assert per_channel.std() > 0  # one global threshold: rows differ


def test_large_twn_factor_gives_high_sparsity_on_laplacian():
    w = np.random.default_rng(7).laplace(size=(64, 512))
    assert 0.3 < ternarize(w, "twn", factor=0.7).sparsity()[0] < 0.55
    assert ternarize(w, "twn", factor=1.6).sparsity()[0] > 0.78


def _ternary_weights(seed, asymmetric):
    rng = np.random.default_rng(seed)
    t = rng.integers(-1, 2, size=(12, 30)).astype(np.int8)
    a_pos = rng.uniform(0.01, 2, size=12).astype(np.float32)
    a_neg = rng.uniform(0.01, 2, size=12).astype(np.float32) if asymmetric else a_pos
    w = np.where(t > 0, a_pos[:, None], np.where(t < 0, -a_neg[:, None], 0)).astype(np.float32)
    w[0] = 0  # an all-zero channel is ternary too
    return w


@pytest.mark.parametrize("rule", ["twn", "l2", "sparsity"])
@pytest.mark.parametrize("planes", [1, 3])
def test_already_ternary_roundtrips_bit_exactly(rule, planes):
    w = _ternary_weights(8, asymmetric=False)
    tern = ternarize_planes(w, planes, rule, sparsity=0.9)
    assert tern.exact.all()
    assert tern.dequantize().tobytes() == w.tobytes()
    assert (tern.t[1:] == 0).all()


def test_ttq_weights_roundtrip_with_asymmetric_scales_only():
    w = _ternary_weights(9, asymmetric=True)
    asym = ternarize(w, "l2", asymmetric=True)
    assert asym.exact.all()
    assert asym.dequantize().tobytes() == w.tobytes()
    sym_exact, _ = detect_ternary(w, asymmetric=False)
    assert sym_exact[0] and not sym_exact[1:].any()


def test_only_ternary_channels_are_kept_exactly():
    w = _ternary_weights(10, asymmetric=False)
    w[5] += np.random.default_rng(0).normal(scale=0.1, size=w.shape[1]).astype(np.float32)
    tern = ternarize(w, "twn")
    assert tern.exact.sum() == len(w) - 1 and not tern.exact[5]
    keep = np.arange(len(w)) != 5
    assert tern.dequantize()[keep].tobytes() == w[keep].tobytes()


def test_near_ternary_within_tolerance_is_detected():
    w = _ternary_weights(11, asymmetric=False).astype(np.float64)
    w *= 1 + 1e-8 * np.random.default_rng(1).normal(size=w.shape)
    assert detect_ternary(w)[0].all()
    w[3, 0] = 0.37 * np.abs(w[3]).max()
    assert not detect_ternary(w)[0][3]


def test_ternarization_is_deterministic(zoo):
    w = zoo(12)["normal"]
    a, b = ternarize_planes(w, 2, "l2"), ternarize_planes(w.copy(), 2, "l2")
    assert a.t.tobytes() == b.t.tobytes() and a.alpha_pos.tobytes() == b.alpha_pos.tobytes()


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(-30, 30),
    st.booleans(),
)
def test_ternary_roundtrip_for_any_scale(seed, exponent, asymmetric):
    rng = np.random.default_rng(seed)
    scale = 10.0**exponent
    t = rng.integers(-1, 2, size=(5, 17)).astype(np.int8)
    a_pos = (scale * rng.uniform(0.5, 2, size=5)).astype(np.float32)
    a_neg = (scale * rng.uniform(0.5, 2, size=5)).astype(np.float32) if asymmetric else a_pos
    w = np.where(t > 0, a_pos[:, None], np.where(t < 0, -a_neg[:, None], 0)).astype(np.float32)
    for rule in ("twn", "l2"):
        tern = ternarize_planes(w, 2, rule, asymmetric=asymmetric)
        assert tern.exact.all() and tern.dequantize().tobytes() == w.tobytes()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 6), cols=st.integers(1, 12))
def test_top_k_mask_is_the_stable_sort_definition(seed, rows, cols):
    """The k largest per row, ties going to the earlier position (as a stable sort ranks them)."""
    from imcc.compiler.precision.numerics.ternary import top_k_mask

    rng = np.random.default_rng(seed)
    m = rng.integers(0, 3, size=(rows, cols)).astype(float)  # many ties
    k = rng.integers(0, cols + 1, size=rows)
    order = np.argsort(-m, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(cols)[None, :], axis=1)
    np.testing.assert_array_equal(top_k_mask(m, k), rank < k[:, None])
