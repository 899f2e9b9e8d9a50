"""ReduceX kernels: axes as an attribute (before opset 18; ReduceSum before 13) or as input.

Missing or empty axes reduce everything unless ``noop_with_empty_axes`` is set. Reductions
over an empty set give the identity of the reduction (0 for sums, 1 for products, -inf /
+inf or the integer limits for Max / Min), as the ONNX spec defines.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Inputs, Kernel, KernelContext, int_list, need, norm_axes, opt


def _lowest(dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _sum(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _mean(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    acc = x.dtype if x.dtype.kind == "f" else np.float64
    return np.mean(x, axis=axes, keepdims=keep, dtype=acc).astype(x.dtype, copy=False)


def _max(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.max(x, axis=axes, keepdims=keep, initial=_lowest(x.dtype))


def _min(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.min(x, axis=axes, keepdims=keep, initial=_highest(x.dtype))


def _prod(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.prod(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _l1(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return _sum(np.abs(x), axes, keep)


def _sum_square(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return _sum(x * x, axes, keep)


def _l2(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.sqrt(_sum_square(x, axes, keep)).astype(x.dtype, copy=False)


def _log_sum(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    return np.log(_sum(x, axes, keep)).astype(x.dtype, copy=False)


def _log_sum_exp(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    peak = np.max(x, axis=axes, keepdims=True, initial=_lowest(x.dtype))
    # Shift by the maximum for stability; an all -inf (or empty) slice must not become NaN.
    peak = np.where(np.isfinite(peak), peak, 0).astype(x.dtype, copy=False)
    total = np.log(np.sum(np.exp(x - peak), axis=axes, keepdims=True, dtype=x.dtype)) + peak
    return (total if keep else total.squeeze(axis=axes)).astype(x.dtype, copy=False)


def _reduce(op: str, fn: Any, axes_input_since: int) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        x = need(inputs, 0, op)
        if ctx.opset >= axes_input_since:
            axes = int_list(opt(inputs, 1))
        else:
            axes = attrs.get("axes")
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.ndim))
        return [fn(x, norm_axes(axes, x.ndim, op), bool(attrs.get("keepdims", 1)))]

    kernel.__name__ = kernel.__qualname__ = op
    kernel.__doc__ = f"{op}: axes from input since opset {axes_input_since}, else attribute."
    return kernel


KERNELS: dict[str, Kernel] = {
    "ReduceSum": _reduce("ReduceSum", _sum, 13),
    "ReduceMean": _reduce("ReduceMean", _mean, 18),
    "ReduceMax": _reduce("ReduceMax", _max, 18),
    "ReduceMin": _reduce("ReduceMin", _min, 18),
    "ReduceProd": _reduce("ReduceProd", _prod, 18),
    "ReduceL1": _reduce("ReduceL1", _l1, 18),
    "ReduceL2": _reduce("ReduceL2", _l2, 18),
    "ReduceSumSquare": _reduce("ReduceSumSquare", _sum_square, 18),
    "ReduceLogSum": _reduce("ReduceLogSum", _log_sum, 18),
    "ReduceLogSumExp": _reduce("ReduceLogSumExp", _log_sum_exp, 18),
}
