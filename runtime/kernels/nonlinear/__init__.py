"""The nonlinear functions of the ISA (softmax, LayerNorm, GELU) as exact float32 numpy.

One definition for every place that computes them: the simulator's ``cl.*`` and ``nl.*``
instructions, the cores' library kernels of the ``nn`` ops and so the reference interpreter. A
LayerNorm or GELU the compiler places on the nonlinear unit therefore gives the same bits as the
interpreter's ``nn.layer_norm`` / ``nn.gelu``. Sums are left to right (``np.add.accumulate``),
never pairwise, so the order is the ISA's and not numpy's choice.
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def sum_lr(x: np.ndarray) -> np.ndarray:
    """Sum along the last axis strictly left to right (keepdims).

    With two or more rows the summed axis is moved first and reduced there: numpy then adds
    whole rows, one after the other, so every sum is left to right (it sums pairwise only along
    a contiguous innermost axis, which a single row would be; one row takes the running sum).
    """
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)
    if math.prod(x.shape[:-1]) < 2:
        return np.add.accumulate(x, axis=-1, dtype=x.dtype)[..., -1:]
    rows_first = np.ascontiguousarray(np.moveaxis(x, -1, 0))
    return np.add.reduce(rows_first, axis=0, dtype=x.dtype)[..., None]


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis: exp(x - max) / left-to-right sum, float32."""
    x = np.asarray(x, dtype=F32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / sum_lr(e)


def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm along the last axis: ((x - μ) / sqrt(σ² + eps)) · gamma + beta, float32.

    μ and σ² are left-to-right sums divided by n.
    """
    x = np.asarray(x, dtype=F32)
    n = F32(x.shape[-1])
    d = x - sum_lr(x) / n
    var = sum_lr(d * d) / n
    return d / np.sqrt(var + F32(eps)) * gamma.astype(F32) + beta.astype(F32)


# Coefficients of a Chebyshev-fitted erfc (fractional error < 1.2e-7 everywhere).
_ERFC_POLY = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function in float64 from a fixed rational-exponential fit."""
    x = np.asarray(x, dtype=np.float64)
    z = np.abs(x)
    t = np.multiply(z, 0.5)
    t += 1.0
    np.divide(1.0, t, out=t)  # t = 1 / (1 + z/2)
    # Horner, highest power first; it starts from 0 · t + c9, which is c9 (or NaN when t is,
    # and then the next step makes it NaN too)
    poly = np.full_like(t, _ERFC_POLY[-1])
    for c in reversed(_ERFC_POLY[:-1]):
        poly *= t
        poly += c
    r = np.negative(z)
    r *= z
    r += poly  # in this order: NaN inputs keep the sign of their NaN
    np.exp(r, out=r)
    np.multiply(t, r, out=r)  # r = t · exp(-z² + poly), t first like the formula (NaN signs)
    # where(x >= 0, r, 2 - r) as r·[x >= 0] + (2 - r)·[x < 0]: one term is exactly 0, so this
    # is the same number, and arithmetic beats np.where's unpredictable branches by 3x
    ge = x >= 0
    out = np.subtract(2.0, r)
    out *= ~ge
    r *= ge
    out += r
    return out


# Elements per block of the float64 GELU: its ~30 passes then stay in the CPU cache.
_GELU_BLOCK = 16384


def gelu(x: np.ndarray, out=None) -> np.ndarray:
    """GELU (erf form) 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(-x/√2), computed in float64, to f32.

    Going through erfc avoids cancellation for negative x; the fit's error is below one float32
    ulp of the result. Evaluated block by block (elementwise, so the blocks change no bit), into
    ``out`` when given: a float32 array of x's shape that is either x itself or disjoint from it.
    """
    x32 = np.asarray(x, dtype=F32)
    if out is None:
        out = np.empty(x32.shape, dtype=F32)
    elif not out.flags.c_contiguous:
        raise ValueError("gelu writes into contiguous arrays only")
    flat_in, flat_out = x32.reshape(-1), out.reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, flat_in.size, _GELU_BLOCK):
            x64 = flat_in[start : start + _GELU_BLOCK].astype(np.float64)
            arg = np.divide(x64, -np.sqrt(2.0))  # = -x / √2 exactly
            y = np.multiply(x64, 0.5)
            y *= erfc(arg)
            flat_out[start : start + _GELU_BLOCK] = y
    return out
