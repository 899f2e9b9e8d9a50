"""Channels-first and channels-last: the transposes the backend puts around crossbar and
depthwise jobs (which read NHWC images), as cores' library calls that ``fold-layout`` cancels."""

from __future__ import annotations

from ..dialects import imc
from ..dialects import onnx as onnx_dialect
from ..ir.attributes import ArrayAttr, DictAttr, IntegerAttr, StringAttr
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import RankedTensorType

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
TRANSPOSE = onnx_dialect.ONNX_OPS["Transpose"].name


def perm_params(perm) -> DictAttr:
    """The ``params`` of a transpose kernel."""
    return DictAttr((("perm", ArrayAttr(tuple(IntegerAttr(p) for p in perm))),))


def transpose(b: Builder, x: Value, perm, opset: int, ncores: int, loc) -> Value:
    """Insert a transpose of ``x`` by ``perm`` on the cores; its result."""
    shape = tuple(x.type.shape[p] for p in perm)
    t = RankedTensorType(shape, x.type.element_type)
    op = imc.KernelOp.create(
        [x],
        [t],
        {
            "kernel": StringAttr(TRANSPOSE),
            "params": perm_params(perm),
            "opset": IntegerAttr(opset),
            "unit": StringAttr("cluster"),
            "ncores": IntegerAttr(ncores),
            "buffers": imc.unallocated(),
        },
        location=loc,
    )
    return b.insert(op).results[0]
