"""Comparison and logic kernels: Where, Equal/Less/Greater(+OrEqual), Not/And/Or/Xor, IsNaN, IsInf.

Every predicate returns a bool tensor; operands broadcast like numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Inputs, Kernel, KernelContext, KernelError, need, same_type


def _compare(op: str, fn: Any) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        a, b = need(inputs, 0, op), need(inputs, 1, op)
        same_type(op, a, b)
        return [np.asarray(fn(a, b), dtype=np.bool_)]

    kernel.__name__ = kernel.__qualname__ = op
    kernel.__doc__ = f"{op}: element-wise predicate with numpy broadcasting; bool result."
    return kernel


def _logical(op: str, fn: Any) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        values = [need(inputs, i, op) for i in range(len(inputs))]
        if any(v.dtype != np.bool_ for v in values):
            raise KernelError(f"{op}: operands must be bool, got {[str(v.dtype) for v in values]}")
        return [fn(*values)]

    kernel.__name__ = kernel.__qualname__ = op
    kernel.__doc__ = f"{op}: element-wise logic on bool tensors."
    return kernel


def where(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Where: pick X where condition holds, else Y, all three broadcast together."""
    cond, x, y = (need(inputs, i, "Where") for i in range(3))
    same_type("Where", x, y)
    return [np.where(cond.astype(np.bool_, copy=False), x, y)]


def is_nan(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """IsNaN."""
    return [np.isnan(need(inputs, 0, "IsNaN"))]


def is_inf(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """IsInf: +inf and/or -inf, chosen by detect_positive / detect_negative."""
    x = need(inputs, 0, "IsInf")
    positive = np.isposinf(x) if attrs.get("detect_positive", 1) else np.zeros(x.shape, np.bool_)
    negative = np.isneginf(x) if attrs.get("detect_negative", 1) else np.zeros(x.shape, np.bool_)
    return [positive | negative]


KERNELS: dict[str, Kernel] = {
    "Where": where,
    "Equal": _compare("Equal", np.equal),
    "Less": _compare("Less", np.less),
    "LessOrEqual": _compare("LessOrEqual", np.less_equal),
    "Greater": _compare("Greater", np.greater),
    "GreaterOrEqual": _compare("GreaterOrEqual", np.greater_equal),
    "Not": _logical("Not", np.logical_not),
    "And": _logical("And", np.logical_and),
    "Or": _logical("Or", np.logical_or),
    "Xor": _logical("Xor", np.logical_xor),
    "IsNaN": is_nan,
    "IsInf": is_inf,
}
