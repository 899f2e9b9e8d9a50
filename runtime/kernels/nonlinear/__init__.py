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


# Coefficients of a Chebyshev-fitted erfc (fractional error < 1.2e-7 everywhere):
# erfc(z) = t · exp(-z² + P(t)) with t = 1 / (1 + z/2), z >= 0, P = sum of c_k · t^k.
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
_TWO_SQRT2 = 2.0 * math.sqrt(2.0)  # t = 1 / (1 + |x|/(2√2)) = 2√2 / (2√2 + |x|) for z = |x|/√2

# Elements per block of the float64 GELU: its ~30 passes then stay in the CPU cache.
_GELU_BLOCK = 32768


def gelu(x: np.ndarray, out=None) -> np.ndarray:
    """GELU (erf form) 0.5·x·(1 + erf(x/√2)), computed in float64, to float32.

    With s = 0.5·x·erfc(|x|/√2), GELU is s for x ≤ 0 and x − s for x > 0, in both cases the
    larger of the two (x − s ≥ s exactly when x ≥ 0, as erfc ≤ 1): one pass, no branches, no
    cancellation for negative x. Near 0 the fit gives erfc up to 1 + 3e-8, where the two differ
    by less than that. The exponent −x²/2 is exact (x is float32); the result is within
    1.7e-7 relative of the true GELU (about two float32 ulps, the fit's own error). Evaluated block by block (elementwise, so the blocks change no
    bit), into ``out`` when given: a float32 array of x's shape that is either x itself or
    disjoint from it. NaN stays NaN; GELU(+∞) = +∞ and GELU(−∞) = −0.
    """
    x32 = np.asarray(x, dtype=F32)
    if out is None:
        out = np.empty(x32.shape, dtype=F32)
    elif not out.flags.c_contiguous:
        raise ValueError("gelu writes into contiguous arrays only")
    flat_in, flat_out = x32.reshape(-1), out.reshape(-1)
    size = min(flat_in.size, _GELU_BLOCK)
    x64, h, t, p, q = (np.empty(size) for _ in range(5))
    c = _ERFC_POLY
    # s is ∞ · 0 at ±∞ (read before anything is written: out may be x)
    infinite = np.flatnonzero(np.isinf(flat_in))
    positive = flat_in[infinite] > 0
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, flat_in.size, _GELU_BLOCK):
            n = min(_GELU_BLOCK, flat_in.size - start)
            xb, hb, tb, pb, qb = x64[:n], h[:n], t[:n], p[:n], q[:n]
            np.copyto(xb, flat_in[start : start + n])
            np.multiply(xb, 0.5, out=hb)
            np.abs(xb, out=tb)
            tb += _TWO_SQRT2
            np.divide(_TWO_SQRT2, tb, out=tb)
            np.multiply(tb, c[-1], out=pb)  # Horner, highest power first
            for ck in reversed(c[1:-1]):
                pb += ck
                pb *= tb
            pb += c[0]
            np.multiply(hb, xb, out=qb)  # x²/2, exact
            np.subtract(pb, qb, out=pb)
            np.exp(pb, out=pb)
            pb *= tb  # erfc(|x|/√2)
            pb *= hb  # s
            np.subtract(xb, pb, out=hb)  # x − s
            np.maximum(hb, pb, out=hb)
            flat_out[start : start + n] = hb
    if infinite.size:
        flat_out[infinite] = np.where(positive, F32(np.inf), F32(-0.0))
    return out
