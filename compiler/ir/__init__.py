"""The dialect-agnostic IR core: types, attributes, values, ops, blocks, regions, text form."""

from .attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DialectAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnallocatedAttr,
    UnitAttr,
    attr,
)
from .builder import Builder
from .builtin import ModuleOp
from .core import Block, BlockArgument, Operation, OpResult, Region, Use, Value
from .diagnostics import FileLineColLoc, IRError, Location, NameLoc, UnknownLoc, VerificationError
from .ops import AttrDef, IROp, OperandDef, ResultDef
from .printer import print_ir
from .verifier import verify

__all__ = [
    "ArrayAttr", "Attribute", "AttrDef", "Block", "BlockArgument", "BoolAttr", "Builder",
    "DenseArrayAttr", "DenseElementsAttr", "DialectAttr", "DictAttr", "FileLineColLoc", "FloatAttr",
    "IROp", "IRError", "IntegerAttr", "Location", "ModuleOp", "NameLoc", "OpResult", "OperandDef",
    "Operation", "Region", "ResultDef", "StringAttr", "SymbolRefAttr", "TypeAttr", "UnallocatedAttr",
    "UnitAttr",
    "UnknownLoc", "Use", "Value", "VerificationError", "attr", "parse_module", "parse_ops",
    "print_ir", "verify",
]  # fmt: skip


def __getattr__(name: str):
    """``parse_module`` and ``parse_ops`` are loaded on first use: the text parser needs lark,
    which compiling an ONNX model never uses (6 MB and its import time)."""
    if name in ("parse_module", "parse_ops"):
        from . import parser

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
