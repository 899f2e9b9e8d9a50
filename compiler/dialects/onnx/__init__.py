"""The ``onnx`` dialect: one op per ONNX operator imcc supports, listed in :data:`ONNX_OP_TYPES`.

The dialect owns that list; the reference interpreter implements it (compiler/interp checks at
import that the kernel library has a kernel for every op type listed, and fails naming the missing
ones otherwise). Ops are named ``onnx.<OpType>``. ``onnx.Constant`` and ``onnx.NoValue`` are
hand-written; the others are generated at import time from the ``onnx.defs`` schemas
(generate.py), so their operands, results, attributes and docs follow ONNX exactly. A module holding onnx ops records the opset it
was imported at in its ``onnx.opset`` attribute; ops verify against the schema of that opset.

``ONNX_OPS`` maps ONNX op types to their classes; the classes are also attributes of this module
(``onnx.ConvOp``).
"""

from __future__ import annotations

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

#: Every ONNX op type of the dialect, by family. Adding one here makes the importer accept it and
#: the interpreter require a kernel for it (runtime/kernels/onnx).
ONNX_OP_TYPES: tuple[str, ...] = (
    # activations
    "Clip", "Erf", "Gelu", "HardSigmoid", "HardSwish", "LeakyRelu", "LogSoftmax", "PRelu",
    "Relu", "Sigmoid", "Softmax", "Tanh",
    # casts
    "Cast", "CastLike",
    # convolutions and products
    "Conv", "ConvTranspose", "Gemm", "MatMul",
    # elementwise arithmetic
    "Abs", "Add", "Ceil", "Div", "Exp", "Floor", "Log", "Max", "Mean", "Min", "Mul", "Neg",
    "Pow", "Reciprocal", "Sign", "Sqrt", "Sub", "Sum",
    # indexing
    "Concat", "Gather", "Pad", "Slice", "Split",
    # comparisons and logic
    "And", "Equal", "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "Less", "LessOrEqual", "Not",
    "Or", "Where", "Xor",
    # constants and no-ops at inference
    "Constant", "Dropout", "Identity",
    # normalizations
    "BatchNormalization", "LRN", "LayerNormalization",
    # pooling
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "MaxPool",
    # reductions
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
    # shapes
    "ConstantOfShape", "Expand", "Flatten", "Range", "Reshape", "Shape", "Size", "Squeeze",
    "Tile", "Transpose", "Unsqueeze",
)  # fmt: skip

#: ONNX op type -> op class, for every op type of the dialect, sorted by op type.
ONNX_OPS: dict[str, type[Operation]] = {
    op_type: ConstantOp if op_type == "Constant" else make_op_class(op_type)
    for op_type in sorted(ONNX_OP_TYPES)
}
globals().update({cls.__name__: cls for cls in ONNX_OPS.values()})
patterns.attach(ONNX_OPS)

#: Every ONNX op type the dialect (and so the importer and interpreter) supports, sorted.
SUPPORTED_OP_TYPES: tuple[str, ...] = tuple(ONNX_OPS)

__all__ = [
    "IMPURE",
    "NEWEST_OPSET",
    "ONNX_OPS",
    "ONNX_OP_TYPES",
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
