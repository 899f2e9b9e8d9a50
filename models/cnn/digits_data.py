"""The fixed train / calibration / test split of scikit-learn's bundled digits data set.

The data set ships inside scikit-learn (1797 grayscale 8x8 images, 10 classes), so nothing is
downloaded. The split is recomputed from the data on every call and never stored: a stratified
shuffle driven by numpy's legacy ``RandomState``, whose stream numpy keeps stable across releases,
so the same indices come back on every machine. ``split_fingerprint`` hashes them so that tests and
metrics can tell when the split changed.

Pixels are scaled from 0..16 to [0, 1] (``x / 16``) and laid out NCHW as float32: the layout and
scale the digits networks were trained on and expect at their input.

No torch here: the product's tests use this module with numpy and scikit-learn only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

SPLIT_SEED = 20240607
TEST_FRACTION = 0.2
CALIB_FRACTION = 0.1
PIXEL_MAX = 16.0


@dataclass(frozen=True)
class DigitsSplit:
    """Images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64, and the sample indices of each part."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_calib: np.ndarray
    y_calib: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    idx_train: np.ndarray
    idx_calib: np.ndarray
    idx_test: np.ndarray


def split_indices(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, ...]:
    """Stratified split of ``range(len(labels))`` into sorted (train, calib, test) index arrays.

    Each class contributes round(TEST_FRACTION * count) samples to test and
    round(CALIB_FRACTION * count) to calibration, chosen by a seeded shuffle.
    """
    labels = np.asarray(labels)
    order = np.random.RandomState(seed).permutation(len(labels))
    # A stable sort by label keeps the shuffled order inside each class.
    by_class = order[np.argsort(labels[order], kind="stable")]
    classes, counts = np.unique(labels, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(labels)) - np.repeat(starts, counts)
    n_test = np.repeat(np.round(counts * TEST_FRACTION).astype(np.int64), counts)
    n_calib = np.repeat(np.round(counts * CALIB_FRACTION).astype(np.int64), counts)
    is_test = rank < n_test
    is_calib = ~is_test & (rank < n_test + n_calib)
    is_train = ~is_test & ~is_calib
    return (
        np.sort(by_class[is_train]),
        np.sort(by_class[is_calib]),
        np.sort(by_class[is_test]),
    )


def split_fingerprint(split: DigitsSplit) -> str:
    """SHA-256 over the three index arrays (as little-endian int64), identifying the split."""
    digest = hashlib.sha256()
    for part in (split.idx_train, split.idx_calib, split.idx_test):
        digest.update(np.asarray(part, dtype="<i8").tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def load_split(seed: int = SPLIT_SEED) -> DigitsSplit:
    """Load the digits data from scikit-learn and return the fixed split, scaled as the nets expect."""
    from sklearn.datasets import load_digits  # imported late: only needed when data is loaded

    digits = load_digits()
    images = (digits.images.astype(np.float32) / np.float32(PIXEL_MAX))[:, None, :, :]
    labels = digits.target.astype(np.int64)
    idx_train, idx_calib, idx_test = split_indices(labels, seed)
    return DigitsSplit(
        x_train=np.ascontiguousarray(images[idx_train]),
        y_train=labels[idx_train],
        x_calib=np.ascontiguousarray(images[idx_calib]),
        y_calib=labels[idx_calib],
        x_test=np.ascontiguousarray(images[idx_test]),
        y_test=labels[idx_test],
        idx_train=idx_train,
        idx_calib=idx_calib,
        idx_test=idx_test,
    )
