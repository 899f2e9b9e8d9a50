"""Numpy kernels for ONNX ops, keyed by ONNX op type (the interpreter and the cores run them).

``KERNELS[op_type](inputs, attrs, ctx) -> outputs`` evaluates one node; see `common` for
the calling convention. `kernel_for` looks a kernel up and refuses, with `UnsupportedOp`,
op types the library does not know or opsets it does not implement.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import (
    activation,
    cast,
    conv,
    elementwise,
    indexing,
    logic,
    matmul,
    misc,
    norm,
    pool,
    reduce,
    shape,
)
from .cast import PLAIN_DTYPES
from .common import Inputs, Kernel, KernelContext, KernelError, UnsupportedOp, dense

__all__ = [
    "KERNELS",
    "Kernel",
    "KernelContext",
    "KernelError",
    "UnsupportedOp",
    "kernel_for",
]

# The earliest opset whose version of each op the kernels implement, where that is not 1:
# before 7 the arithmetic and comparison ops used an explicit `broadcast` attribute, Cast
# named its target type with a string, Tile and Pad/Split took other operands; other ops
# only entered the default domain later.
_FIRST_OPSET = {
    **dict.fromkeys(
        ("Add", "Sub", "Mul", "Div", "Pow", "Gemm", "PRelu", "BatchNormalization", "Dropout"), 7
    ),
    **dict.fromkeys(("Equal", "Less", "Greater", "And", "Or", "Xor"), 7),
    "Cast": 6,
    "Tile": 6,
    "Pad": 2,
    "Split": 2,
    "Expand": 8,
    "ConstantOfShape": 9,
    "Erf": 9,
    "IsNaN": 9,
    "Sign": 9,
    "Where": 9,
    "IsInf": 10,
    "Range": 11,
    "GreaterOrEqual": 12,
    "LessOrEqual": 12,
    "HardSwish": 14,
    "CastLike": 15,
    "LayerNormalization": 17,
    "Gelu": 20,
}

_FAMILIES = (
    activation,
    cast,
    conv,
    elementwise,
    indexing,
    logic,
    matmul,
    misc,
    norm,
    pool,
    reduce,
    shape,
)


def _guarded(op_type: str, kernel: Kernel) -> Kernel:
    """Refuse element types numpy lacks, densify the inputs, run quietly (inf/NaN are valid
    results), count outputs."""

    @functools.wraps(kernel)
    def run(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
        for value in inputs:
            if value is not None and value.dtype not in PLAIN_DTYPES:
                raise UnsupportedOp(f"{op_type}: element type {value.dtype} is not supported")
        # Every caller hands the kernel dense arrays: a BLAS product of a strided view may add
        # in another order than of the same values stored densely (as a program's memory
        # holds them), and the interpreter and the cores must compute the same bits.
        inputs = [None if v is None else dense(v) for v in inputs]
        with np.errstate(all="ignore"):
            outputs = kernel(inputs, attrs, ctx)
        if len(outputs) < ctx.num_outputs:
            raise KernelError(
                f"{op_type}: produces {len(outputs)} outputs, node asks for {ctx.num_outputs}"
            )
        return [np.asarray(out) for out in outputs[: ctx.num_outputs]]

    return run


def _build() -> dict[str, Kernel]:
    table: dict[str, Kernel] = {}
    for family in _FAMILIES:
        for op_type, kernel in family.KERNELS.items():
            if op_type in table:
                raise RuntimeError(f"kernel for {op_type} registered twice")
            table[op_type] = _guarded(op_type, kernel)
    return dict(sorted(table.items()))


KERNELS: dict[str, Kernel] = _build()


def kernel_for(op_type: str, opset: int) -> Kernel:
    """Return the kernel for ``op_type`` in the default ONNX domain at ``opset``.

    Raises UnsupportedOp when the op has no kernel, or when ``opset`` selects a version of
    the op older than the kernels implement (or one before the op existed).
    """
    kernel = KERNELS.get(op_type)
    if kernel is None:
        raise UnsupportedOp(f"no interpreter kernel for ONNX op '{op_type}' (opset {opset})")
    first = _FIRST_OPSET.get(op_type, 1)
    if opset < first:
        raise UnsupportedOp(
            f"{op_type}: only opset {first} and later are supported, the model imports {opset}"
        )
    return kernel
