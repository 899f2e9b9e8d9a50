"""The schema of the ISA table: element types, memory spaces, fields and instruction rows.

`table.py` holds the rows themselves; everything here is the vocabulary they are written in.
"""

from __future__ import annotations

from dataclasses import dataclass

ISA_VERSION = (2, 0)

OPCODE_BITS = 8
WORD_BITS = 32

# Memory space ids are positions in this tuple.
MEMS = ("L2", "L1")


@dataclass(frozen=True)
class DType:
    """An element type: its code in binaries, its width in bits and its numpy dtype name."""

    name: str
    code: int
    bits: int
    numpy: str
    doc: str


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("i8", 0, 8, "int8", "signed 8-bit integer"),
        DType("u8", 1, 8, "uint8", "unsigned 8-bit integer"),
        DType("i32", 2, 32, "int32", "signed 32-bit integer"),
        DType("f32", 3, 32, "float32", "IEEE binary32"),
        DType("t2", 4, 2, "int8", "ternary weight −1/0/+1 packed 2 bits each (storage only)"),
        DType("i4", 5, 4, "int8", "signed 4-bit weight −7..7 packed 2 per byte (storage only)"),
        # wider and other element types: data of the cores' kernel library (tensors and consts)
        DType("i16", 6, 16, "int16", "signed 16-bit integer"),
        DType("u16", 7, 16, "uint16", "unsigned 16-bit integer"),
        DType("u32", 8, 32, "uint32", "unsigned 32-bit integer"),
        DType("i64", 9, 64, "int64", "signed 64-bit integer"),
        DType("u64", 10, 64, "uint64", "unsigned 64-bit integer"),
        DType("f16", 11, 16, "float16", "IEEE binary16"),
        DType("f64", 12, 64, "float64", "IEEE binary64"),
        DType("bool", 13, 8, "bool", "boolean, one byte (0 or 1)"),
    )
}
DTYPE_BY_CODE: dict[int, DType] = {d.code: d for d in DTYPES.values()}
#: Packed weight formats: storage for xb.prog only, never an operand of a computation.
PACKED = ("t2", "i4")

FIELD_KINDS = ("uint", "sint", "addr", "mem", "dtype", "enum", "f32", "array", "bool")


@dataclass(frozen=True)
class Field:
    """One instruction field: ``bits`` wide, packed in table order after the opcode.

    ``lo``/``hi`` narrow the range an integer field may take (default: everything the width
    allows). ``choices`` lists the names an ``enum``/``mem``/``dtype`` field accepts. ``default``
    is what the assembler fills in when the field is omitted (``None``: the field is required).
    """

    name: str
    bits: int
    kind: str
    doc: str
    choices: tuple[str, ...] = ()
    lo: int | None = None
    hi: int | None = None
    default: object = None

    def __post_init__(self):
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")
        if self.kind == "f32" and self.bits != 32:
            raise ValueError(f"field {self.name}: f32 fields are 32 bits")
        if self.kind == "bool" and self.bits != 1:
            raise ValueError(f"field {self.name}: bool fields are 1 bit")
        if self.kind in ("enum", "mem", "dtype") and not self.choices:
            raise ValueError(f"field {self.name}: {self.kind} fields need choices")
        if self.kind in ("enum", "mem", "dtype") and max(self.codes()) >= 1 << self.bits:
            raise ValueError(f"field {self.name}: choices do not fit in {self.bits} bits")

    @property
    def is_int(self) -> bool:
        """Whether the field holds a plain integer (uint, sint, addr, array)."""
        return self.kind in ("uint", "sint", "addr", "array")

    @property
    def min(self) -> int:
        """Smallest integer value accepted (integer kinds only)."""
        floor = -(1 << (self.bits - 1)) if self.kind == "sint" else 0
        return floor if self.lo is None else max(floor, self.lo)

    @property
    def max(self) -> int:
        """Largest integer value accepted (integer kinds only)."""
        ceil = (1 << (self.bits - 1)) - 1 if self.kind == "sint" else (1 << self.bits) - 1
        return ceil if self.hi is None else min(ceil, self.hi)

    def codes(self) -> tuple[int, ...]:
        """The bit patterns of ``choices`` (enum/mem: position; dtype: the dtype's code)."""
        if self.kind == "dtype":
            return tuple(DTYPES[c].code for c in self.choices)
        return tuple(range(len(self.choices)))


@dataclass(frozen=True)
class InstrSpec:
    """One table row: a mnemonic and everything generated code needs to know about it."""

    mnemonic: str
    opcode: int
    cls: str
    unit: str
    fields: tuple[Field, ...]
    summary: str
    semantics: str

    @property
    def nbits(self) -> int:
        """Opcode plus field bits, before padding."""
        return OPCODE_BITS + sum(f.bits for f in self.fields)

    @property
    def nwords(self) -> int:
        """Encoded length in 32-bit words."""
        return -(-self.nbits // WORD_BITS)

    def field(self, name: str) -> Field:
        """The field called ``name`` (KeyError if the row has none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)
