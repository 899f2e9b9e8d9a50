"""Convolution kernels: Conv and ConvTranspose, any number of spatial axes.

Conv is im2col (a strided view, copied once into the column matrix) followed by one batched
GEMM per group, so float32 inputs accumulate in float32 exactly like a BLAS-backed runtime.
ConvTranspose is the adjoint: one GEMM, then a col2im scatter that loops over kernel
positions only (each step a strided, fully vectorised add).
"""

from __future__ import annotations

from itertools import product
from math import prod
from typing import Any

import numpy as np

from ._spatial import pad_for_window, per_axis, resolve_window, window_view
from .common import Inputs, KernelContext, KernelError, UnsupportedOp, need, opt, same_type


def _check_kernel_shape(attrs: dict[str, Any], kernel: tuple[int, ...], op: str) -> None:
    declared = attrs.get("kernel_shape")
    if declared and tuple(int(k) for k in declared) != kernel:
        raise KernelError(f"{op}: kernel_shape {list(declared)} disagrees with W's {list(kernel)}")


def _add_bias(y: np.ndarray, bias: np.ndarray | None, op: str) -> np.ndarray:
    if bias is None:
        return y
    if bias.shape != (y.shape[1],):
        raise KernelError(f"{op}: bias of shape {list(bias.shape)}, expected [{y.shape[1]}]")
    return y + bias.reshape((1, -1) + (1,) * (y.ndim - 2))


def conv(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Conv: grouped/depthwise, strided, dilated, explicitly or auto padded N-D convolution."""
    x, w, bias = need(inputs, 0, "Conv"), need(inputs, 1, "Conv"), opt(inputs, 2)
    same_type("Conv", x, w, bias)
    if x.ndim < 3 or w.ndim != x.ndim:
        raise KernelError(f"Conv: X has rank {x.ndim} and W rank {w.ndim}; need equal ranks >= 3")
    group = int(attrs.get("group", 1))
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    _check_kernel_shape(attrs, kernel, "Conv")
    if group < 1 or c != cg * group or m % group:
        raise KernelError(
            f"Conv: X has {c} channels, W is {list(w.shape)}, group={group}: channels do not match"
        )
    win = resolve_window(attrs, tuple(x.shape[2:]), kernel, "Conv")
    view = window_view(pad_for_window(x, win, 0), win)  # (N, C, *out, *kernel)
    rank = len(kernel)
    # Split C into (group, C/group) and move the reduction axes last: (N, G, *out, Cg, *kernel).
    view = view.reshape((n, group, cg) + win.out + kernel)
    perm = (0, 1, *range(3, 3 + rank), 2, *range(3 + rank, 3 + 2 * rank))
    cols = view.transpose(perm).reshape(n, group, prod(win.out), cg * prod(kernel))
    weights = w.reshape(group, m // group, cg * prod(kernel)).transpose(0, 2, 1)
    y = np.matmul(cols, weights)  # (N, G, L, M/G)
    y = y.transpose(0, 1, 3, 2).reshape((n, m) + win.out)
    return [_add_bias(y, bias, "Conv")]


def _transpose_pads(
    attrs: dict[str, Any],
    natural: tuple[int, ...],
    spatial: tuple[int, ...],
    strides: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Begin/end crops of the full ConvTranspose result, per the ConvTranspose spec."""
    rank = len(natural)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    target = attrs.get("output_shape")
    if target:
        target = [int(t) for t in target][-rank:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [n * s for n, s in zip(spatial, strides)]
    elif auto_pad == "VALID":
        return (0,) * rank, (0,) * rank
    elif auto_pad != "NOTSET":
        raise UnsupportedOp(f"ConvTranspose: unknown auto_pad '{auto_pad}'")
    else:
        pads = attrs.get("pads") or [0] * (2 * rank)
        if len(pads) != 2 * rank:
            raise KernelError(f"ConvTranspose: 'pads' has {len(pads)} values, expected {2 * rank}")
        return tuple(pads[:rank]), tuple(pads[rank:])
    total = [f - t for f, t in zip(natural, target)]
    if auto_pad == "SAME_UPPER":
        begin = tuple(t // 2 for t in total)
    else:
        begin = tuple(t - t // 2 for t in total)
    return begin, tuple(t - b for t, b in zip(total, begin))


def _crop(y: np.ndarray, begin: tuple[int, ...], end: tuple[int, ...]) -> np.ndarray:
    """Crop the spatial axes by (begin, end); negative amounts pad with zeros instead."""
    widths = [(0, 0), (0, 0)] + [(max(-b, 0), max(-e, 0)) for b, e in zip(begin, end)]
    if any(w != (0, 0) for w in widths):
        y = np.pad(y, widths)
    index = (slice(None), slice(None)) + tuple(
        slice(max(b, 0), y.shape[2 + i] - max(e, 0)) for i, (b, e) in enumerate(zip(begin, end))
    )
    return y[index]


def conv_transpose(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """ConvTranspose: strides, dilations, pads/auto_pad, output_padding, output_shape, groups."""
    x, w, bias = need(inputs, 0, "ConvTranspose"), need(inputs, 1, "ConvTranspose"), opt(inputs, 2)
    same_type("ConvTranspose", x, w, bias)
    if x.ndim < 3 or w.ndim != x.ndim:
        raise KernelError(f"ConvTranspose: X has rank {x.ndim} and W rank {w.ndim}")
    group = int(attrs.get("group", 1))
    n, c = x.shape[:2]
    spatial = tuple(x.shape[2:])
    kernel = tuple(w.shape[2:])
    _check_kernel_shape(attrs, kernel, "ConvTranspose")
    if group < 1 or w.shape[0] != c or c % group:
        raise KernelError(
            f"ConvTranspose: X has {c} channels but W is {list(w.shape)}, group={group}"
        )
    cg, mg = c // group, w.shape[1]
    rank = len(kernel)
    strides = per_axis(attrs, "strides", rank, 1, "ConvTranspose")
    dilations = per_axis(attrs, "dilations", rank, 1, "ConvTranspose")
    out_pad = attrs.get("output_padding") or [0] * rank
    natural = tuple(
        s * (i - 1) + int(p) + (k - 1) * d + 1
        for s, i, p, k, d in zip(strides, spatial, out_pad, kernel, dilations)
    )
    begin, end = _transpose_pads(attrs, natural, spatial, strides)

    cols_in = x.reshape(n, group, cg, prod(spatial)).transpose(0, 1, 3, 2)  # (N, G, L, Cg)
    weights = w.reshape(group, cg, mg * prod(kernel))
    cols = np.matmul(cols_in, weights)  # (N, G, L, Mg * K)
    cols = cols.reshape((n, group) + spatial + (mg, prod(kernel)))
    cols = np.moveaxis(cols, (2 + rank, 3 + rank), (2, 3)).reshape(
        (n, group * mg, prod(kernel)) + spatial
    )

    full = np.zeros((n, group * mg) + natural, dtype=cols.dtype)
    for k_index, offset in enumerate(product(*(range(k) for k in kernel))):
        target = tuple(
            slice(o * d, o * d + (i - 1) * s + 1, s)
            for o, d, i, s in zip(offset, dilations, spatial, strides)
        )
        full[(slice(None), slice(None)) + target] += cols[:, :, k_index]
    return [_add_bias(_crop(full, begin, end), bias, "ConvTranspose")]


KERNELS = {"Conv": conv, "ConvTranspose": conv_transpose}
