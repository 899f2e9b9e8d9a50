"""Slicing and joining kernels: Concat, Split, Slice, Gather and Pad."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import (
    Inputs,
    KernelContext,
    KernelError,
    UnsupportedOp,
    int_list,
    need,
    norm_axes,
    norm_axis,
    opt,
    required,
    scalar,
)


def concat(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Concat along ``axis`` (negative counts from the back)."""
    values = [v for v in inputs if v is not None]
    if not values:
        raise KernelError("Concat: needs at least one input")
    # Concat-1 documented axis 1 as its default without declaring it in the schema.
    axis = attrs.get("axis", 1) if ctx.opset < 4 else required(attrs, "axis", "Concat")
    axis = norm_axis(int(axis), values[0].ndim, "Concat")
    try:
        return [np.concatenate(values, axis=axis)]
    except ValueError as error:
        raise KernelError(f"Concat: {error}") from None


def _split_sizes(
    x: np.ndarray, axis: int, inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> list[int]:
    """Part sizes: the 'split' attribute (< 13) or input (>= 13), else equal parts.

    From opset 18 ``num_outputs`` may ask for equal parts where the last one is smaller.
    """
    dim = x.shape[axis]
    sizes = attrs.get("split") if ctx.opset < 13 else int_list(opt(inputs, 1))
    if sizes:
        if sum(sizes) != dim:
            raise KernelError(f"Split: sizes {sizes} do not add up to dimension {dim}")
        return list(sizes)
    parts = int(attrs.get("num_outputs") or ctx.num_outputs)
    if ctx.opset >= 18 and attrs.get("num_outputs"):
        chunk = -(-dim // parts)
        return [min(chunk, max(dim - i * chunk, 0)) for i in range(parts)]
    if dim % parts:
        raise KernelError(f"Split: dimension {dim} does not split into {parts} equal parts")
    return [dim // parts] * parts


def split(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Split into ``ctx.num_outputs`` parts along ``axis``."""
    x = need(inputs, 0, "Split")
    axis = norm_axis(int(attrs.get("axis", 0)), x.ndim, "Split")
    sizes = _split_sizes(x, axis, inputs, attrs, ctx)
    if len(sizes) != ctx.num_outputs:
        raise KernelError(f"Split: {len(sizes)} parts but the node has {ctx.num_outputs} outputs")
    cuts = np.cumsum(sizes)[:-1]
    return np.split(x, cuts, axis=axis)


def _clamped_slice(start: int, end: int, step: int, dim: int) -> slice:
    """One axis of ONNX Slice: negative indices wrap once, then clamp by step direction."""
    if step == 0:
        raise KernelError("Slice: step must not be zero")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    # A clamped end of -1 means "through index 0", which Python spells as None.
    return slice(start, None if end < 0 else end, step)


def slice_(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Slice: starts/ends/axes attributes before opset 10, then inputs with optional steps."""
    x = need(inputs, 0, "Slice")
    if ctx.opset < 10:
        starts, ends = required(attrs, "starts", "Slice"), required(attrs, "ends", "Slice")
        axes, steps = attrs.get("axes"), None
    else:
        starts, ends = int_list(need(inputs, 1, "Slice")), int_list(need(inputs, 2, "Slice"))
        axes, steps = int_list(opt(inputs, 3)), int_list(opt(inputs, 4))
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise KernelError("Slice: starts, ends, axes and steps differ in length")
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(norm_axes(axes, x.ndim, "Slice"), starts, ends, steps):
        index[axis] = _clamped_slice(int(start), int(end), int(step), x.shape[axis])
    return [x[tuple(index)]]


def gather(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Gather along ``axis``; negative indices count from the end of that axis."""
    data, indices = need(inputs, 0, "Gather"), need(inputs, 1, "Gather")
    axis = norm_axis(int(attrs.get("axis", 0)), data.ndim, "Gather")
    dim = data.shape[axis]
    if indices.size and (indices.min() < -dim or indices.max() >= dim):
        raise KernelError(f"Gather: index out of range [{-dim}, {dim}) on axis {axis}")
    wrapped = np.where(indices < 0, indices + dim, indices).astype(np.int64, copy=False)
    return [np.take(data, wrapped, axis=axis)]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def _pad_operands(
    x: np.ndarray, inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> tuple[list[tuple[int, int]], Any]:
    """Per-axis (begin, end) pad widths and the constant, from attributes or inputs."""
    if ctx.opset < 11:
        pads, value, axes = list(required(attrs, "pads", "Pad")), attrs.get("value", 0.0), None
    else:
        pads = int_list(need(inputs, 1, "Pad"))
        fill = opt(inputs, 2)
        value = scalar(fill) if fill is not None and fill.size else 0
        axes = int_list(opt(inputs, 3))
    axes = list(range(x.ndim)) if axes is None else list(norm_axes(axes, x.ndim, "Pad"))
    if len(pads) != 2 * len(axes):
        raise KernelError(f"Pad: {len(pads)} pads for {len(axes)} axes")
    widths = [(0, 0)] * x.ndim
    for i, axis in enumerate(axes):
        widths[axis] = (int(pads[i]), int(pads[i + len(axes)]))
    return widths, value


def pad(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Pad in constant, reflect, edge or wrap mode; negative pads crop."""
    x = need(inputs, 0, "Pad")
    mode = attrs.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise UnsupportedOp(f"Pad: mode '{mode}' is not supported")
    widths, value = _pad_operands(x, inputs, attrs, ctx)
    crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(x.shape, widths))
    x = x[crop]
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    if mode == "constant":
        fill = np.asarray(value).astype(x.dtype)
        return [np.pad(x, grow, mode="constant", constant_values=fill)]
    if any(n == 0 for n, (b, e) in zip(x.shape, grow) if b or e):
        raise KernelError(f"Pad: mode '{mode}' cannot pad an empty axis")
    return [np.pad(x, grow, mode=_PAD_MODES[mode])]


KERNELS = {
    "Concat": concat,
    "Split": split,
    "Slice": slice_,
    "Gather": gather,
    "Pad": pad,
}
