"""Per-layer numbers for reports: weight error, sparsity, crossbar columns, and a table printer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .ternary import Ternary, as_matrix


def relative_error(w, w_hat) -> float:
    """Relative Frobenius error ||W − Ŵ|| / ||W|| (0 for two zero tensors, inf for Ŵ ≠ W = 0)."""
    w = np.asarray(w, np.float64)
    d = float(np.linalg.norm(w - np.asarray(w_hat, np.float64)))
    ref = float(np.linalg.norm(w))
    if ref == 0:
        return 0.0 if d == 0 else math.inf
    return d / ref


def channel_relative_error(w, w_hat) -> np.ndarray:
    """Relative L2 error per output channel of ``[O, fan_in]`` matrices (zero rows → 0)."""
    w = as_matrix(np.asarray(w, np.float64))
    d = np.linalg.norm(w - as_matrix(np.asarray(w_hat, np.float64)), axis=1)
    ref = np.linalg.norm(w, axis=1)
    return np.where(ref > 0, d / np.where(ref > 0, ref, 1.0), np.where(d > 0, np.inf, 0.0))


def crossbar_columns(
    out_channels: int, fan_in: int, planes: int = 1, array_rows: int = 256, per_plane: int = 1
) -> int:
    """Columns a layer occupies: one column per channel, plane and row tile of ``array_rows``.

    ``per_plane`` is 2 for asymmetric (α⁺ ≠ α⁻) planes, held as a positive and a negative column.
    """
    return planes * per_plane * out_channels * math.ceil(fan_in / array_rows)


@dataclass(frozen=True)
class LayerReport:
    """Summary of one ternarized layer."""

    name: str
    shape: tuple[int, int]
    planes: int
    relative_error: float
    sparsity: float
    exact_channels: int
    columns: int


def layer_report(name: str, weight, tern: Ternary, array_rows: int = 256) -> LayerReport:
    """Weight error, mean sparsity over planes, exact channels and columns of a ternarized layer."""
    w = as_matrix(weight)
    o, n = w.shape
    per_plane = 1 if tern.symmetric else 2
    return LayerReport(
        name,
        (o, n),
        tern.planes,
        relative_error(w, tern.dequantize()),
        float(tern.sparsity().mean()),
        int(tern.exact.sum()),
        crossbar_columns(o, n, tern.planes, array_rows, per_plane),
    )


def format_table(headers, rows) -> str:
    """A Markdown table; floats print with 4 significant digits."""

    def cell(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
