"""Packing of constant data into bytes: ternary at 2 bits, int4 at 4 bits, plain dtypes as-is.

t2: weight k sits in bits 2·(k % 4) .. 2·(k % 4) + 1 of byte k // 4; 00 = 0, 01 = +1, 11 = −1,
10 is invalid. i4: two's complement nibbles, weight 2m in the low nibble of byte m; −8 (1000) is
invalid because cells hold −7..7. Unused trailing bits are zero, so every value list has exactly
one packing. Everything here is vectorized numpy.
"""

from __future__ import annotations

import numpy as np

from .table import DTYPES

_RANGES = {"t2": (-1, 1), "i4": (-7, 7), "i8": (-128, 127), "u8": (0, 255)}
_RANGES["i32"] = (-(2**31), 2**31 - 1)
for _name, _np in (("i16", np.int16), ("u16", np.uint16), ("u32", np.uint32)):
    _RANGES[_name] = (int(np.iinfo(_np).min), int(np.iinfo(_np).max))
_RANGES["i64"] = (-(2**63), 2**63 - 1)
_RANGES["u64"] = (0, 2**64 - 1)
_RANGES["bool"] = (0, 1)
#: Element types stored as they are (any value of the type is valid data, NaN included).
_RAW = ("f16", "f64")


def packed_nbytes(dtype: str, count: int) -> int:
    """Bytes that ``count`` elements of ``dtype`` take when packed."""
    return -(-count * DTYPES[dtype].bits // 8)


def pack(dtype: str, values) -> bytes:
    """Pack a flat sequence of values; raise ValueError when a value does not fit ``dtype``."""
    arr = np.asarray(values).reshape(-1)
    if dtype == "f32":
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"f32 data must be numeric, got {arr.dtype}")
        with np.errstate(over="ignore"):
            out = arr.astype("<f4")
        if np.isnan(out).any():
            raise ValueError("f32 data contains NaN")
        if (np.isinf(out) & np.isfinite(arr)).any():
            raise ValueError("value out of f32 range")
        return out.tobytes()
    if dtype in _RAW:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{dtype} data must be numeric, got {arr.dtype}")
        with np.errstate(over="ignore"):
            return arr.astype(np.dtype(DTYPES[dtype].numpy).newbyteorder("<")).tobytes()
    if arr.size and arr.dtype.kind not in "biu":
        raise ValueError(f"{dtype} data must be integers, got {arr.dtype}")
    lo, hi = _RANGES[dtype]
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr[(arr < lo) | (arr > hi)][0]
        raise ValueError(f"value {bad} out of range {lo}..{hi} for {dtype}")
    if dtype in ("t2", "i4"):
        return _pack_bits(arr, DTYPES[dtype].bits)
    return arr.astype(np.dtype(DTYPES[dtype].numpy).newbyteorder("<")).tobytes()


def _pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Two's-complement codes of in-range integers, ``8 // bits`` per byte, first in the low bits."""
    per = 8 // bits
    padded = np.zeros(-(-values.size // per) * per, dtype=np.uint8)
    padded[: values.size] = values.astype(np.uint8)  # wraps: the low bits are the code
    padded &= (1 << bits) - 1
    slots = padded.reshape(-1, per)
    out = slots[:, 0].copy()
    for k in range(1, per):
        out |= slots[:, k] << np.uint8(k * bits)
    return out.tobytes()


def _unpack_codes(raw: bytes, bits: int) -> np.ndarray:
    per = 8 // bits
    arr = np.frombuffer(raw, dtype=np.uint8)
    shifts = np.arange(per, dtype=np.uint8) * bits
    return ((arr[:, None] >> shifts) & ((1 << bits) - 1)).reshape(-1)


def _byte_tables(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per byte value: its decoded elements (as one word, for `np.take`) and whether it holds an
    invalid code. Megabyte weight blobs are decoded and checked with one table lookup per byte."""
    per, mask = 8 // bits, (1 << bits) - 1
    codes = (np.arange(256)[:, None] >> (np.arange(per) * bits)) & mask
    values = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes).astype(np.int8)
    word = np.dtype(f"u{per}")
    return values.view(word).reshape(256), (codes == 1 << (bits - 1)).any(axis=1)


_TABLES = {"t2": _byte_tables(2), "i4": _byte_tables(4)}


def _bad_slots(arr: np.ndarray, bits: int) -> np.ndarray:
    """Per byte, non-zero when one of its codes is the invalid one (top bit set, others clear).

    Bytewise shifts and masks: several times faster than a table lookup per byte.
    """
    lows = 0x55 if bits == 2 else 0x11  # the lowest bit of every code in a byte
    top = (arr >> (bits - 1)) & lows
    rest = arr.copy()
    for k in range(1, bits - 1):
        rest |= arr >> k
    return top & ~rest & lows


def _clean(dtype: str, raw: bytes, count: int) -> bool:
    """Fast check that a packed blob has no invalid code and no padding bits."""
    bits = DTYPES[dtype].bits
    per = 8 // bits
    arr = np.frombuffer(raw, dtype=np.uint8)
    full = count // per
    if _bad_slots(arr[:full], bits).any():
        return False
    if full == arr.size:
        return True
    last = int(arr[full])  # the partial last byte: its used codes, then zero padding
    used = count - full * per
    return not (_TABLES[dtype][1][last & ((1 << used * bits) - 1)] or last >> used * bits)


def check_packed(dtype: str, raw: bytes, count: int) -> str | None:
    """Return why ``raw`` is not a canonical packing of ``count`` ``dtype`` values, or None."""
    need = packed_nbytes(dtype, count)
    if len(raw) != need:
        return f"{len(raw)} bytes, but {count} × {dtype} needs {need}"
    if dtype in ("t2", "i4") and not _clean(dtype, raw, count):
        bits = DTYPES[dtype].bits
        codes = _unpack_codes(raw, bits)
        bad_code = 2 if dtype == "t2" else 8
        if (codes[:count] == bad_code).any():
            pos = int(np.argmax(codes[:count] == bad_code))
            return f"element {pos} has the invalid {dtype} code {bad_code:0{bits}b}"
        if codes[count:].any():
            return "non-zero padding bits after the last element"
    if dtype == "f32" and np.isnan(np.frombuffer(raw, dtype="<f4")).any():
        return "f32 data contains NaN"
    if dtype == "bool" and (np.frombuffer(raw, dtype=np.uint8) > 1).any():
        return "bool data holds a byte other than 0 or 1"
    return None


def unpack(dtype: str, raw: bytes, count: int) -> np.ndarray:
    """Unpack ``count`` values: int8 arrays for t2/i4, the dtype's numpy type otherwise."""
    if dtype in ("t2", "i4"):
        words = np.take(_TABLES[dtype][0], np.frombuffer(raw, dtype=np.uint8))
        return words.view(np.int8)[:count]  # a fresh array: the view needs no copy
    arr = np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype].numpy).newbyteorder("<"), count=count)
    return arr.astype(DTYPES[dtype].numpy)
