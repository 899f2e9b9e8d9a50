"""Matrix products: Gemm and MatMul, both float32 GEMMs through numpy when given float32."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Inputs, KernelContext, KernelError, need, opt, same_type, unidirectional


def gemm(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Gemm: alpha * A' @ B' + beta * C, A'/B' optionally transposed, C broadcast to (M, N)."""
    a, b, c = need(inputs, 0, "Gemm"), need(inputs, 1, "Gemm"), opt(inputs, 2)
    same_type("Gemm", a, b, c)
    if a.ndim != 2 or b.ndim != 2:
        raise KernelError(f"Gemm: A and B must be 2-D, got {list(a.shape)} and {list(b.shape)}")
    if attrs.get("transA", 0):
        a = a.T
    if attrs.get("transB", 0):
        b = b.T
    if a.shape[1] != b.shape[0]:
        raise KernelError(
            f"Gemm: inner dimensions differ: A' is {list(a.shape)}, B' is {list(b.shape)}"
        )
    y = a @ b
    alpha = float(attrs.get("alpha", 1.0))
    if alpha != 1.0:
        y = y * np.asarray(alpha, dtype=y.dtype)
    if c is not None:
        unidirectional(c, y.shape, "Gemm", "C")
        beta = float(attrs.get("beta", 1.0))
        y = y + (c if beta == 1.0 else c * np.asarray(beta, dtype=c.dtype))
    return [y]


def matmul(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """MatMul with numpy.matmul semantics (1-D promotion, batch broadcasting)."""
    a, b = need(inputs, 0, "MatMul"), need(inputs, 1, "MatMul")
    same_type("MatMul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise KernelError("MatMul: scalar operands are not allowed")
    try:
        return [np.matmul(a, b)]
    except ValueError as error:
        raise KernelError(f"MatMul: shapes {list(a.shape)} and {list(b.shape)}: {error}") from None


KERNELS = {"Gemm": gemm, "MatMul": matmul}
