"""Sliding-window geometry shared by Conv, ConvTranspose and the pooling kernels.

Everything here works for any number of spatial axes (1-D, 2-D, 3-D ...). Windows are
read through `numpy.lib.stride_tricks.as_strided`, so no per-pixel Python loop ever runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .common import KernelError, UnsupportedOp

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


@dataclass(frozen=True)
class Window:
    """Resolved geometry of a sliding window over the spatial axes of an NC... tensor."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pad_begin: tuple[int, ...]
    pad_end: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def extent(self) -> tuple[int, ...]:
        """Span of one dilated window along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations))


def per_axis(attrs: dict[str, Any], name: str, rank: int, default: int, op: str) -> tuple[int, ...]:
    """Read a per-spatial-axis int list attribute, ``default`` on every axis when absent."""
    value = attrs.get(name)
    if value is None or len(value) == 0:
        return (default,) * rank
    if len(value) != rank:
        raise KernelError(f"{op}: attribute '{name}' has {len(value)} values, expected {rank}")
    return tuple(int(v) for v in value)


def _split_pads(
    attrs: dict[str, Any], rank: int, op: str
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pads = attrs.get("pads")
    if pads is None or len(pads) == 0:
        return (0,) * rank, (0,) * rank
    if len(pads) != 2 * rank:
        raise KernelError(f"{op}: attribute 'pads' has {len(pads)} values, expected {2 * rank}")
    if any(p < 0 for p in pads):
        raise KernelError(f"{op}: negative pads {list(pads)} are not allowed")
    return tuple(int(p) for p in pads[:rank]), tuple(int(p) for p in pads[rank:])


def resolve_window(
    attrs: dict[str, Any],
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    op: str,
    ceil_mode: bool = False,
) -> Window:
    """Resolve strides, dilations, pads and the output size for a Conv/pool node.

    Implements explicit pads, the deprecated ``auto_pad`` modes (SAME_UPPER puts the odd
    extra pad at the end, SAME_LOWER at the beginning) and ``ceil_mode``, where a last
    window that would start inside the end padding is dropped.
    """
    rank = len(spatial)
    strides = per_axis(attrs, "strides", rank, 1, op)
    dilations = per_axis(attrs, "dilations", rank, 1, op)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PADS:
        raise UnsupportedOp(f"{op}: unknown auto_pad '{auto_pad}'")
    extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations))

    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = tuple(-(-n // s) for n, s in zip(spatial, strides))
        total = [max((o - 1) * s + e - n, 0) for o, s, e, n in zip(out, strides, extent, spatial)]
        if auto_pad == "SAME_UPPER":
            begin = tuple(t // 2 for t in total)
        else:
            begin = tuple(t - t // 2 for t in total)
        end = tuple(t - b for t, b in zip(total, begin))
        return Window(kernel, strides, dilations, begin, end, out)

    if auto_pad == "VALID":
        begin = end = (0,) * rank
        if ceil_mode:
            out = tuple(-(-(n - e + 1) // s) for n, e, s in zip(spatial, extent, strides))
        else:
            out = tuple((n - e) // s + 1 for n, e, s in zip(spatial, extent, strides))
    else:
        begin, end = _split_pads(attrs, rank, op)
        out_list = []
        for n, b, f, e, s in zip(spatial, begin, end, extent, strides):
            span = n + b + f - e
            size = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (size - 1) * s >= n + b:
                size -= 1
            out_list.append(size)
        out = tuple(out_list)
    if any(o <= 0 for o in out):
        raise KernelError(
            f"{op}: window {list(kernel)} does not fit input {list(spatial)} (output {list(out)})"
        )
    return Window(kernel, strides, dilations, begin, end, out)


def pad_for_window(x: np.ndarray, win: Window, fill: Any) -> np.ndarray:
    """Pad the spatial axes of ``x`` by the window pads, plus any ceil-mode overhang."""
    widths = [(0, 0), (0, 0)]
    for n, b, f, o, s, e in zip(
        x.shape[2:], win.pad_begin, win.pad_end, win.out, win.strides, win.extent
    ):
        needed = (o - 1) * s + e
        widths.append((b, max(f, needed - n - b)))
    if all(w == (0, 0) for w in widths):
        return x
    return np.pad(x, widths, mode="constant", constant_values=fill)


def window_view(xp: np.ndarray, win: Window) -> np.ndarray:
    """Read-only view of shape ``(N, C, *out, *kernel)`` over an already padded input."""
    rank = len(win.kernel)
    s0, s1, *sp = xp.strides
    shape = xp.shape[:2] + win.out + win.kernel
    strides = (
        (s0, s1)
        + tuple(sp[i] * win.strides[i] for i in range(rank))
        + tuple(sp[i] * win.dilations[i] for i in range(rank))
    )
    return as_strided(xp, shape=shape, strides=strides, writeable=False)
