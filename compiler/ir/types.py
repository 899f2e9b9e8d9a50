"""IR types: scalars, ranked tensors, functions and dialect-defined types.

Types are immutable and hashable; two types are equal when they print the same. Their textual forms
follow MLIR: ``f32``, ``i8``, ``index``, ``none``, ``tensor<1x3x?xf32>``, ``(f32) -> i1``,
``!imc.tile<...>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Type:
    """Base class of all IR types."""

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True)
class IntegerType(Type):
    """Integer of a given bit width: signless ``i8`` (used for signed data; ``i1`` is the boolean
    type) or unsigned ``ui8`` (``unsigned=True``)."""

    width: int
    unsigned: bool = False

    def __str__(self) -> str:
        return f"{'u' if self.unsigned else ''}i{self.width}"


@dataclass(frozen=True)
class FloatType(Type):
    """IEEE float (``f16``, ``f32``, ``f64``) or ``bf16``."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class IndexType(Type):
    """Target-sized integer used for sizes and indices."""

    def __str__(self) -> str:
        return "index"


@dataclass(frozen=True)
class NoneType(Type):
    """The type of an absent optional operand (see ``onnx.NoValue``)."""

    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True)
class RankedTensorType(Type):
    """A tensor of known rank; ``None`` in ``shape`` marks a dynamic dimension (printed ``?``)."""

    shape: tuple[int | None, ...]
    element_type: Type

    def __str__(self) -> str:
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        return f"tensor<{dims}{self.element_type}>"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(d is not None for d in self.shape)

    @property
    def num_elements(self) -> int | None:
        if not self.is_static:
            return None
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class FunctionType(Type):
    """The signature of a function: ``(inputs) -> results``."""

    inputs: tuple[Type, ...]
    results: tuple[Type, ...]

    def __str__(self) -> str:
        ins = ", ".join(str(t) for t in self.inputs)
        if len(self.results) == 1 and not isinstance(self.results[0], FunctionType):
            return f"({ins}) -> {self.results[0]}"
        outs = ", ".join(str(t) for t in self.results)
        return f"({ins}) -> ({outs})"


@dataclass(frozen=True)
class DialectType(Type):
    """A dialect-defined type ``!dialect.name`` or ``!dialect.name<body>``.

    The body is kept as text, so the core needs no knowledge of the dialect to print and parse it;
    dialects interpret the body themselves.
    """

    dialect: str
    name: str
    body: str | None = None

    def __str__(self) -> str:
        head = f"!{self.dialect}.{self.name}"
        return head if self.body is None else f"{head}<{self.body}>"


# Commonly used singletons.
i1 = IntegerType(1)
i8 = IntegerType(8)
i16 = IntegerType(16)
i32 = IntegerType(32)
i64 = IntegerType(64)
ui8 = IntegerType(8, unsigned=True)
f16 = FloatType("f16")
bf16 = FloatType("bf16")
f32 = FloatType("f32")
f64 = FloatType("f64")
index = IndexType()
none = NoneType()

_NUMPY_OF = {
    "i1": np.dtype(np.bool_),
    "i8": np.dtype(np.int8),
    "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "f16": np.dtype(np.float16),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "index": np.dtype(np.int64),
    "ui8": np.dtype(np.uint8),
    "ui16": np.dtype(np.uint16),
    "ui32": np.dtype(np.uint32),
    "ui64": np.dtype(np.uint64),
}
_TYPE_OF = {
    np.dtype(np.bool_): i1,
    np.dtype(np.int8): i8,
    np.dtype(np.int16): i16,
    np.dtype(np.int32): i32,
    np.dtype(np.int64): i64,
    np.dtype(np.float16): f16,
    np.dtype(np.float32): f32,
    np.dtype(np.float64): f64,
    np.dtype(np.uint8): IntegerType(8, unsigned=True),
    np.dtype(np.uint16): IntegerType(16, unsigned=True),
    np.dtype(np.uint32): IntegerType(32, unsigned=True),
    np.dtype(np.uint64): IntegerType(64, unsigned=True),
}


def numpy_dtype(t: Type) -> np.dtype:
    """The numpy dtype that stores elements of scalar type ``t``."""
    try:
        return _NUMPY_OF[str(t)]
    except KeyError:
        raise ValueError(f"type {t} has no numpy equivalent") from None


def from_numpy_dtype(dtype: np.dtype) -> Type:
    """The IR scalar type for a numpy dtype."""
    try:
        return _TYPE_OF[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"numpy dtype {dtype} has no IR equivalent") from None


def tensor(shape, element_type: Type) -> RankedTensorType:
    """Shorthand constructor: ``tensor((1, 3), f32)``."""
    return RankedTensorType(
        tuple(None if d is None or d < 0 else int(d) for d in shape), element_type
    )


def is_float(t: Type) -> bool:
    return isinstance(t, FloatType)


def is_integer(t: Type) -> bool:
    return isinstance(t, IntegerType | IndexType)
