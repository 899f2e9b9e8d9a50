"""The ``onnx`` dialect: one op per ONNX operator the reference interpreter supports.

Ops are named ``onnx.<OpType>``. ``onnx.Constant`` and ``onnx.NoValue`` are hand-written; the others
are generated at import time from the ``onnx.defs`` schemas (generate.py), so their operands,
results, attributes and docs follow ONNX exactly. A module holding onnx ops records the opset it
was imported at in its ``onnx.opset`` attribute; ops verify against the schema of that opset.

``ONNX_OPS`` maps ONNX op types to their classes; the classes are also attributes of this module
(``onnx.ConvOp``).
"""

from __future__ import annotations

from imcc.runtime.kernels.onnx import KERNELS

from ...ir.core import Operation
from . import patterns
from .generate import IMPURE, default_attributes, make_op_class
from .ops import (
    OPSET_ATTR,
    ConstantOp,
    NoValueOp,
    OnnxOp,
    is_absent,
    module_opset,
    plain_attributes,
    set_module_opset,
    to_attribute,
)
from .schema import NEWEST_OPSET, signature

#: ONNX op type -> op class, for every supported op type, sorted by op type.
ONNX_OPS: dict[str, type[Operation]] = {"Constant": ConstantOp}
for _op_type in KERNELS:
    if _op_type not in ONNX_OPS:
        ONNX_OPS[_op_type] = make_op_class(_op_type)
ONNX_OPS = dict(sorted(ONNX_OPS.items()))
globals().update({cls.__name__: cls for cls in ONNX_OPS.values()})
patterns.attach(ONNX_OPS)

#: Every ONNX op type the dialect (and so the importer and interpreter) supports.
SUPPORTED_OP_TYPES: tuple[str, ...] = tuple(ONNX_OPS)

__all__ = [
    "IMPURE",
    "NEWEST_OPSET",
    "ONNX_OPS",
    "OPSET_ATTR",
    "SUPPORTED_OP_TYPES",
    "ConstantOp",
    "NoValueOp",
    "OnnxOp",
    "default_attributes",
    "is_absent",
    "module_opset",
    "plain_attributes",
    "set_module_opset",
    "signature",
    "to_attribute",
]
