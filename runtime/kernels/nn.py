"""The fused graph ops of the ``nn`` dialect as numpy kernels (linear, layer norm, GELU, attention).

One function per op, written as the op's docstring states it; the interpreter's ``nn`` semantics
and the cores' library calls both run these. Statistics and products stay in the input's float
type, except GELU, which is evaluated in float64 and rounded once (as the onnx Gelu kernel is).
LayerNorm and float32 GELU are the ISA's own definitions (``kernels.nonlinear``), so the nonlinear unit
computes them bit for bit as the interpreter does.
"""

from __future__ import annotations

import math

import numpy as np

from .nonlinear import gelu as isa_gelu
from .nonlinear import sum_lr
from .onnx.activation import erf_float64

Array = np.ndarray | None


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``x @ weight.T + bias`` with ``weight`` ``[out, in]``."""
    y = np.matmul(x, weight.T)
    return y if bias is None else y + bias


def layer_norm(x: np.ndarray, gamma: Array, beta: Array, axis: int, epsilon: float) -> np.ndarray:
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` over axes ``[axis, rank)``.

    Mean and variance are left-to-right sums divided by n, in the input's float type: the same
    operations in the same order as the ISA's ``nl.layernorm`` / ``cl.layernorm``
    (``nonlinear.layernorm``), so the two give the same bits.
    """
    axis %= x.ndim
    flat = x.reshape(*x.shape[:axis], -1)
    n = flat.dtype.type(flat.shape[-1])
    centred = flat - sum_lr(flat) / n
    var = sum_lr(centred * centred) / n
    y = (centred / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))).reshape(x.shape)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y.astype(x.dtype, copy=False)


def gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    """GELU, exact (erf) or with the tanh approximation, computed in float64."""
    if approximate != "tanh" and x.dtype == np.float32:
        return isa_gelu(x)  # the ISA's nl.gelu / cl.gelu, bit for bit
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    else:
        y = 0.5 * x64 * (1 + erf_float64(x64 / math.sqrt(2)))
    return y.astype(x.dtype)


def _split(t: np.ndarray, heads: int) -> np.ndarray:
    """``[*batch, S, H*D]`` → ``[*batch, H, S, D]``."""
    return t.reshape(*t.shape[:-1], heads, t.shape[-1] // heads).swapaxes(-3, -2)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: Array,
    zero_mask: Array,
    num_heads: int,
    scale: float,
) -> np.ndarray:
    """Multi-head scaled dot-product attention on un-split ``[*batch, S, H*D]`` inputs."""
    qh, kh, vh = (_split(t, num_heads) for t in (q, k, v))
    scores = np.matmul(qh, kh.swapaxes(-1, -2)) * np.asarray(scale, dtype=q.dtype)
    if mask is not None:
        scores = scores + mask
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    if zero_mask is not None:
        probs = np.where(zero_mask, np.zeros((), probs.dtype), probs)
    context = np.matmul(probs, vh).swapaxes(-3, -2)
    return context.reshape(*context.shape[:-2], -1).astype(q.dtype, copy=False)
