"""Canonicalization patterns of the onnx dialect (run by the ``canonicalize`` pass).

Folding of ops with constant operands is each op's ``fold`` hook (ops.py); these patterns remove
ops that do nothing at inference time, so later passes see the graph that actually computes.
"""

from __future__ import annotations

from ...ir.core import Operation
from ...ir.rewriter import NoMatch, PatternRewriter, RewritePattern, constant_value
from ...ir.types import RankedTensorType
from .ops import OnnxOp, is_absent


def _forward(op: Operation, rewriter: PatternRewriter, why: str) -> bool | NoMatch:
    """Replace the op's only used result by its first operand when both have the same type."""
    source, result = op.operands[0], op.results[0]
    if source.type != result.type:
        return NoMatch(f"{why}, but its result type {result.type} differs from {source.type}")
    if any(r.uses for r in op.results[1:]):
        return NoMatch(f"{why}, but a secondary result is used")
    rewriter.replace_all_uses_with(result, source)
    rewriter.erase_op(op)
    return True


class _Rooted(RewritePattern):
    """A pattern rooted on the op class it is given (the classes are generated with the dialect)."""

    def __init__(self, root: type[Operation]):
        self.root = root


class IdentityIsNoop(_Rooted):
    """``onnx.Identity`` is its input."""

    def match_and_rewrite(self, op, rewriter):
        return _forward(op, rewriter, "Identity")


class InferenceDropoutIsNoop(_Rooted):
    """Dropout outside training mode is its input (the mask, if used, keeps the op)."""

    def match_and_rewrite(self, op, rewriter):
        assert isinstance(op, OnnxOp)
        if op.opset >= 12 and len(op.operands) > 2 and not is_absent(op.operands[2]):
            mode = constant_value(op.operands[2])
            if mode is None:
                return NoMatch("training_mode is not a constant")
            if bool(mode.array.any()):
                return NoMatch("training_mode is true")
        return _forward(op, rewriter, "Dropout is in inference mode")


class CastToSameTypeIsNoop(_Rooted):
    """A Cast to the element type its input already has changes nothing."""

    def match_and_rewrite(self, op, rewriter):
        return _forward(op, rewriter, "Cast")


class ReshapeToSameShapeIsNoop(_Rooted):
    """A Reshape, Flatten, Squeeze or Unsqueeze whose static result type equals its input's."""

    def match_and_rewrite(self, op, rewriter):
        t = op.results[0].type
        if not (isinstance(t, RankedTensorType) and t.is_static):
            return NoMatch("result shape is not static")
        return _forward(op, rewriter, "reshape to the same shape")


#: ONNX op type -> the patterns made for its op class.
_PATTERNS: dict[str, tuple[type[_Rooted], ...]] = {
    "Identity": (IdentityIsNoop,),
    "Dropout": (InferenceDropoutIsNoop,),
    "Cast": (CastToSameTypeIsNoop,),
    **dict.fromkeys(("Flatten", "Reshape", "Squeeze", "Unsqueeze"), (ReshapeToSameShapeIsNoop,)),
}


def attach(op_classes: dict[str, type]) -> None:
    """Give each op class its patterns, rooted on it (its ``canonicalization_patterns`` returns
    them)."""
    for op_type, cls in op_classes.items():
        cls._canonicalization_patterns = tuple(p(cls) for p in _PATTERNS.get(op_type, ()))
