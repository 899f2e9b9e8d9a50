"""Symmetric integer quantization of activations (and int8 weights) with explicit rounding rules.

q = clamp(round_half_even(x / s), −qmax, qmax) and x̂ = q·s, with qmax = 2^(bits−1) − 1: the range is
narrow (−127..127 for 8 bits) so that negation is exact, as a DAC driving signed inputs needs. The
division happens in float32, the precision the interpreter and the simulator compute in.

Static per-tensor scales come from calibration data by one of three clipping rules (max-abs,
percentile, MSE-optimal); dynamic scales are per row (one vector = one crossbar input).
"""

from __future__ import annotations

import numpy as np

CALIBRATION_METHODS = ("maxabs", "percentile", "mse")


def qmax(bits: int = 8) -> int:
    """Largest code of the narrow symmetric range: 2^(bits−1) − 1."""
    if not 2 <= int(bits) <= 32:
        raise ValueError(f"bits must be in 2..32, got {bits}")
    return (1 << (int(bits) - 1)) - 1


def _finite(x, what: str = "activations") -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.size == 0:
        raise ValueError(f"{what} are empty")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def _scale_from_clip(clip: float, bits: int) -> np.float32:
    # An all-zero tensor still needs a usable scale; any positive value maps it to code 0.
    return np.float32(clip / qmax(bits)) if clip > 0 else np.float32(1.0)


def quantize(x, scale, bits: int = 8) -> np.ndarray:
    """Codes of ``x`` for ``scale`` (scalar or broadcastable array): int32, round-half-even, saturated."""
    x = _finite(x)
    s = np.asarray(scale, np.float32)
    if (s <= 0).any() or not np.isfinite(s).all():
        raise ValueError("quantization scale must be positive and finite")
    m = qmax(bits)
    return np.clip(np.rint(x / s), -m, m).astype(np.int32)


def dequantize(q, scale) -> np.ndarray:
    """float32 values q·s of integer codes."""
    return np.asarray(q).astype(np.float32) * np.asarray(scale, np.float32)


def fake_quantize(x, scale, bits: int = 8) -> np.ndarray:
    """dequantize(quantize(x)): the float values an int path would see."""
    return dequantize(quantize(x, scale, bits), scale)


def scale_maxabs(x, bits: int = 8) -> np.float32:
    """Scale that maps max|x| to the largest code: no clipping at all."""
    x = _finite(x)
    return _scale_from_clip(float(np.abs(x).max()), bits)


def scale_percentile(x, percentile: float = 99.99, bits: int = 8) -> np.float32:
    """Scale that clips |x| at its ``percentile`` (robust to rare outliers)."""
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    x = _finite(x)
    return _scale_from_clip(float(np.percentile(np.abs(x), percentile)), bits)


def scale_mse(x, bits: int = 8, num: int = 100, low: float = 0.05) -> np.float32:
    """Scale whose clip value minimises the mean squared fake-quantization error on ``x``.

    Clip candidates are ``num`` evenly spaced fractions of max|x| from ``low`` to 1; ties keep the
    largest clip (least saturation).
    """
    x = _finite(x).ravel()
    amax = float(np.abs(x).max())
    if amax == 0:
        return np.float32(1.0)
    best_s, best_err = None, np.inf
    for frac in np.linspace(1.0, low, int(num)):
        s = _scale_from_clip(frac * amax, bits)
        err = float(np.mean((fake_quantize(x, s, bits).astype(np.float64) - x) ** 2))
        if err < best_err:
            best_s, best_err = s, err
    return best_s


def calibrate_scale(x, method: str = "maxabs", bits: int = 8, **options) -> np.float32:
    """Static per-tensor scale from calibration data by ``method`` (maxabs, percentile, mse)."""
    if method == "maxabs":
        return scale_maxabs(x, bits)
    if method == "percentile":
        return scale_percentile(x, bits=bits, **options)
    if method == "mse":
        return scale_mse(x, bits=bits, **options)
    raise ValueError(
        f"unknown calibration method {method!r} (expected one of {', '.join(CALIBRATION_METHODS)})"
    )


def dynamic_row_scales(x, bits: int = 8) -> np.ndarray:
    """Per-row scales max|row|/qmax of a 2-D tensor, float32 ``[rows]`` (all-zero rows get 1)."""
    x = _finite(x)
    if x.ndim != 2:
        raise ValueError(f"dynamic scales need a 2-D [rows, features] tensor, got shape {x.shape}")
    amax = np.abs(x).max(axis=1)
    return np.where(amax > 0, amax / np.float32(qmax(bits)), np.float32(1.0)).astype(np.float32)


def quantize_dynamic(x, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-row dynamic quantization: ``(codes int32 [rows, features], scales float32 [rows])``."""
    scales = dynamic_row_scales(x, bits)
    return quantize(x, scales[:, None], bits), scales


def int_weights(weight, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel symmetric integer weights: ``(codes int32 [O, fan_in], scales [O])``."""
    w = _finite(weight, "weights")
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D [out_channels, fan_in], got shape {w.shape}")
    scales = dynamic_row_scales(w, bits)
    return quantize(w, scales[:, None], bits), scales
