"""ADC model and clip-range calibration for crossbar column sums.

A b-bit ADC with step 2^s reads an integer column sum as

    out = clamp(round_half_even(sum / 2^s), −2^(b−1), 2^(b−1) − 1) · 2^s

so the shift ``s`` trades resolution (small s) against saturation (large s). :func:`adc_read` is
that formula in exact int64 arithmetic; :func:`calibrate_adc_shift` picks s per column group from
calibration sums, by a saturation-fraction bound or by minimum mean squared error.
"""

from __future__ import annotations

import numpy as np

ADC_CRITERIA = ("fraction", "mse")


def _check_bits_shift(bits: int, shift) -> np.ndarray:
    if not 1 <= int(bits) <= 32:
        raise ValueError(f"ADC bits must be in 1..32, got {bits}")
    s = np.asarray(shift)
    if not np.issubdtype(s.dtype, np.integer) or (s < 0).any() or (s > 62).any():
        raise ValueError("ADC shift must be an integer in 0..62")
    return s.astype(np.int64)


def _int_sums(sums) -> np.ndarray:
    s = np.asarray(sums)
    if not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"column sums must be integers, got dtype {s.dtype}")
    return s.astype(np.int64)


def round_shift(sums, shift) -> np.ndarray:
    """round_half_even(sum / 2^shift) in exact integer arithmetic (int64, broadcasting)."""
    x = _int_sums(sums)
    s = _check_bits_shift(32, shift)
    floor = x >> s
    rem = x - (floor << s)
    half = np.where(s > 0, np.left_shift(1, np.maximum(s - 1, 0)), 1)
    up = (s > 0) & ((rem > half) | ((rem == half) & ((floor & 1) == 1)))
    return floor + up


def adc_codes(sums, shift, bits: int = 8) -> np.ndarray:
    """ADC output codes clamp(round_half_even(sum / 2^s), −2^(b−1), 2^(b−1) − 1), int64."""
    s = _check_bits_shift(bits, shift)
    lo, hi = -(1 << (int(bits) - 1)), (1 << (int(bits) - 1)) - 1
    return np.clip(round_shift(sums, s), lo, hi)


def adc_read(sums, shift, bits: int = 8) -> np.ndarray:
    """The value the ADC reports, in units of the column sum: code · 2^s (int64)."""
    s = _check_bits_shift(bits, shift)
    return adc_codes(sums, s, bits) << s


def saturated(sums, shift, bits: int = 8) -> np.ndarray:
    """Mask of sums the ADC clips (the rounded code falls outside the b-bit range)."""
    s = _check_bits_shift(bits, shift)
    r = round_shift(sums, s)
    return (r < -(1 << (int(bits) - 1))) | (r > (1 << (int(bits) - 1)) - 1)


def column_groups(columns: int, group_size: int | None = None, groups=None) -> np.ndarray:
    """Group index per column: consecutive blocks of ``group_size``, or ``groups`` as given."""
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (columns,) or not np.issubdtype(g.dtype, np.integer) or (g < 0).any():
            raise ValueError(f"groups must be {columns} non-negative integers, one per column")
        return g.astype(np.int64)
    size = columns if group_size is None else int(group_size)
    if size < 1:
        raise ValueError(f"group_size must be positive, got {group_size}")
    return np.arange(columns) // size


def calibrate_adc_shift(
    sums,
    bits: int = 8,
    *,
    criterion: str = "fraction",
    max_fraction: float = 0.0,
    group_size: int | None = None,
    groups=None,
) -> np.ndarray:
    """Per column group, the ADC shift s for calibration column sums ``[samples, columns]``.

    ``criterion="fraction"``: the smallest s (finest step) whose share of saturated readings in the
    group is at most ``max_fraction`` (0 means never clip on the calibration data).
    ``criterion="mse"``: the s minimising the mean squared reading error; ties take the smaller s.
    Returns int64 ``[groups]``; expand to columns with ``shifts[column_groups(...)]``.
    """
    x = _int_sums(sums)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(
            f"column sums must be a non-empty 2-D [samples, columns] array, got {x.shape}"
        )
    if criterion not in ADC_CRITERIA:
        raise ValueError(
            f"unknown ADC criterion {criterion!r} (expected {', '.join(ADC_CRITERIA)})"
        )
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max_fraction must be in [0, 1], got {max_fraction}")
    gid = column_groups(x.shape[1], group_size, groups)
    ngroups = int(gid.max()) + 1
    per_group = np.bincount(gid, minlength=ngroups) * x.shape[0]
    # Beyond this shift nothing saturates any more, so larger shifts only lose resolution.
    top = max(int(np.abs(x).max()), 1).bit_length() + 1
    shifts = np.arange(top + 1)
    scores = np.empty((len(shifts), ngroups))
    for i, s in enumerate(shifts):
        if criterion == "fraction":
            col = saturated(x, s, bits).sum(axis=0)
        else:
            col = ((adc_read(x, s, bits) - x).astype(np.float64) ** 2).sum(axis=0)
        scores[i] = np.bincount(gid, weights=col, minlength=ngroups) / np.maximum(per_group, 1)
    if criterion == "fraction":
        ok = scores <= max_fraction
        return shifts[np.argmax(ok, axis=0)].astype(np.int64)
    return shifts[np.argmin(scores, axis=0)].astype(np.int64)
