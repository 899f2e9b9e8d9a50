"""The entries of a program's tables: `Tensor` (the tensor table), `Const` (the constant blobs)
and `DebugInfo` (the debug table), with the rules on their names, roles and ranks.

Both `program` (the in-memory `Program`, its validation) and `binfmt` (its bytes) build on these;
neither is imported here.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

import numpy as np

from .errors import ProgramError
from .packing import pack, packed_nbytes, unpack
from .table import DTYPES

ROLES = ("input", "output", "const", "scratch")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_./]{0,254}")
MAX_NDIM = 8


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


@dataclass
class Tensor:
    """One tensor table entry: where a named tensor lives and how it is quantized.

    A ``const`` tensor's data is the constant blob of the same name (same dtype, size elements).
    ``scales`` optionally names an f32 blob of per-channel scales along ``axis``.
    """

    name: str
    role: str
    dtype: str
    shape: tuple[int, ...]
    mem: str
    addr: int
    scale: float = 1.0
    zp: int = 0
    scales: str | None = None
    axis: int = 0

    def __post_init__(self):
        self.shape = tuple(int(d) for d in self.shape)
        try:
            self.scale = _f32(float(self.scale))
        except OverflowError:
            raise ProgramError(f"tensor {self.name}: scale {self.scale} out of f32 range") from None

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies in memory (packed for t2/i4)."""
        return packed_nbytes(self.dtype, self.size)


@dataclass
class Const:
    """A constant blob: ``count`` elements of ``dtype``, stored packed in ``raw``."""

    name: str
    dtype: str
    count: int
    raw: bytes

    @classmethod
    def from_values(cls, name: str, dtype: str, values) -> Const:
        """Pack ``values`` (flattened, C order); raise ProgramError if they do not fit ``dtype``."""
        if dtype not in DTYPES:
            raise ProgramError(f"const {name}: unknown dtype {dtype!r}")
        arr = np.asarray(values)
        try:
            return cls(name, dtype, int(arr.size), pack(dtype, arr))
        except ValueError as e:
            raise ProgramError(f"const {name}: {e}") from None

    def values(self) -> np.ndarray:
        """The unpacked values as a flat array (int8 for t2/i4)."""
        return unpack(self.dtype, self.raw, self.count)


#: Largest attention head index a debug entry holds (an i32 in prog.bin).
MAX_HEAD = 2**31 - 1


@dataclass(frozen=True)
class DebugInfo:
    """Where an instruction came from: the IR op and the ONNX node, and for an instruction that
    works on one attention head only (the per-head products ``attention-split`` makes), that
    head's index (None: the instruction is not per head)."""

    ir_op: str
    onnx_node: str
    head: int | None = None
