"""Analog non-idealities: programming noise, read noise, stuck-at faults and conductance drift.

Only analog and dynamic arrays are affected, and only in the ``noisy`` and ``drift`` modes (digital
arrays are exact in every mode). Cells store integers; the device model turns a programmed window
into effective float32 weights once, at programming time:

    w = cell + N(0, prog_noise · cell_max)          programming noise
    w = 0 or ±cell_max where a cell is stuck         faults, a fixed map per array
    w = w · (t / t0)^(−ν),  ν ~ N(drift_nu, drift_nu_std) per cell, t = max(drift time, t0)

Each MVM then adds read noise N(0, read_noise · cell_max · ‖x‖₂) to every column sum, which is the
sum of an independent per-cell fluctuation scaled by each input. Every random stream is derived from
the run's seed and the array index, so results are reproducible and independent of how other
arrays are used.
"""

from __future__ import annotations

import numpy as np

NOISY_MODES = ("noisy", "drift")


class DeviceModel:
    """Per-run device non-idealities for one target, mode, seed and drift time."""

    def __init__(self, mode: str, seed: int, drift_time: float | None):
        self.mode = mode
        self.seed = int(seed)
        self.drift_time = drift_time
        self.active = mode in NOISY_MODES
        self._read_rng = np.random.default_rng([self.seed, 2])
        self._prog_rngs: dict[int, np.random.Generator] = {}
        # whole-array maps, made once per array (a cell keeps its fault whatever window covers it)
        self._fault_maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._drift_maps: dict[int, np.ndarray] = {}

    def state(self) -> tuple:
        """The random streams' positions, for `restore` (maps made from the seed stay)."""
        return (
            self._read_rng.bit_generator.state,
            {i: rng.bit_generator.state for i, rng in self._prog_rngs.items()},
        )

    def restore(self, state: tuple) -> None:
        """Put the random streams back where `state` found them."""
        read, prog = state
        self._read_rng.bit_generator.state = read
        for i in [i for i in self._prog_rngs if i not in prog]:
            del self._prog_rngs[i]  # made later: made again from the seed when next needed
        for i, position in prog.items():
            self._prog_rngs[i].bit_generator.state = position

    def affects(self, group) -> bool:
        """Whether arrays of ``group`` see noise in this run."""
        return self.active and group.kind in ("analog", "dynamic")

    def program(self, index: int, group, cells: np.ndarray, r0: int, c0: int) -> np.ndarray:
        """Effective weights of the window of ``cells`` (int8) starting at (r0, c0)."""
        rows, cols = cells.shape
        cmax = float(group.cell_max)
        rng = self._prog_rngs.setdefault(index, np.random.default_rng([self.seed, 1, index]))
        w = cells.astype(np.float32)
        if group.prog_noise:
            w += rng.standard_normal(w.shape, dtype=np.float32) * np.float32(
                group.prog_noise * cmax
            )
        zero, high = self._faults(index, group)
        win = (slice(r0, r0 + rows), slice(c0, c0 + cols))
        w = np.where(zero[win], np.float32(0), w)
        w = np.where(high[win] != 0, high[win].astype(np.float32) * np.float32(cmax), w)
        if self.mode == "drift" and group.drift_nu:
            w *= self._drift(index, group)[win]
        return w.astype(np.float32)

    def read(self, group, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Add read noise to column sums ``y`` (jobs × cols) of inputs ``x`` (jobs × rows)."""
        if not group.read_noise:
            return y
        norm = np.sqrt(np.square(x.astype(np.float64)).sum(axis=1, keepdims=True))
        sigma = group.read_noise * group.cell_max
        noise = self._read_rng.standard_normal(y.shape) * sigma * norm
        return y + noise

    def _faults(self, index: int, group) -> tuple[np.ndarray, np.ndarray]:
        """(stuck-at-zero mask, stuck-at-max sign map) of the whole array, fixed per seed."""
        if index in self._fault_maps:
            return self._fault_maps[index]
        rng = np.random.default_rng([self.seed, 0, index])
        u = rng.random((group.rows, group.cols), dtype=np.float32)
        zero = u < group.stuck_zero
        at_max = (u >= group.stuck_zero) & (u < group.stuck_zero + group.stuck_max)
        sign = np.where(rng.random((group.rows, group.cols)) < 0.5, -1, 1).astype(np.int8)
        self._fault_maps[index] = zero, np.where(at_max, sign, 0).astype(np.int8)
        return self._fault_maps[index]

    def _drift(self, index: int, group) -> np.ndarray:
        """Per-cell drift factor (t / t0)^(−ν) of the whole array."""
        if index in self._drift_maps:
            return self._drift_maps[index]
        rng = np.random.default_rng([self.seed, 3, index])
        nu = group.drift_nu + group.drift_nu_std * rng.standard_normal((group.rows, group.cols))
        t = max(float(self.drift_time or 0.0), group.drift_t0)
        factor = np.power(t / group.drift_t0, -np.maximum(nu, 0.0)).astype(np.float32)
        self._drift_maps[index] = factor
        return factor
