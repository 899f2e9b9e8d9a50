"""Instruction values, and their encoder and decoder, driven entirely by the ISA table.

An encoded instruction is the opcode (8 bits) followed by the row's fields in table order, packed
LSB-first into a little-endian bit stream and zero-padded to whole 32-bit words. Padding must be
zero when decoding, so every instruction has exactly one encoding.
"""

from __future__ import annotations

import math
import numbers
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import BinaryFormatError, FieldError
from .table import BY_MNEMONIC, BY_OPCODE, DTYPE_BY_CODE, OPCODE_BITS, Field, InstrSpec


@dataclass(frozen=True, eq=True)
class Instr:
    """A decoded instruction: its mnemonic and a complete, validated field dict in table order.

    Fields read as attributes too (``ins.src_addr``). Build one with `Instr.make`, which checks
    every value and fills defaults; the constructor itself trusts its arguments.
    """

    mnemonic: str
    fields: Mapping[str, object]

    __hash__ = None  # fields is a dict

    @property
    def spec(self) -> InstrSpec:
        """The table row of this instruction."""
        return BY_MNEMONIC[self.mnemonic]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(f"{self.mnemonic} has no field {name!r}") from None

    @classmethod
    def make(cls, mnemonic: str, fields: Mapping[str, object] | None = None, **kw) -> Instr:
        """Check and normalize field values (defaults filled in); raise FieldError naming the field."""
        spec = BY_MNEMONIC.get(mnemonic)
        if spec is None:
            raise FieldError(f"unknown mnemonic {mnemonic!r}")
        given = dict(fields or {}, **kw)
        unknown = [k for k in given if k not in {f.name for f in spec.fields}]
        if unknown:
            raise FieldError(f"{mnemonic}: unknown field {unknown[0]!r}")
        out = {}
        for f in spec.fields:
            if f.name in given:
                out[f.name] = check_value(spec, f, given[f.name])
            elif f.default is not None:
                out[f.name] = check_value(spec, f, f.default)
            else:
                raise FieldError(f"{mnemonic}: missing field {f.name!r}")
        return cls(mnemonic, out)


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_value(spec: InstrSpec, f: Field, value: object) -> object:
    """Return ``value`` normalized for field ``f`` of ``spec``, or raise FieldError."""
    where = f"{spec.mnemonic}: field {f.name!r}"
    if f.is_int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise FieldError(f"{where}: expected an integer, got {value!r}")
        if not f.min <= value <= f.max:
            raise FieldError(f"{where}: value {value} out of range {f.min}..{f.max}")
        return int(value)
    if f.kind == "bool":
        if not isinstance(value, (bool, np.bool_, numbers.Integral)) or value not in (0, 1):
            raise FieldError(f"{where}: expected a bool, got {value!r}")
        return bool(value)
    if f.kind == "f32":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise FieldError(f"{where}: expected a number, got {value!r}")
        if math.isnan(value):
            raise FieldError(f"{where}: NaN is not allowed")
        try:
            return _f32(float(value))
        except OverflowError:
            raise FieldError(f"{where}: value {value} out of f32 range") from None
    if value not in f.choices:
        raise FieldError(f"{where}: expected one of {', '.join(f.choices)}, got {value!r}")
    return value


def _to_code(f: Field, value: object) -> int:
    if f.kind == "sint":
        return value & ((1 << f.bits) - 1)
    if f.is_int or f.kind == "bool":
        return int(value)
    if f.kind == "f32":
        return struct.unpack("<I", struct.pack("<f", value))[0]
    return f.codes()[f.choices.index(value)]


def _from_code(spec: InstrSpec, f: Field, code: int) -> object:
    """Inverse of `_to_code`; raises BinaryFormatError for codes no value encodes to."""
    where = f"{spec.mnemonic}: field {f.name!r}"
    if f.kind in ("uint", "addr", "array", "sint"):
        value = code - (1 << f.bits) if f.kind == "sint" and code >> (f.bits - 1) else code
        if not f.min <= value <= f.max:
            raise BinaryFormatError(f"{where}: value {value} out of range {f.min}..{f.max}")
        return value
    if f.kind == "bool":
        return bool(code)
    if f.kind == "f32":
        value = struct.unpack("<f", struct.pack("<I", code))[0]
        if math.isnan(value):
            raise BinaryFormatError(f"{where}: NaN is not allowed")
        return value
    codes = f.codes()
    if code not in codes:
        what = "dtype code" if f.kind == "dtype" else "code"
        name = (
            f" ({DTYPE_BY_CODE[code].name})" if f.kind == "dtype" and code in DTYPE_BY_CODE else ""
        )
        raise BinaryFormatError(
            f"{where}: {what} {code}{name} is not one of {', '.join(f.choices)}"
        )
    return f.choices[codes.index(code)]


def encode(ins: Instr) -> bytes:
    """Encode one instruction (re-checking its fields) to ``spec.nwords`` little-endian words."""
    spec = BY_MNEMONIC.get(ins.mnemonic)
    if spec is None:
        raise FieldError(f"unknown mnemonic {ins.mnemonic!r}")
    word, shift = spec.opcode, OPCODE_BITS
    for f in spec.fields:
        if f.name not in ins.fields:
            raise FieldError(f"{spec.mnemonic}: missing field {f.name!r}")
        word |= _to_code(f, check_value(spec, f, ins.fields[f.name])) << shift
        shift += f.bits
    return word.to_bytes(spec.nwords * 4, "little")


def encode_all(instrs) -> bytes:
    """Encode a sequence of instructions back to back."""
    return b"".join(encode(ins) for ins in instrs)


def decode(data: bytes, offset: int = 0) -> tuple[Instr, int]:
    """Decode the instruction at byte ``offset``; return it and its length in bytes."""
    if offset + 4 > len(data):
        raise BinaryFormatError(f"truncated instruction at byte {offset}")
    spec = BY_OPCODE.get(data[offset])
    if spec is None:
        raise BinaryFormatError(f"unknown opcode 0x{data[offset]:02x}")
    size = spec.nwords * 4
    if offset + size > len(data):
        raise BinaryFormatError(
            f"{spec.mnemonic}: truncated ({len(data) - offset} bytes left, needs {size})"
        )
    word = int.from_bytes(data[offset : offset + size], "little")
    if word >> spec.nbits:
        raise BinaryFormatError(f"{spec.mnemonic}: non-zero padding bits")
    fields, shift = {}, OPCODE_BITS
    for f in spec.fields:
        fields[f.name] = _from_code(spec, f, (word >> shift) & ((1 << f.bits) - 1))
        shift += f.bits
    return Instr(spec.mnemonic, fields), size


def decode_all(data: bytes) -> list[Instr]:
    """Decode a whole instruction stream; errors name the instruction index and word offset."""
    if len(data) % 4:
        raise BinaryFormatError(f"code size {len(data)} is not a multiple of 4")
    out, offset = [], 0
    while offset < len(data):  # every step advances by at least one word
        try:
            ins, size = decode(data, offset)
        except BinaryFormatError as e:
            raise BinaryFormatError(f"instruction {len(out)} (word {offset // 4}): {e}") from None
        out.append(ins)
        offset += size
    return out
