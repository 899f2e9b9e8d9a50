"""Errors of quantized weights and outputs against their float originals.

Weights and layer outputs: :func:`relative_error` (‖W − Ŵ‖/‖W‖) and, per output channel,
:func:`channel_relative_error`. Model level, between the float model's outputs and the quantized
model's:

- ``relative``: ‖ŷ − y‖ / ‖y‖ over all float outputs together;
- ``cosine``: 1 − mean cosine similarity of the vectors along the last axis (embeddings);
- ``accuracy``: drop in top-1 accuracy on the labels (argmax of the first output's last axis);
- ``top1``: fraction of samples whose top-1 class differs from the float model's (no labels);
- ``auto``: ``accuracy`` when labels are given, else ``relative``.
"""

from __future__ import annotations

import math

import numpy as np

from .ternary import as_matrix

METRICS = ("auto", "relative", "cosine", "accuracy", "top1")


def relative_error(w, w_hat) -> float:
    """Relative Frobenius error ||W − Ŵ|| / ||W|| (0 for two zero tensors, inf for Ŵ ≠ W = 0).

    The difference is taken in float64 element by element (the same values as subtracting
    float64 copies), so a large layer needs one float64 array at a time, not three."""
    d = float(np.linalg.norm(np.subtract(w, w_hat, dtype=np.float64)))
    ref = float(np.linalg.norm(np.asarray(w, np.float64)))
    if ref == 0:
        return 0.0 if d == 0 else math.inf
    return d / ref


def channel_relative_error(w, w_hat) -> np.ndarray:
    """Relative L2 error per output channel of ``[O, fan_in]`` matrices (zero rows → 0)."""
    w = as_matrix(np.asarray(w, np.float64))
    d = np.linalg.norm(w - as_matrix(np.asarray(w_hat, np.float64)), axis=1)
    ref = np.linalg.norm(w, axis=1)
    return np.where(ref > 0, d / np.where(ref > 0, ref, 1.0), np.where(d > 0, np.inf, 0.0))


def resolve_metric(metric: str, has_labels: bool) -> str:
    """The concrete metric for ``metric`` (``auto`` → accuracy or relative)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}' (expected one of {', '.join(METRICS)})")
    if metric == "auto":
        return "accuracy" if has_labels else "relative"
    if metric == "accuracy" and not has_labels:
        raise ValueError("metric 'accuracy' needs labels in the calibration data ('labels' array)")
    return metric


def _floats(outputs) -> list[np.ndarray]:
    return [np.asarray(o, np.float64) for o in outputs if np.asarray(o).dtype.kind == "f"]


def relative(ref, out) -> float:
    """‖ŷ − y‖ / ‖y‖ over all float outputs."""
    num = sum(float(((o - r) ** 2).sum()) for r, o in zip(_floats(ref), _floats(out)))
    den = sum(float((r**2).sum()) for r in _floats(ref))
    return float(np.sqrt(num / den)) if den > 0 else float(np.sqrt(num))


def mean_cosine(ref, out) -> float:
    """Mean cosine similarity of last-axis vectors, averaged over the float outputs."""
    sims = []
    for r, o in zip(_floats(ref), _floats(out)):
        r2, o2 = r.reshape(-1, r.shape[-1]), o.reshape(-1, o.shape[-1])
        nr, no = np.linalg.norm(r2, axis=1), np.linalg.norm(o2, axis=1)
        ok = (nr > 0) & (no > 0)
        cos = (r2 * o2).sum(axis=1)[ok] / (nr[ok] * no[ok])
        sims.append(float(cos.mean()) if cos.size else 1.0)
    return float(np.mean(sims)) if sims else 1.0


def top1(outputs) -> np.ndarray:
    """Predicted class per sample: argmax of the first output over its last axis."""
    first = np.asarray(outputs[0])
    return (
        first.reshape(first.shape[0], -1).argmax(axis=1)
        if first.ndim == 2
        else first.argmax(axis=-1)
    )


def accuracy(outputs, labels) -> float:
    """Top-1 accuracy (fraction) of ``outputs`` on ``labels``."""
    return float((top1(outputs) == np.asarray(labels)).mean())


def model_error(ref, out, metric: str, labels=None) -> float:
    """The error of outputs ``out`` against ``ref`` by ``metric`` (already resolved)."""
    if metric == "relative":
        return relative(ref, out)
    if metric == "cosine":
        return 1.0 - mean_cosine(ref, out)
    if metric == "accuracy":
        return accuracy(ref, labels) - accuracy(out, labels)
    if metric == "top1":
        return float((top1(ref) != top1(out)).mean())
    raise ValueError(f"unknown metric '{metric}'")
