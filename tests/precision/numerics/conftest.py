"""Shared data for the quant tests: seeded synthetic weights and a real-ish digits layer.

Helpers are fixtures (tests run with --import-mode=importlib, so test files cannot import
each other or a helper module).
"""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_layer():
    """(W [10, 64], X [1797, 64]): a ridge-regression classifier on the digits pixels."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = d.data / 16.0
    y = np.eye(10)[d.target]
    w = np.linalg.solve(x.T @ x + np.eye(64), x.T @ (y - y.mean(axis=0))).T
    return w.astype(np.float32), x.astype(np.float32)


def weight_zoo(seed: int = 0):
    """Weights with the usual shapes of trained layers: Gaussian, Laplacian, uniform, skewed."""
    rng = np.random.default_rng(seed)
    return {
        "normal": rng.normal(size=(16, 40)).astype(np.float32),
        "laplace": rng.laplace(size=(12, 75)).astype(np.float32),
        "uniform": rng.uniform(-1, 1, size=(8, 33)).astype(np.float32),
        "skewed": (rng.laplace(size=(9, 50)) + 0.4 * rng.exponential(size=(9, 50))).astype(
            np.float32
        ),
    }


@pytest.fixture(scope="session")
def zoo():
    """The :func:`weight_zoo` factory: ``zoo(seed)`` → dict of named weight matrices."""
    return weight_zoo
