"""Where values live once memory is planned, and which bytes each imc job reads and writes.

Used after ``plan-memory`` by every pass that needs addresses (``schedule`` for hazards,
``imc-to-isa`` for instruction fields), so they all read the same attributes the same way.
"""

from __future__ import annotations

import numpy as np

from ..dialects import imc
from ..dialects.func import FuncOp
from ..dialects.onnx import ConstantOp, NoValueOp
from ..ir.core import BlockArgument, Operation, Value
from ..ir.diagnostics import IRError
from ..ir.types import RankedTensorType, numpy_dtype

#: Discardable attributes ``plan-memory`` writes besides the imc ops' ``buffers``.
ARG_BUFFERS = "imc.arg_buffers"
CONST_BUFFER = "imc.buffer"
CONST_BUFFERS = "imc.const_buffers"

Range = tuple[str, int, int]  # (space, first byte, end byte)


def nbytes(value: Value) -> int:
    """Bytes of a tensor value (0 for other types)."""
    t = value.type
    if not isinstance(t, RankedTensorType):
        return 0
    return int(np.prod(t.shape, dtype=np.int64)) * numpy_dtype(t.element_type).itemsize


class Places:
    """The memory of every value of one planned function."""

    def __init__(self, func: FuncOp):
        args = func.get_attr(ARG_BUFFERS) or []
        self.args = {id(a): tuple(p) for a, p in zip(func.body.args, args)}

    def of(self, v: Value) -> tuple[str, int] | None:
        """(memory, address) of a value; None for an absent one."""
        if isinstance(v, BlockArgument):
            return self.args[id(v)]
        op = v.owner
        if isinstance(op, NoValueOp) or not isinstance(v.type, RankedTensorType):
            return None
        if isinstance(op, imc.ReshapeOp):
            return self.of(op.operands[0])
        if isinstance(op, ConstantOp):
            return tuple(op.get_attr(CONST_BUFFER)[0])
        if isinstance(op, imc.ImcOp):
            return op.buffer(v.index)
        raise IRError(f"no memory for a value of '{op.name}'", op.location)

    def range(self, v: Value) -> Range | None:
        place = self.of(v)
        if place is None:
            return None
        mem, addr = place
        return mem, addr, addr + nbytes(v)

    def footprint(self, op: Operation) -> tuple[list[Range], list[Range]]:
        """(reads, writes) of an imc job; array windows are spaces ``A<index>`` of cells."""
        if isinstance(op, imc.WeightsOp):
            return [], [_cells(op)]
        if isinstance(op, imc.WriteOp):
            src = self._value(op.operands[0])
            return [src] if src is not None else [], [_cells(op)]
        if isinstance(op, imc.ReshapeOp | imc.EmptyOp) or not isinstance(op, imc.ImcOp):
            return [], []
        reads = [r for v in op.operands if (r := self._value(v)) is not None]
        writes = [r for v in op.results if (r := self._value(v)) is not None]
        if isinstance(op, imc.MvmOp):
            reads.append(_cells(op.operands[1].owner))
        if isinstance(op, imc.ExtractOp):
            reads = [self._box(op.operands[0], op.results[0], op.get_attr("offsets"))]
        if isinstance(op, imc.InsertOp):
            part = self._value(op.operands[0])
            reads = [part] if part is not None else []
            writes = [self._box(op.results[0], op.operands[0], op.get_attr("offsets"))]
        return reads, writes

    def _box(self, whole: Value, part: Value, offsets) -> Range:
        """The bytes from the first to the last element of a box of ``whole`` (exact when only
        its first dimension or only its second is cut)."""
        mem, addr, _ = self.range(whole)
        shape = whole.type.shape
        item = numpy_dtype(whole.type.element_type).itemsize
        strides = [int(np.prod(shape[d + 1 :], dtype=np.int64)) * item for d in range(len(shape))]
        first = sum(o * st for o, st in zip(offsets, strides))
        last = sum((o + n - 1) * st for o, n, st in zip(offsets, part.type.shape, strides))
        return mem, addr + first, addr + last + item

    def _value(self, v: Value) -> Range | None:
        if not isinstance(v.type, RankedTensorType):
            return None
        return self.range(v)


def _cells(w: imc.WeightsOp | imc.WriteOp) -> Range:
    rows, cols = w.shape
    r0, c0 = int(w.get_attr("row0")), int(w.get_attr("col0"))
    # rows x cols cells of a row-major array; the hull is precise enough for ordering
    width = 1 << 16
    return f"A{w.get_attr('array')}", r0 * width + c0, (r0 + rows - 1) * width + c0 + cols
