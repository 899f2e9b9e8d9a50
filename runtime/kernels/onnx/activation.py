"""Activations: Relu family, Clip, sigmoids, Tanh, Erf, Gelu, Softmax and LogSoftmax."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nonlinear import gelu as isa_gelu
from ..nonlinear import softmax as isa_softmax
from .common import Inputs, KernelContext, KernelError, need, norm_axis, opt, scalar, unidirectional

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def erf_float64(x: np.ndarray) -> np.ndarray:
    """Vectorised error function in float64, relative error below 1e-14 everywhere.

    |x| < 2.2: the Maclaurin series (34 terms; its largest term is ~6, so cancellation costs
    little). 2.2 <= |x| < 6: 1 - erfc from Laplace's continued fraction, evaluated bottom-up
    with 50 levels. |x| >= 6: erf is 1 to double precision.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.ones_like(a)
    small = a < 2.2
    xs = a[small]
    x2 = xs * xs
    term, total = xs.copy(), xs.copy()
    for n in range(1, 34):
        term *= -x2 / n
        total += term / (2 * n + 1)
    out[small] = 2.0 * _INV_SQRT_PI * total
    mid = ~small & (a < 6.0)
    xm = a[mid]
    frac = xm.copy()
    for k in range(50, 0, -1):
        frac = xm + (0.5 * k) / frac
    out[mid] = 1.0 - np.exp(-xm * xm) * _INV_SQRT_PI / frac
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x)


def relu(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Relu: max(x, 0)."""
    x = need(inputs, 0, "Relu")
    return [np.maximum(x, np.zeros((), dtype=x.dtype))]


def leaky_relu(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """LeakyRelu: x if x >= 0 else alpha * x."""
    x = need(inputs, 0, "LeakyRelu")
    alpha = np.asarray(attrs.get("alpha", 0.01), dtype=x.dtype)
    return [np.where(x >= 0, x, x * alpha)]


def prelu(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """PRelu: x if x >= 0 else slope * x, slope broadcast unidirectionally to x."""
    x, slope = need(inputs, 0, "PRelu"), need(inputs, 1, "PRelu")
    unidirectional(slope, x.shape, "PRelu", "slope")
    return [np.where(x >= 0, x, x * slope)]


def clip(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Clip to [min, max]: attributes before opset 11, optional scalar inputs from 11.

    When min > max every element becomes max, as the spec requires.
    """
    x = need(inputs, 0, "Clip")
    if ctx.opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    else:
        low_t, high_t = opt(inputs, 1), opt(inputs, 2)
        low = None if low_t is None else scalar(low_t)
        high = None if high_t is None else scalar(high_t)
    out = x
    if low is not None:
        out = np.maximum(out, np.asarray(low, dtype=x.dtype))
    if high is not None:
        out = np.minimum(out, np.asarray(high, dtype=x.dtype))
    return [out]


def hard_sigmoid(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """HardSigmoid: max(0, min(1, alpha * x + beta))."""
    x = need(inputs, 0, "HardSigmoid")
    alpha = np.asarray(attrs.get("alpha", 0.2), dtype=x.dtype)
    beta = np.asarray(attrs.get("beta", 0.5), dtype=x.dtype)
    return [np.clip(x * alpha + beta, 0, 1).astype(x.dtype, copy=False)]


def hard_swish(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """HardSwish: x * max(0, min(1, x / 6 + 1 / 2))."""
    x = need(inputs, 0, "HardSwish")
    alpha, beta = np.asarray(1 / 6, dtype=x.dtype), np.asarray(0.5, dtype=x.dtype)
    return [x * np.clip(x * alpha + beta, 0, 1).astype(x.dtype, copy=False)]


def sigmoid(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Sigmoid: 1 / (1 + exp(-x)), written to avoid overflow for large |x|."""
    x = need(inputs, 0, "Sigmoid")
    e = np.exp(-np.abs(x))
    one = np.ones((), dtype=x.dtype)
    return [np.where(x >= 0, one / (one + e), e / (one + e))]


def tanh(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Tanh."""
    return [np.tanh(need(inputs, 0, "Tanh"))]


def erf(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Erf, computed in float64 (see `erf_float64`) and rounded to the input type."""
    x = need(inputs, 0, "Erf")
    return [erf_float64(x).astype(x.dtype)]


def gelu(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Gelu (opset 20): exact 0.5x(1 + erf(x/sqrt 2)) or the tanh approximation."""
    x = need(inputs, 0, "Gelu")
    approximate = attrs.get("approximate", "none")
    if approximate == "none" and x.dtype == np.float32:
        return [isa_gelu(x)]  # the ISA's GELU, as nn.gelu and the nonlinear unit
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)
        y = 0.5 * x64 * (1 + np.tanh(inner))
    elif approximate == "none":
        y = 0.5 * x64 * (1 + erf_float64(x64 / math.sqrt(2)))
    else:
        raise KernelError(f"Gelu: approximate must be 'none' or 'tanh', got '{approximate}'")
    return [y.astype(x.dtype)]


def _softmax_axis(
    x: np.ndarray, attrs: dict[str, Any], ctx: KernelContext, op: str
) -> tuple[np.ndarray, int]:
    """Before opset 13 the input is coerced to 2-D at ``axis`` and normalised per row."""
    if ctx.opset >= 13:
        return x, norm_axis(int(attrs.get("axis", -1)), x.ndim, op)
    axis = norm_axis(int(attrs.get("axis", 1)), x.ndim, op) if x.ndim else 0
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(rows, -1), 1


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    return x - x.max(axis=axis, keepdims=True)


def softmax(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Softmax along ``axis`` (coerced-2-D semantics before opset 13)."""
    x = need(inputs, 0, "Softmax")
    view, axis = _softmax_axis(x, attrs, ctx, "Softmax")
    if view.dtype == np.float32 and axis == view.ndim - 1:
        return [isa_softmax(view).reshape(x.shape)]  # the ISA's softmax (nl.softmax, cl.softmax)
    e = np.exp(_shifted(view, axis))
    return [(e / e.sum(axis=axis, keepdims=True)).reshape(x.shape)]


def log_softmax(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """LogSoftmax along ``axis`` (coerced-2-D semantics before opset 13)."""
    x = need(inputs, 0, "LogSoftmax")
    view, axis = _softmax_axis(x, attrs, ctx, "LogSoftmax")
    shifted = _shifted(view, axis)
    return [(shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))).reshape(x.shape)]


KERNELS = {
    "Relu": relu,
    "LeakyRelu": leaky_relu,
    "PRelu": prelu,
    "Clip": clip,
    "HardSigmoid": hard_sigmoid,
    "HardSwish": hard_swish,
    "Sigmoid": sigmoid,
    "Tanh": tanh,
    "Erf": erf,
    "Gelu": gelu,
    "Softmax": softmax,
    "LogSoftmax": log_softmax,
}
