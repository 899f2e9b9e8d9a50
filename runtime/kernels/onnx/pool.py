"""Pooling kernels: MaxPool (with Indices), AveragePool, GlobalAveragePool, GlobalMaxPool."""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import Any

import numpy as np

from ._spatial import Window, pad_for_window, resolve_window, window_view
from .common import Inputs, KernelContext, KernelError, need


def _pool_window(x: np.ndarray, attrs: dict[str, Any], op: str) -> Window:
    if x.ndim < 3:
        raise KernelError(f"{op}: input must be N x C x D1 ..., got shape {list(x.shape)}")
    kernel = attrs.get("kernel_shape")
    if not kernel or len(kernel) != x.ndim - 2:
        raise KernelError(f"{op}: kernel_shape {kernel} does not match input rank {x.ndim}")
    return resolve_window(
        attrs,
        tuple(x.shape[2:]),
        tuple(int(k) for k in kernel),
        op,
        bool(attrs.get("ceil_mode", 0)),
    )


def _lowest(dtype: np.dtype) -> Any:
    if np.issubdtype(dtype, np.floating):
        return -np.inf
    return np.iinfo(dtype).min


def _kernel_axes(win: Window) -> tuple[int, ...]:
    rank = len(win.kernel)
    return tuple(range(2 + rank, 2 + 2 * rank))


def _max_indices(view: np.ndarray, x: np.ndarray, win: Window, storage_order: int) -> np.ndarray:
    """Flat input index of each window's maximum (first one on ties), as MaxPool's Indices."""
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    best = view.reshape(view.shape[: 2 + len(win.out)] + (-1,)).argmax(axis=-1)
    offsets = np.unravel_index(best, win.kernel)
    coords = []
    for axis, offset in enumerate(offsets):
        start = np.arange(win.out[axis]) * win.strides[axis] - win.pad_begin[axis]
        start = start.reshape((-1,) + (1,) * (len(win.out) - axis - 1))
        coords.append(start + offset * win.dilations[axis])
    order = "F" if storage_order == 1 else "C"
    inner = np.ravel_multi_index(tuple(coords), spatial, order=order)
    plane = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * prod(spatial)
    return (plane.reshape((n, c) + (1,) * len(spatial)) + inner).astype(np.int64)


def _tap_max(view: np.ndarray, win: Window) -> np.ndarray:
    """The maximum over each window of ``view`` (N, C, *out, *kernel): one whole-tensor maximum
    per kernel tap, in row-major tap order (a reduction over the small strided kernel axes runs
    one short loop per output element, ~20x slower)."""
    rank = len(win.kernel)
    out = None
    for tap in np.ndindex(*win.kernel):
        part = view[(Ellipsis, *tap)] if rank else view
        out = np.array(part) if out is None else np.maximum(out, part, out=out)
    return out


def max_pool(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """MaxPool: pads never win (they read as -inf); optional Indices output."""
    x = need(inputs, 0, "MaxPool")
    win = _pool_window(x, attrs, "MaxPool")
    view = window_view(pad_for_window(x, win, _lowest(x.dtype)), win)
    outputs = [_tap_max(view, win)]
    if ctx.num_outputs > 1:
        outputs.append(_max_indices(view, x, win, int(attrs.get("storage_order", 0))))
    return outputs


def average_pool(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """AveragePool: the divisor counts real cells, plus explicit pads if count_include_pad.

    Cells past the explicit end pad (the ceil_mode overhang) never count.
    """
    x = need(inputs, 0, "AveragePool")
    win = _pool_window(x, attrs, "AveragePool")
    axes = _kernel_axes(win)
    total = window_view(pad_for_window(x, win, 0), win).sum(axis=axes)
    spatial = x.shape[2:]
    if attrs.get("count_include_pad", 0):
        counted = np.ones(
            tuple(n + b + e for n, b, e in zip(spatial, win.pad_begin, win.pad_end)), dtype=x.dtype
        )
        # The explicit pads are now part of the counted area, so slide without them.
        bare = replace(win, pad_begin=(0,) * len(spatial), pad_end=(0,) * len(spatial))
    else:
        counted = np.ones(spatial, dtype=x.dtype)
        bare = win
    counted = pad_for_window(counted[None, None], bare, 0)
    count = window_view(counted, bare).sum(axis=axes)
    return [(total / count).astype(x.dtype, copy=False)]


def _global(x: np.ndarray, op: str) -> tuple[int, ...]:
    if x.ndim < 3:
        raise KernelError(f"{op}: input must be N x C x D1 ..., got shape {list(x.shape)}")
    return tuple(range(2, x.ndim))


def global_average_pool(
    inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> list[np.ndarray]:
    """GlobalAveragePool: mean over every spatial axis, kept as size-1 axes."""
    x = need(inputs, 0, "GlobalAveragePool")
    return [x.mean(axis=_global(x, "GlobalAveragePool"), keepdims=True, dtype=x.dtype)]


def global_max_pool(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """GlobalMaxPool: max over every spatial axis, kept as size-1 axes."""
    x = need(inputs, 0, "GlobalMaxPool")
    return [x.max(axis=_global(x, "GlobalMaxPool"), keepdims=True)]


KERNELS = {
    "MaxPool": max_pool,
    "AveragePool": average_pool,
    "GlobalAveragePool": global_average_pool,
    "GlobalMaxPool": global_max_pool,
}
