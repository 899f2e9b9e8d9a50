"""ONNX element and value types in IR terms."""

from __future__ import annotations

import onnx
from onnx import TensorProto

from ..ir.types import IntegerType, RankedTensorType, Type, f16, f32, f64, i1, i8, i16, i32, i64
from .errors import UnsupportedError

#: ONNX element type -> IR scalar type, for every element type plain numpy can hold.
ELEMENT_TYPES: dict[int, Type] = {
    TensorProto.FLOAT: f32,
    TensorProto.DOUBLE: f64,
    TensorProto.FLOAT16: f16,
    TensorProto.INT8: i8,
    TensorProto.INT16: i16,
    TensorProto.INT32: i32,
    TensorProto.INT64: i64,
    TensorProto.UINT8: IntegerType(8, unsigned=True),
    TensorProto.UINT16: IntegerType(16, unsigned=True),
    TensorProto.UINT32: IntegerType(32, unsigned=True),
    TensorProto.UINT64: IntegerType(64, unsigned=True),
    TensorProto.BOOL: i1,
}


_CODES = {str(t): code for code, t in ELEMENT_TYPES.items()}


def onnx_element_type(t: Type) -> int:
    """The ONNX element type code of IR scalar type ``t``."""
    return _CODES[str(t)]


def element_type_name(code: int) -> str:
    try:
        return TensorProto.DataType.Name(code)
    except ValueError:
        return f"#{code}"


def element_type(code: int, what: str) -> Type:
    """The IR type of ONNX element type ``code``; UnsupportedError naming ``what`` otherwise."""
    t = ELEMENT_TYPES.get(code)
    if t is None:
        raise UnsupportedError(
            f"{what} has element type {element_type_name(code)}, which imcc does not support"
        )
    return t


def tensor_type(type_proto: onnx.TypeProto, what: str) -> RankedTensorType | None:
    """The ranked tensor type of a value's TypeProto; None when its rank is unknown.

    Symbolic and unknown dimensions become dynamic (``?``); sequences, maps and optionals are
    refused.
    """
    kind = type_proto.WhichOneof("value")
    if kind != "tensor_type":
        raise UnsupportedError(f"{what} is a {kind or 'value of unknown kind'}, not a tensor")
    tt = type_proto.tensor_type
    if not tt.elem_type:
        return None
    et = element_type(tt.elem_type, what)
    if not tt.HasField("shape"):
        return None
    dims = tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in tt.shape.dim
    )
    return RankedTensorType(dims, et)
