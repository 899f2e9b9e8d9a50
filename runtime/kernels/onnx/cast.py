"""Cast and CastLike, plus the ONNX element-type table the other kernels share.

Only the element types plain numpy represents are supported; bfloat16, the float8/float4
families and the 2/4-bit integers raise UnsupportedOp naming the type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import Inputs, KernelContext, KernelError, UnsupportedOp, need, required

# TensorProto.DataType code -> (name, numpy dtype or None when numpy cannot hold it).
ONNX_TYPES: dict[int, tuple[str, np.dtype | None]] = {
    1: ("FLOAT", np.dtype(np.float32)),
    2: ("UINT8", np.dtype(np.uint8)),
    3: ("INT8", np.dtype(np.int8)),
    4: ("UINT16", np.dtype(np.uint16)),
    5: ("INT16", np.dtype(np.int16)),
    6: ("INT32", np.dtype(np.int32)),
    7: ("INT64", np.dtype(np.int64)),
    8: ("STRING", np.dtype(object)),
    9: ("BOOL", np.dtype(np.bool_)),
    10: ("FLOAT16", np.dtype(np.float16)),
    11: ("DOUBLE", np.dtype(np.float64)),
    12: ("UINT32", np.dtype(np.uint32)),
    13: ("UINT64", np.dtype(np.uint64)),
    14: ("COMPLEX64", np.dtype(np.complex64)),
    15: ("COMPLEX128", np.dtype(np.complex128)),
    16: ("BFLOAT16", None),
    17: ("FLOAT8E4M3FN", None),
    18: ("FLOAT8E4M3FNUZ", None),
    19: ("FLOAT8E5M2", None),
    20: ("FLOAT8E5M2FNUZ", None),
    21: ("UINT4", None),
    22: ("INT4", None),
    23: ("FLOAT4E2M1", None),
    24: ("FLOAT8E8M0", None),
    25: ("UINT2", None),
    26: ("INT2", None),
}


PLAIN_DTYPES = frozenset(dtype for _, dtype in ONNX_TYPES.values() if dtype is not None)


def onnx_to_numpy_dtype(code: int, op: str) -> np.dtype:
    """Numpy dtype of ONNX element type ``code``; UnsupportedOp for types numpy lacks."""
    name, dtype = ONNX_TYPES.get(code, (f"#{code}", None))
    if dtype is None:
        raise UnsupportedOp(f"{op}: element type {name} is not supported by the interpreter")
    return dtype


def _is_plain(dtype: np.dtype) -> bool:
    """True for dtypes of the table; extension types (bfloat16, float8, int4 ...) are not."""
    return dtype in PLAIN_DTYPES


def _convert(x: np.ndarray, dtype: np.dtype, op: str) -> np.ndarray:
    if not _is_plain(x.dtype):
        raise UnsupportedOp(f"{op}: input element type {x.dtype} is not supported")
    if dtype == x.dtype:
        return x
    if dtype.kind == "O":
        # ONNX prints floats to strings with its own shortest-round-trip rules.
        raise UnsupportedOp(f"{op}: casting {x.dtype} to STRING is not supported")
    if x.dtype.kind == "O":
        # Strings parse as floats first ("1e-5", "INF", "NaN"), then take the target type.
        try:
            return x.astype(np.float64).astype(dtype)
        except ValueError as error:
            raise KernelError(f"{op}: cannot parse string as a number: {error}") from None
    return x.astype(dtype)


def cast(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """Cast to the element type named by the ``to`` attribute (numpy conversion rules)."""
    target = onnx_to_numpy_dtype(int(required(attrs, "to", "Cast")), "Cast")
    return [_convert(need(inputs, 0, "Cast"), target, "Cast")]


def cast_like(inputs: Inputs, attrs: dict[str, Any], ctx: KernelContext) -> list[np.ndarray]:
    """CastLike: cast the first input to the element type of the second."""
    target = need(inputs, 1, "CastLike").dtype
    if not _is_plain(target):
        raise UnsupportedOp(f"CastLike: target element type {target} is not supported")
    return [_convert(need(inputs, 0, "CastLike"), target, "CastLike")]


KERNELS = {"Cast": cast, "CastLike": cast_like}
