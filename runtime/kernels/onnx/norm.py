"""Normalisation kernels: BatchNormalization, LayerNormalization, LRN."""

from __future__ import annotations

from typing import Any

import numpy as np

from .cast import onnx_to_numpy_dtype
from .common import (
    Inputs,
    KernelContext,
    KernelError,
    UnsupportedOp,
    need,
    norm_axis,
    opt,
    required,
)


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    return (1, -1) + (1,) * (x.ndim - 2)


def batch_normalization(
    inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> list[np.ndarray]:
    """BatchNormalization over axis 1; training_mode (opset 14+) also updates running stats."""
    x = need(inputs, 0, "BatchNormalization")
    scale, bias, mean, var = (need(inputs, i, "BatchNormalization") for i in range(1, 5))
    eps = np.float32(attrs.get("epsilon", 1e-5)).astype(x.dtype)
    training = bool(attrs.get("training_mode", 0))
    if not attrs.get("spatial", 1):
        raise UnsupportedOp(
            "BatchNormalization: spatial=0 (per-activation statistics) is not supported"
        )
    if not training and ctx.num_outputs > 1:
        raise UnsupportedOp(
            "BatchNormalization: running-statistics outputs need training_mode=1 (opset >= 14)"
        )
    if x.ndim < 2:
        raise KernelError(f"BatchNormalization: input rank {x.ndim} < 2")
    shape = _channel_shape(x)
    if training:
        axes = (0,) + tuple(range(2, x.ndim))
        batch_mean = x.mean(axis=axes, dtype=x.dtype)
        batch_var = x.var(axis=axes, dtype=x.dtype)
        y = (x - batch_mean.reshape(shape)) / np.sqrt(batch_var.reshape(shape) + eps)
        momentum = np.float32(attrs.get("momentum", 0.9)).astype(mean.dtype)
        running_mean = mean * momentum + batch_mean.astype(mean.dtype) * (1 - momentum)
        running_var = var * momentum + batch_var.astype(var.dtype) * (1 - momentum)
        y = y * scale.reshape(shape) + bias.reshape(shape)
        return [y.astype(x.dtype, copy=False), running_mean, running_var][: ctx.num_outputs]
    x_mean, x_var = mean.reshape(shape).astype(x.dtype), var.reshape(shape).astype(x.dtype)
    y = (x - x_mean) / np.sqrt(x_var + eps)
    y = y * scale.reshape(shape).astype(x.dtype) + bias.reshape(shape).astype(x.dtype)
    return [y]


def layer_normalization(
    inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> list[np.ndarray]:
    """LayerNormalization over axes [axis, rank); optional Mean and InvStdDev outputs.

    Statistics are computed in the ``stash_type`` precision (float32 by default) and the
    stash outputs keep that type with the reduced axes kept as size 1.
    """
    x, scale, bias = (
        need(inputs, 0, "LayerNormalization"),
        need(inputs, 1, "LayerNormalization"),
        opt(inputs, 2),
    )
    axis = norm_axis(int(attrs.get("axis", -1)), x.ndim, "LayerNormalization")
    stash = onnx_to_numpy_dtype(int(attrs.get("stash_type", 1)), "LayerNormalization")
    axes = tuple(range(axis, x.ndim))
    xs = x.astype(stash, copy=False)
    mean = xs.mean(axis=axes, keepdims=True, dtype=stash)
    centred = xs - mean
    var = (centred * centred).mean(axis=axes, keepdims=True, dtype=stash)
    inv_std = (1 / np.sqrt(var + np.asarray(attrs.get("epsilon", 1e-5), dtype=stash))).astype(stash)
    y = (centred * inv_std).astype(x.dtype, copy=False) * scale
    if bias is not None:
        y = y + bias
    return [y.astype(x.dtype, copy=False), mean, inv_std][: ctx.num_outputs]


_LRN_DEFAULTS = (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0))


def lrn(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """LRN across channels: x / (bias + alpha / size * sum of squares in the window) ** beta."""
    x = need(inputs, 0, "LRN")
    size = int(required(attrs, "size", "LRN"))
    if x.ndim < 3 or size < 1:
        raise KernelError(
            f"LRN: need an N x C x D1 ... input and size >= 1, got {list(x.shape)}, {size}"
        )
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    squares = np.pad(x * x, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))
    # A loop over the (small) window, each step a whole-tensor add.
    channels = x.shape[1]
    window = squares[:, :channels].copy()
    for i in range(1, size):
        window += squares[:, i : i + channels]
    alpha, beta, bias = (np.asarray(attrs.get(k, d), dtype=x.dtype) for k, d in _LRN_DEFAULTS)
    return [x / (bias + alpha / np.asarray(size, dtype=x.dtype) * window) ** beta]


KERNELS = {
    "BatchNormalization": batch_normalization,
    "LayerNormalization": layer_normalization,
    "LRN": lrn,
}
