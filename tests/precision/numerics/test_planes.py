"""Residual planes: shapes, monotone error, per-plane sparsity, exact channels."""

import numpy as np
import pytest
from imcc.compiler.precision.numerics import relative_error, ternarize_planes


def test_plane_shapes_and_dtypes(zoo):
    w = zoo()["normal"]
    tern = ternarize_planes(w, 3)
    assert tern.t.shape == (3, *w.shape) and tern.t.dtype == np.int8
    assert tern.alpha.shape == (3, w.shape[0]) and tern.alpha.dtype == np.float32
    assert set(np.unique(tern.t)) <= {-1, 0, 1}


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_bad_plane_count_is_rejected(bad):
    with pytest.raises(ValueError, match="planes must be a positive integer"):
        ternarize_planes(np.ones((2, 2)), bad)


@pytest.mark.parametrize("rule", ["twn", "l2", "sparsity"])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_planes_reduce_error_monotonically_per_channel(rule, asymmetric, zoo):
    for w in zoo(20).values():
        errs = []
        for k in range(1, 5):
            d = (
                w.astype(np.float64)
                - ternarize_planes(w, k, rule, asymmetric=asymmetric).dequantize()
            )
            errs.append((d * d).sum(axis=1))
        for prev, nxt in zip(errs, errs[1:]):
            assert (nxt <= prev * (1 + 1e-6) + 1e-12).all()
        assert errs[-1].sum() < 0.5 * errs[0].sum()


def test_l2_planes_error_drops_fast_on_gaussian():
    w = np.random.default_rng(21).normal(size=(32, 256))
    errs = [relative_error(w, ternarize_planes(w, k).dequantize()) for k in (1, 2, 3)]
    assert errs[0] < 0.5 and errs[1] < 0.55 * errs[0] and errs[2] < 0.7 * errs[1]


def test_earlier_planes_do_not_change_when_planes_are_added(zoo):
    w = zoo(22)["laplace"]
    two, three = ternarize_planes(w, 2), ternarize_planes(w, 3)
    assert np.array_equal(two.t, three.t[:2]) and np.array_equal(two.alpha, three.alpha[:2])


def test_every_plane_meets_the_sparsity_target(zoo):
    w = zoo(23)["normal"]
    tern = ternarize_planes(w, 3, "sparsity", sparsity=0.75)
    zeros = (tern.t == 0).sum(axis=2)
    assert (np.abs(zeros - 0.75 * w.shape[1]) <= 1).all()
