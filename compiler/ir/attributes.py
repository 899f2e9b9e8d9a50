"""IR attributes: compile-time constant data attached to operations.

Attributes are immutable. Their textual forms follow MLIR's generic syntax::

    3 : i32    42          1.5 : f32    true    "text"    unit    ? (unallocated)
    [1, 2, 3]  {a = 1}     array<i64: 1, 2>    f32 (a type)    @symbol
    dense<[1.0, 2.0]> : tensor<2xf32>         dense_resource<conv1.weight> : tensor<8x3x3x3xf32>

Integer literals without a type are ``i64`` (ONNX's integer attribute type); float literals without a
type are ``f32`` (ONNX's float attribute type). Large dense tensors print as named resources in the
module's trailing resource section instead of inline (see printer.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .types import RankedTensorType, Type, f32, from_numpy_dtype, i64, numpy_dtype


class Attribute:
    """Base class of all attributes."""

    @property
    def value(self):  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class IntegerAttr(Attribute):
    """An integer of a given type (default ``i64``)."""

    int_value: int
    type: Type = i64

    @property
    def value(self) -> int:
        return self.int_value


@dataclass(frozen=True)
class FloatAttr(Attribute):
    """A float of a given type (default ``f32``); the stored value is already rounded to that type."""

    float_value: float
    type: Type = f32

    def __post_init__(self):
        if str(self.type) == "f32":
            object.__setattr__(self, "float_value", float(np.float32(self.float_value)))
        elif str(self.type) == "f16":
            object.__setattr__(self, "float_value", float(np.float16(self.float_value)))

    @property
    def value(self) -> float:
        return self.float_value

    def __eq__(self, other):
        # NaN attributes compare equal to themselves so that CSE and round-trip checks work.
        if not isinstance(other, FloatAttr) or other.type != self.type:
            return False
        a = np.array(self.float_value, dtype=np.float64).tobytes()
        b = np.array(other.float_value, dtype=np.float64).tobytes()
        return a == b

    def __hash__(self):
        return hash(("float", np.array(self.float_value).tobytes(), self.type))


@dataclass(frozen=True)
class BoolAttr(Attribute):
    """``true`` or ``false``."""

    bool_value: bool

    @property
    def value(self) -> bool:
        return self.bool_value


@dataclass(frozen=True)
class StringAttr(Attribute):
    """A string (printed with C-style escapes)."""

    str_value: str

    @property
    def value(self) -> str:
        return self.str_value


@dataclass(frozen=True)
class UnitAttr(Attribute):
    """A present-but-valueless attribute (a flag)."""

    @property
    def value(self) -> bool:
        return True


@dataclass(frozen=True)
class UnallocatedAttr(Attribute):
    """``?``: a physical resource (an array, a buffer) that an allocation pass has yet to choose.

    Ops are created with their resources unallocated; the passes that choose them replace the
    ``?``, and emission refuses an op that still has one.
    """

    @property
    def value(self) -> None:
        return None


@dataclass(frozen=True)
class TypeAttr(Attribute):
    """A type used as an attribute value."""

    type_value: Type

    @property
    def value(self) -> Type:
        return self.type_value


@dataclass(frozen=True)
class SymbolRefAttr(Attribute):
    """A reference to a symbol (``@name``)."""

    symbol: str

    @property
    def value(self) -> str:
        return self.symbol


@dataclass(frozen=True)
class ArrayAttr(Attribute):
    """An ordered list of attributes."""

    elements: tuple[Attribute, ...]

    @property
    def value(self) -> list:
        return [e.value for e in self.elements]


@dataclass(frozen=True)
class DictAttr(Attribute):
    """A mapping from names to attributes (printed with sorted keys)."""

    entries: tuple[tuple[str, Attribute], ...]

    def __post_init__(self):
        object.__setattr__(self, "entries", tuple(sorted(self.entries)))

    @property
    def value(self) -> dict:
        return {k: v.value for k, v in self.entries}

    def get(self, key: str) -> Attribute | None:
        for k, v in self.entries:
            if k == key:
                return v
        return None


@dataclass(frozen=True)
class DenseArrayAttr(Attribute):
    """A flat array of scalars of one type: ``array<i64: 1, 2, 3>``."""

    element_type: Type
    values: tuple

    @property
    def value(self) -> list:
        return list(self.values)


@dataclass(frozen=True)
class DialectAttr(Attribute):
    """A dialect-defined attribute ``#dialect.name`` or ``#dialect.name<body>`` kept as text."""

    dialect: str
    name: str
    body: str | None = None

    @property
    def value(self) -> str:
        return str(self)

    def __str__(self) -> str:
        head = f"#{self.dialect}.{self.name}"
        return head if self.body is None else f"{head}<{self.body}>"


@dataclass(frozen=True, eq=False)
class DenseElementsAttr(Attribute):
    """A constant tensor. Holds a read-only numpy array of the tensor's shape and element type.

    ``hint`` names the data (e.g. the ONNX initializer name) and becomes the resource name when the
    printer moves a large tensor into the resource section.
    """

    array: np.ndarray
    type: RankedTensorType
    hint: str | None = field(default=None, compare=False)

    def __post_init__(self):
        expected = numpy_dtype(self.type.element_type)
        arr = np.ascontiguousarray(self.array, dtype=expected)
        if tuple(arr.shape) != tuple(self.type.shape):
            arr = arr.reshape(self.type.shape)
        arr.setflags(write=False)
        object.__setattr__(self, "array", arr)

    @staticmethod
    def from_array(array: np.ndarray, hint: str | None = None) -> DenseElementsAttr:
        """Wrap a numpy array; the tensor type follows its dtype and shape."""
        arr = np.asarray(array)
        t = RankedTensorType(tuple(int(d) for d in arr.shape), from_numpy_dtype(arr.dtype))
        return DenseElementsAttr(arr, t, hint)

    @property
    def value(self) -> np.ndarray:
        return self.array

    def digest(self) -> bytes:
        """A content hash used for equality, hashing and resource de-duplication."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            h = hashlib.sha256(str(self.type).encode())
            h.update(self.array.tobytes())
            cached = h.digest()
            object.__setattr__(self, "_digest", cached)
        return cached

    def __eq__(self, other):
        return (
            isinstance(other, DenseElementsAttr)
            and other.type == self.type
            and other.digest() == self.digest()
        )

    def __hash__(self):
        return hash(self.digest())

    def is_splat(self) -> bool:
        flat = self.array.reshape(-1)
        return flat.size > 0 and bool(np.all(flat == flat[0]))


def attr(value) -> Attribute:
    """Convert a plain Python/numpy value into an attribute (convenience for builders)."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool | np.bool_):
        return BoolAttr(bool(value))
    if isinstance(value, int | np.integer):
        return IntegerAttr(int(value))
    if isinstance(value, float | np.floating):
        return FloatAttr(float(value))
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, Type):
        return TypeAttr(value)
    if isinstance(value, np.ndarray):
        return DenseElementsAttr.from_array(value)
    if isinstance(value, list | tuple):
        return ArrayAttr(tuple(attr(v) for v in value))
    if isinstance(value, dict):
        return DictAttr(tuple((str(k), attr(v)) for k, v in value.items()))
    raise TypeError(f"cannot make an attribute from {type(value).__name__}")
