"""The constant blobs an ``imc`` op needs at run time, in one place.

Memory planning sizes them and ``imc-to-isa`` emits them, both from this function, so the two can
never disagree about which blobs an op has or in which order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imcc.runtime.isa.packing import packed_nbytes

from ..dialects import imc
from ..ir.core import Operation


@dataclass(frozen=True)
class Blob:
    """A constant: its role in the op (``weights``, ``scale``…), ISA dtype and values."""

    role: str
    dtype: str
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return packed_nbytes(self.dtype, int(self.values.size))


def op_constants(op: Operation) -> list[Blob]:
    """The blobs of ``op`` in the order its ``imc.const_buffers`` attribute lists them."""
    if isinstance(op, imc.WeightsOp):
        return [Blob("weights", op.get_attr("fmt"), op.attributes["cells"].array)]
    if isinstance(op, imc.DwConvOp):
        return [Blob("weights", "i8", op.attributes["weights"].array)]
    if isinstance(op, imc.RequantOp):
        out = [Blob("scale", "f32", op.dense("scale"))]
        if op.dense("offset") is not None:
            out.append(Blob("offset", "i32", op.dense("offset")))
        if op.dense("bias") is not None:
            out.append(Blob("bias", "f32", op.dense("bias")))
        return out
    return []
