"""Element-wise arithmetic: binary ops with numpy broadcasting, unary math, variadic reductions.

Inputs of one op share an element type (the ONNX type constraints guarantee it), so numpy
keeps that type: float32 in, float32 out. Integer Div truncates toward zero as ONNX does,
where numpy's floor division would round toward minus infinity.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np

from .common import Inputs, Kernel, KernelContext, KernelError, need, same_type


def _binary(op: str, fn: Any) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        a, b = need(inputs, 0, op), need(inputs, 1, op)
        same_type(op, a, b)
        return [fn(a, b)]

    kernel.__name__ = kernel.__qualname__ = op.lower()
    kernel.__doc__ = f"{op}: element-wise with multidirectional (numpy) broadcasting."
    return kernel


def _unary(op: str, fn: Any) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        return [fn(need(inputs, 0, op))]

    kernel.__name__ = kernel.__qualname__ = op.lower()
    kernel.__doc__ = f"{op}: element-wise unary op; keeps the input element type."
    return kernel


def divide(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Div: true division for floats, division truncating toward zero for integers."""
    a, b = need(inputs, 0, "Div"), need(inputs, 1, "Div")
    same_type("Div", a, b)
    if a.dtype.kind not in "iu":
        return [a / b]
    quotient = a // b
    if a.dtype.kind == "u":
        return [quotient]
    # Floor and truncation differ when the division is inexact and the signs differ.
    fix = (quotient * b != a) & ((a < 0) != (b < 0))
    return [quotient + fix.astype(a.dtype)]


def power(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Pow: the result has the base's element type, whatever the exponent's type (opset 12+)."""
    base, exponent = need(inputs, 0, "Pow"), need(inputs, 1, "Pow")
    if base.dtype.kind == "f":
        return [np.power(base, exponent.astype(base.dtype, copy=False))]
    if exponent.dtype.kind == "f":
        return [np.power(base.astype(np.float64), exponent).astype(base.dtype)]
    return [np.power(base, exponent.astype(base.dtype, copy=False))]


def _variadic(op: str, fn: Any) -> Kernel:
    def kernel(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        values = [v for v in inputs if v is not None]
        if not values:
            raise KernelError(f"{op}: needs at least one input")
        same_type(op, *values)
        return [fn(values)]

    kernel.__name__ = kernel.__qualname__ = op.lower()
    kernel.__doc__ = f"{op}: variadic element-wise op with broadcasting across all inputs."
    return kernel


def _sum(values: list[np.ndarray]) -> np.ndarray:
    total = reduce(np.add, values)
    return np.broadcast_to(total, np.broadcast_shapes(*(v.shape for v in values))).copy()


def _mean(values: list[np.ndarray]) -> np.ndarray:
    total = _sum(values)
    return (total / np.asarray(len(values), dtype=total.dtype)).astype(total.dtype, copy=False)


def _extreme(fn: Any) -> Any:
    def combine(values: list[np.ndarray]) -> np.ndarray:
        out = reduce(fn, values)
        return np.broadcast_to(out, np.broadcast_shapes(*(v.shape for v in values))).copy()

    return combine


KERNELS: dict[str, Kernel] = {
    "Add": _binary("Add", np.add),
    "Sub": _binary("Sub", np.subtract),
    "Mul": _binary("Mul", np.multiply),
    "Div": divide,
    "Pow": power,
    "Sqrt": _unary("Sqrt", np.sqrt),
    "Reciprocal": _unary("Reciprocal", np.reciprocal),
    "Neg": _unary("Neg", np.negative),
    "Abs": _unary("Abs", np.abs),
    "Exp": _unary("Exp", np.exp),
    "Log": _unary("Log", np.log),
    "Floor": _unary("Floor", np.floor),
    "Ceil": _unary("Ceil", np.ceil),
    "Sign": _unary("Sign", np.sign),
    "Sum": _variadic("Sum", _sum),
    "Mean": _variadic("Mean", _mean),
    "Max": _variadic("Max", _extreme(np.maximum)),
    "Min": _variadic("Min", _extreme(np.minimum)),
}
