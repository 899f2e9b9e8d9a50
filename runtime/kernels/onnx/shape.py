"""Shape-changing kernels: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile,
Shape, Size, ConstantOfShape and Range.

Slicing and joining (Concat, Split, Slice, Gather, Pad) live in `indexing`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .common import Inputs, KernelContext, KernelError, int_list, need, norm_axes, opt, scalar


def reshape(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Reshape: 0 copies the input dimension unless ``allowzero``; one -1 is inferred."""
    x = need(inputs, 0, "Reshape")
    shape = attrs.get("shape") if ctx.opset < 5 else int_list(need(inputs, 1, "Reshape"))
    allowzero = bool(attrs.get("allowzero", 0))
    if shape.count(-1) > 1:
        raise KernelError(f"Reshape: more than one -1 in shape {shape}")
    if allowzero and 0 in shape and -1 in shape:
        raise KernelError(f"Reshape: shape {shape} mixes 0 and -1 with allowzero=1")
    target = []
    for i, dim in enumerate(shape):
        if dim == 0 and not allowzero:
            if i >= x.ndim:
                raise KernelError(f"Reshape: 0 at position {i} but the input has rank {x.ndim}")
            dim = x.shape[i]
        target.append(dim)
    try:
        return [x.reshape(target)]
    except ValueError:
        raise KernelError(f"Reshape: cannot reshape {list(x.shape)} to {shape}") from None


def flatten(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Flatten to 2-D: dimensions before ``axis`` form rows, the rest columns."""
    x = need(inputs, 0, "Flatten")
    axis = int(attrs.get("axis", 1))
    if not -x.ndim <= axis <= x.ndim:
        raise KernelError(f"Flatten: axis {axis} is out of range for rank {x.ndim}")
    axis = axis + x.ndim if axis < 0 else axis
    rows = math.prod(x.shape[:axis])
    return [x.reshape(rows, math.prod(x.shape[axis:]))]


def transpose(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Transpose by ``perm`` (default: reverse the axes)."""
    x = need(inputs, 0, "Transpose")
    perm = attrs.get("perm")
    if perm is None:
        return [x.transpose()]
    if sorted(perm) != list(range(x.ndim)):
        raise KernelError(f"Transpose: perm {list(perm)} is not a permutation of rank {x.ndim}")
    return [x.transpose(perm)]


def _axes_operand(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[int] | None:
    """Squeeze/Unsqueeze axes: an attribute before opset 13, the second input from 13."""
    if ctx.opset >= 13:
        return int_list(opt(inputs, 1))
    return attrs.get("axes")


def squeeze(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Squeeze the given size-1 axes, or every size-1 axis when none are given."""
    x = need(inputs, 0, "Squeeze")
    axes = _axes_operand(inputs, attrs, ctx)
    if axes is None:
        return [x.reshape([d for d in x.shape if d != 1])]
    axes = norm_axes(axes, x.ndim, "Squeeze")
    if any(x.shape[a] != 1 for a in axes):
        raise KernelError(f"Squeeze: axes {list(axes)} of shape {list(x.shape)} are not all 1")
    return [x.reshape([d for i, d in enumerate(x.shape) if i not in axes])]


def unsqueeze(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Unsqueeze: insert size-1 axes; negative axes count in the output rank."""
    x = need(inputs, 0, "Unsqueeze")
    axes = _axes_operand(inputs, attrs, ctx)
    if axes is None:
        raise KernelError("Unsqueeze: axes are required")
    rank = x.ndim + len(axes)
    inserted = set(norm_axes(axes, rank, "Unsqueeze"))
    dims = iter(x.shape)
    return [x.reshape([1 if i in inserted else next(dims) for i in range(rank)])]


def expand(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Expand: broadcast the input and the requested shape against each other."""
    x = need(inputs, 0, "Expand")
    shape = int_list(need(inputs, 1, "Expand"))
    try:
        target = np.broadcast_shapes(x.shape, tuple(shape))
    except ValueError:
        raise KernelError(
            f"Expand: shape {list(x.shape)} does not broadcast with {shape}"
        ) from None
    ctx.check_result("Expand", math.prod(target), x.dtype.itemsize)
    return [np.array(np.broadcast_to(x, target))]


def tile(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Tile: repeat the input ``repeats[i]`` times along each axis i."""
    x = need(inputs, 0, "Tile")
    repeats = int_list(need(inputs, 1, "Tile"))
    if len(repeats) != x.ndim or any(r < 0 for r in repeats):
        raise KernelError(f"Tile: repeats {repeats} do not fit rank {x.ndim}")
    ctx.check_result("Tile", x.size * math.prod(repeats), x.dtype.itemsize)
    return [np.tile(x, repeats)]


def shape(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Shape as int64, optionally sliced by ``start``/``end`` (clamped, negatives wrap)."""
    x = need(inputs, 0, "Shape")
    rank = x.ndim

    def clamp(value: int) -> int:
        value = value + rank if value < 0 else value
        return min(max(value, 0), rank)

    start = clamp(int(attrs.get("start", 0)))
    end = attrs.get("end")
    end = rank if end is None else clamp(int(end))
    return [np.array(x.shape[start:end], dtype=np.int64)]


def size(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Size: number of elements, as an int64 scalar."""
    return [np.array(need(inputs, 0, "Size").size, dtype=np.int64)]


def constant_of_shape(
    inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext
) -> list[np.ndarray]:
    """ConstantOfShape: fill a new tensor with ``value`` (one element; default float32 0)."""
    dims = int_list(need(inputs, 0, "ConstantOfShape"))
    value = attrs.get("value")
    value = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value)
    if value.size != 1:
        raise KernelError(f"ConstantOfShape: value must have one element, has {value.size}")
    if any(d < 0 for d in dims):
        raise KernelError(f"ConstantOfShape: negative dimension in {dims}")
    ctx.check_result("ConstantOfShape", math.prod(dims), value.dtype.itemsize)
    return [np.full(dims, value.reshape(-1)[0], dtype=value.dtype)]


def range_(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Range: start + i * delta for i < max(ceil((limit - start) / delta), 0)."""
    start_t = need(inputs, 0, "Range")
    start, limit, delta = (scalar(need(inputs, i, "Range")) for i in range(3))
    if delta == 0:
        raise KernelError("Range: delta must not be zero")
    if start_t.dtype.kind in "iu":
        count = max(-((start - limit) // delta), 0)
    else:
        count = max(math.ceil((limit - start) / delta), 0)
    dtype = start_t.dtype
    ctx.check_result("Range", count, max(dtype.itemsize, 4))
    # Range-27's stash_type: float16 ranges are computed in float32, then rounded back.
    work = np.float32 if dtype == np.float16 and attrs.get("stash_type", 0) == 1 else dtype
    steps = np.arange(count, dtype=work)
    return [(np.asarray(start, dtype=work) + steps * np.asarray(delta, dtype=work)).astype(dtype)]


KERNELS = {
    "Reshape": reshape,
    "Flatten": flatten,
    "Transpose": transpose,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "Expand": expand,
    "Tile": tile,
    "Shape": shape,
    "Size": size,
    "ConstantOfShape": constant_of_shape,
    "Range": range_,
}
