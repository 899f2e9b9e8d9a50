"""A crossbar layer cut into array windows: which cells, which inputs, which ADC step.

A ``quant.linear`` / ``quant.conv`` layer is a weight matrix of K rows (its fan-in, in the gather
order: for a convolution kernel row i, kernel column j, channel c, the order an NHWC image holds
them in) and J·O columns (P planes × S signs × O output channels, plane-major: the accumulator's
column order). Its row tiles (the quant dialect's) are read by the ADC
separately; within a tile, columns sharing one ADC step form a window, at most an array wide.
Every window is one ``imc.weights`` + its ``imc.mvm`` jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """One window of a layer: rows ``k0..k1`` (a row tile), accumulator columns ``c0..c1``."""

    tile: int
    k0: int
    k1: int
    c0: int
    c1: int
    shift: int

    @property
    def rows(self) -> int:
        return self.k1 - self.k0

    @property
    def cols(self) -> int:
        return self.c1 - self.c0


@dataclass
class LayerMatrix:
    """A crossbar layer as the arrays hold it.

    ``cells``: int8 ``[K, J·O]``; ``tiles``: row tiles; ``shift``: int64 ``[T, J·O]``, the ADC
    step exponent of every (tile, column); ``adc``: whether the arrays read through an ADC.
    """

    name: str
    cells: np.ndarray
    tiles: list[tuple[int, int]]
    shift: np.ndarray
    planes: int
    channels: int

    @property
    def fan_in(self) -> int:
        return int(self.cells.shape[0])

    @property
    def columns(self) -> int:
        return int(self.cells.shape[1])

    def windows(self, max_cols: int, same_shift: bool = True) -> list[Window]:
        """Windows of every tile: runs of consecutive columns at most ``max_cols`` wide, sharing
        one ADC step when ``same_shift`` (the ADC's range is set per job)."""
        out = []
        for t, (k0, k1) in enumerate(self.tiles):
            c = 0
            while c < self.columns:
                end = c + 1
                while (
                    end < self.columns
                    and end - c < max_cols
                    and (not same_shift or self.shift[t, end] == self.shift[t, c])
                ):
                    end += 1
                out.append(Window(t, k0, k1, c, end, int(self.shift[t, c])))
                c = end
        return out

    def block(self, w: Window) -> np.ndarray:
        """The cells of window ``w``, int8 ``[rows, cols]``."""
        return np.ascontiguousarray(self.cells[w.k0 : w.k1, w.c0 : w.c1])


def layer_matrix(name: str, column_cells: np.ndarray, tiles, adc_shift, group: int) -> LayerMatrix:
    """Build the matrix of a layer from its ``[P, S, O, K]`` column cells, row tiles, and ADC
    shifts ``[P, S, T, G]`` (None: exact readout) with ``group`` columns per ADC group."""
    p, s, o, k = column_cells.shape
    cells = np.ascontiguousarray(column_cells.reshape(p * s * o, k).T.astype(np.int8))
    t = len(tiles)
    if adc_shift is None:
        shift = np.zeros((t, p * s * o), np.int64)
    else:
        gid = np.arange(o) // max(int(group), 1)
        per = np.asarray(adc_shift, np.int64)[:, :, :, gid]  # [P, S, T, O]
        shift = per.transpose(2, 0, 1, 3).reshape(t, p * s * o)
    return LayerMatrix(name, cells, list(tiles), shift, p * s, o)
