"""Data-aware ternarization: bias correction, GPTQ, output-error search, output-optimal scales."""

import numpy as np
import pytest
from imcc.compiler.precision.numerics import (
    bias_correction,
    gptq_ternarize,
    hessian,
    output_error,
    output_optimal_scales,
    output_search_ternarize,
    ternarize,
    ternarize_planes,
)


def correlated_inputs(n, fan_in, seed):
    """Activations with correlated features, as real layers see them (ReLU'd, non-zero mean)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(fan_in, fan_in)) / np.sqrt(fan_in)
    return np.maximum(rng.normal(size=(n, fan_in)) @ mix + 0.3, 0).astype(np.float32)


def out_err(w, tern, x):
    return output_error(w, tern.dequantize(), hessian(x))


def test_bias_correction_keeps_the_mean_output(digits_layer):
    w, x = digits_layer
    w_hat = ternarize(w).dequantize()
    b = np.linspace(-1, 1, w.shape[0]).astype(np.float32)
    b2 = bias_correction(w, w_hat, x, b)
    ref = (x.astype(np.float64) @ w.T + b).mean(axis=0)
    got = (x.astype(np.float64) @ w_hat.T + b2).mean(axis=0)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert not np.allclose(b2, b)
    with pytest.raises(ValueError, match="bias must have shape"):
        bias_correction(w, w_hat, x, np.zeros(3))


def test_gptq_output_error_beats_l2_on_digits(digits_layer):
    w, x = digits_layer
    l2 = out_err(w, ternarize(w, "l2"), x)
    guarded = out_err(w, gptq_ternarize(w, x), x)
    assert (guarded <= l2 * (1 + 1e-9)).all()
    raw = out_err(w, gptq_ternarize(w, x, keep_better=False), x)
    assert raw.sum() < 0.5 * l2.sum()


@pytest.mark.parametrize("asymmetric", [False, True])
def test_gptq_output_error_beats_l2_on_correlated_inputs(asymmetric, zoo):
    w = zoo(30)["laplace"]
    x = correlated_inputs(600, w.shape[1], 31)
    l2 = out_err(w, ternarize(w, "l2", asymmetric=asymmetric), x)
    g = out_err(w, gptq_ternarize(w, x, asymmetric=asymmetric), x)
    assert (g <= l2 * (1 + 1e-9)).all()
    assert g.sum() < 0.8 * l2.sum()


def test_gptq_planes_reduce_output_error(digits_layer):
    w, x = digits_layer
    errs = [out_err(w, gptq_ternarize(w, x, planes=k), x) for k in (1, 2, 3)]
    for prev, nxt in zip(errs, errs[1:]):
        assert (nxt <= prev * (1 + 1e-6) + 1e-12).all()
    assert errs[2].sum() < 0.2 * errs[0].sum()


def test_gptq_ignores_dead_inputs(zoo):
    w = zoo(32)["normal"]
    x = correlated_inputs(300, w.shape[1], 33)
    x[:, [3, 17]] = 0
    tern = gptq_ternarize(w, x, keep_better=False)
    assert (tern.t[:, :, [3, 17]] == 0).all()


def test_output_search_never_worse_than_l2(digits_layer):
    w, x = digits_layer
    l2 = out_err(w, ternarize(w, "l2"), x)
    s = out_err(w, output_search_ternarize(w, x), x)
    assert (s <= l2 * (1 + 1e-9)).all() and s.sum() < 0.6 * l2.sum()


@pytest.mark.parametrize("sparsity", [0.5, 0.8])
def test_output_search_at_fixed_sparsity(digits_layer, sparsity):
    w, x = digits_layer
    tern = output_search_ternarize(w, x, sparsity=sparsity)
    zeros = (tern.t[0] == 0).sum(axis=1)
    assert (np.abs(zeros - sparsity * w.shape[1]) <= 1).all()
    weight_only = ternarize(w, "sparsity", sparsity=sparsity)
    assert (out_err(w, tern, x) <= out_err(w, weight_only, x) * (1 + 1e-9)).all()


def test_symmetric_output_scales_solve_least_squares(zoo):
    w = zoo(34)["normal"].astype(np.float64)
    x = correlated_inputs(200, w.shape[1], 35).astype(np.float64)
    t = ternarize(w, "l2").t[0]
    t2, a, _, err = output_optimal_scales(w, t, hessian(x))
    for o in range(len(w)):
        xt, y = x @ t[o], x @ w[o]
        ref = xt @ y / (xt @ xt)
        assert a[o] == pytest.approx(abs(ref), rel=1e-5)
        assert np.array_equal(t2[o], np.sign(ref) * t[o])
    np.testing.assert_allclose(err, output_error(w, a[:, None] * t2, hessian(x)), rtol=1e-5)


def test_asymmetric_output_scales_match_nnls():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(36)
    w = rng.normal(size=(25, 20))
    x = correlated_inputs(100, 20, 37).astype(np.float64)
    t = rng.integers(-1, 2, size=w.shape).astype(np.int8)  # arbitrary, so constraints bind
    _, ap, an, err = output_optimal_scales(w, t, hessian(x), asymmetric=True)
    for o in range(len(w)):
        a = np.stack([x @ (t[o] > 0), -(x @ (t[o] < 0))], axis=1) / np.sqrt(len(x))
        sol, _ = optimize.nnls(a, x @ w[o] / np.sqrt(len(x)))
        np.testing.assert_allclose([ap[o], an[o]], sol, rtol=1e-4, atol=1e-6)
    assert (err <= output_error(w, np.zeros_like(w), hessian(x)) + 1e-9).all()


def test_data_aware_methods_keep_ternary_channels_exact(digits_layer):
    _, x = digits_layer
    rng = np.random.default_rng(38)
    w = (rng.integers(-1, 2, size=(6, 64)) * rng.uniform(0.1, 1, size=(6, 1))).astype(np.float32)
    for tern in (gptq_ternarize(w, x, planes=2), output_search_ternarize(w, x, planes=2)):
        assert tern.exact.all() and tern.dequantize().tobytes() == w.tobytes()


def test_bad_calibration_is_reported():
    with pytest.raises(ValueError, match="calibration inputs have 5 features, the layer has 4"):
        gptq_ternarize(np.ones((2, 4)), np.ones((3, 5)))
    x = np.ones((3, 4))  # rank 1: singular without damping
    with pytest.raises(ValueError, match="not positive definite with damp=0"):
        gptq_ternarize(np.ones((2, 4)), x, damp=0.0)
    with pytest.raises(ValueError, match="damp"):
        gptq_ternarize(np.ones((2, 4)), x, damp=-1.0)


def test_gptq_is_deterministic(digits_layer):
    w, x = digits_layer
    a, b = gptq_ternarize(w, x, planes=2), gptq_ternarize(w.copy(), x.copy(), planes=2)
    assert a.t.tobytes() == b.t.tobytes() and a.alpha_pos.tobytes() == b.alpha_pos.tobytes()


def test_weight_only_rules_ignore_data_but_gptq_uses_it(digits_layer):
    w, x = digits_layer
    a = gptq_ternarize(w, x)
    b = gptq_ternarize(w, x[::-1][:900] * 2.0 + 0.5)
    assert not np.array_equal(a.t, b.t)
    assert np.array_equal(ternarize_planes(w).t, ternarize(w).t)


@pytest.mark.parametrize("sparsity", [0.5, 0.8, 0.9])
def test_gptq_meets_sparsity_target_and_beats_weight_only(sparsity, zoo):
    w = zoo(40)["laplace"]
    x = correlated_inputs(600, w.shape[1], 41)
    weight_only = out_err(w, ternarize(w, "sparsity", sparsity=sparsity), x)
    for block_size, keep_better in ((16, False), (128, True)):
        tern = gptq_ternarize(
            w, x, rule="sparsity", sparsity=sparsity, block_size=block_size, keep_better=keep_better
        )
        zeros = (tern.t[0] == 0).sum(axis=1)
        assert (np.abs(zeros - sparsity * w.shape[1]) <= 1).all()
        err = out_err(w, tern, x)
        if keep_better:
            assert (err <= weight_only * (1 + 1e-9)).all()
        else:  # small blocks re-pick the support often; the gain shrinks as sparsity grows
            assert err.sum() < 0.85 * weight_only.sum()
    with pytest.raises(ValueError, match="per-channel sparsity scope"):
        gptq_ternarize(w, x, rule="sparsity", scope="tensor")


@pytest.mark.parametrize("n, fan_in, block", [(40, 300, 32), (64, 200, 128), (30, 97, 16)])
def test_low_rank_inverse_factor_equals_the_dense_one(n, fan_in, block):
    """Fewer samples than inputs: the implicit factor (Woodbury, block generators) is the
    dense upper Cholesky factor of (H + λI)⁻¹, and the sweep rounds the same way with both."""
    from imcc.compiler.precision.numerics.gptq import DenseFactor, Gram, LowRankFactor, gptq_pattern

    x = correlated_inputs(n, fan_in, 7).astype(np.float64)
    x[:, 3] = 0  # a dead input
    gram = Gram.of(x)
    dense, low = DenseFactor(gram, 0.1, block), LowRankFactor(gram, 0.1, block)
    scale = np.abs(dense.u).max()
    for i1 in range(0, fan_in, block):
        i2 = min(i1 + block, fan_in)
        np.testing.assert_allclose(
            low.diagonal_block(i1, i2), dense.diagonal_block(i1, i2), atol=1e-11 * scale
        )
        right = low.generators[i1 // block] @ low.y[i2:].T
        np.testing.assert_allclose(right, dense.u[i1:i2, i2:], atol=1e-11 * scale)
    w = np.random.default_rng(8).normal(size=(25, fan_in))
    a = np.abs(w).mean(axis=1)
    np.testing.assert_array_equal(gptq_pattern(w, low, a, a), gptq_pattern(w, dense, a, a))
