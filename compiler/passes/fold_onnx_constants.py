"""fold-onnx-constants: evaluate onnx ops whose inputs are known at compile time.

Exporters leave a lot of arithmetic on constants in a graph: shape sub-graphs
(``Shape → Gather → Unsqueeze → Concat → Reshape``), the attention-mask constants, Casts and
Transposes of weights. This pass runs every pure onnx op whose operands are all constants through
the interpreter's kernels and replaces it with an ``onnx.Constant``, repeating until nothing
changes, so the fusion passes after it see plain constants.

What counts as constant: an ``onnx.Constant`` result; the *shape* of a value whose type is static
(``Shape``/``Size`` need no data); and the static entries of a partly dynamic shape
(``Gather(Shape(x), i)`` when dimension ``i`` of ``x`` is known). The ``max-elements`` guard keeps
folding from materialising big tensors: a result larger than ``max-elements`` is folded only if it
is no larger than the constant inputs it is computed from (a weight Transpose folds, an Expand of
a scalar to a large shape does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from imcc.runtime.kernels.onnx import KernelContext, KernelError, kernel_for

from ..dialects.onnx import (
    ConstantOp,
    GatherOp,
    NoValueOp,
    OnnxOp,
    ShapeOp,
    SizeOp,
    plain_attributes,
)
from ..dialects.onnx.ops import materialize_constant
from ..ir.attributes import DenseElementsAttr
from ..ir.builtin import ModuleOp
from ..ir.core import Operation
from ..ir.ops import Pure
from ..ir.rewriter import NoMatch, PatternRewriter, RewritePattern, constant_value
from ..ir.types import NoneType, RankedTensorType, numpy_dtype
from ..pm import Pass, register_pass
from ._fusion import defining_op, describe, run_patterns, shape_op_dims

#: Ops whose result depends only on their operand's type.
_TYPE_ONLY = frozenset({ShapeOp, SizeOp})


def _shape_of_type(t: RankedTensorType) -> np.ndarray:
    """A data-free array of a static type's shape and dtype (a zero-stride view)."""
    return np.broadcast_to(np.zeros((), numpy_dtype(t.element_type)), t.shape)


def _static_dims_of_shape(op: Operation) -> np.ndarray | None:
    """The dimensions a ``Shape`` op selects (``start``/``end``), if all of them are static."""
    dims = shape_op_dims(op)
    if dims is None or None in dims:
        return None
    return np.array(dims, dtype=np.int64)


def _gather_of_shape(op: Operation) -> np.ndarray | None:
    """``Gather(Shape(x), indices)`` on axis 0 when every selected dimension of ``x`` is static."""
    if op.get_attr("axis", 0) != 0:
        return None
    shape_op = defining_op(op.operands[0], ShapeOp)
    indices = constant_value(op.operands[1])
    dims = shape_op_dims(shape_op) if shape_op is not None else None
    if dims is None or not isinstance(indices, DenseElementsAttr):
        return None
    index = indices.array.astype(np.int64)
    if index.size and (index.min() < -len(dims) or index.max() >= len(dims)):
        return None
    picked = [dims[int(i)] for i in index.reshape(-1)]
    if None in picked:
        return None
    return np.array(picked, dtype=np.int64).reshape(index.shape)


@dataclass
class FoldOnnxOp(RewritePattern):
    """Replace a pure onnx op with constant operands by constants computed with its kernel."""

    max_elements: int
    root = None

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> bool | NoMatch:
        if not isinstance(op, OnnxOp) or isinstance(op, (ConstantOp, NoValueOp)):
            return False  # nothing to fold (and not worth a note in the debug output)
        if not op.has_trait(Pure):
            return NoMatch("the op has side effects")
        partial = _gather_of_shape(op) if isinstance(op, GatherOp) else None
        if isinstance(op, ShapeOp):
            partial = _static_dims_of_shape(op)
        if partial is not None:
            return self._replace(op, [partial], rewriter)
        inputs, input_elements = [], 0
        for i, value in enumerate(op.operands):
            if isinstance(value.type, NoneType):
                inputs.append(None)
                continue
            const = constant_value(value)
            if isinstance(const, DenseElementsAttr):
                inputs.append(const.array)
                input_elements += const.array.size
            elif i == 0 and type(op) in _TYPE_ONLY:
                if not value.type.is_static:
                    return NoMatch(f"the shape of operand #0 ({value.type}) is not static")
                inputs.append(_shape_of_type(value.type))
            else:
                return NoMatch(f"operand #{i} is not a constant ({describe(value)})")
        budget = max(self.max_elements, input_elements)
        try:
            kernel = kernel_for(op.op_type, op.opset)
            # kernels that make large results from small inputs stop before allocating them
            ctx = KernelContext(opset=op.opset, num_outputs=len(op.results), max_bytes=8 * budget)
            outputs = kernel(inputs, plain_attributes(op), ctx)
        except KernelError as exc:
            return NoMatch(f"the kernel cannot evaluate it: {exc}")
        for out in outputs:
            if out.size > budget:
                return NoMatch(
                    f"the result would have {out.size} elements, more than max-elements="
                    f"{self.max_elements} and more than its constant inputs"
                )
        return self._replace(op, outputs, rewriter)

    def _replace(self, op: Operation, outputs, rewriter: PatternRewriter) -> bool | NoMatch:
        for result, out in zip(op.results, outputs):
            if isinstance(result.type, NoneType):
                continue
            problem = _type_mismatch(result.type, np.asarray(out))
            if problem:
                return NoMatch(problem)
            if out.shape != result.type.shape and not all(
                isinstance(u, OnnxOp) for u in result.users()
            ):
                return NoMatch(
                    "the folded value has a more precise type than a non-onnx user expects"
                )
        for result, out in zip(op.results, outputs):
            if isinstance(result.type, NoneType) or not result.uses:
                continue
            attr = DenseElementsAttr.from_array(np.asarray(out))
            const = materialize_constant(attr, attr.type, op.location)
            rewriter.insert_before(op, const)
            rewriter.replace_all_uses_with(result, const.results[0])
        rewriter.erase_op(op)
        return True


def _type_mismatch(t: RankedTensorType, out: np.ndarray) -> str | None:
    """Why a kernel output cannot stand for a result of type ``t`` (None if it can)."""
    if out.dtype != numpy_dtype(t.element_type):
        return f"the kernel produced {out.dtype}, the result type is {t}"
    if len(out.shape) != t.rank or any(
        d is not None and d != s for d, s in zip(t.shape, out.shape)
    ):
        return f"the kernel produced shape {list(out.shape)}, the result type is {t}"
    return None


@register_pass
@dataclass(frozen=True)
class FoldOnnxConstantsPass(Pass):
    """Evaluates every pure onnx op whose operands are constants (shapes of statically shaped
    values count) with the interpreter's kernels and replaces it by an ``onnx.Constant``; dead ops
    are removed. ``max-elements`` bounds how large a folded constant may grow beyond its inputs."""

    name = "fold-onnx-constants"
    summary = (
        "Evaluate onnx ops on constants (shape sub-graphs, mask arithmetic) into onnx.Constant"
    )

    max_elements: int = field(
        default=1 << 20,
        metadata={
            "help": "largest folded result (elements) unless its constant inputs are as large"
        },
    )
    debug_patterns: bool = field(
        default=False, metadata={"help": "print why ops were not folded (stderr)"}
    )

    def __post_init__(self):
        if self.max_elements < 0:
            raise ValueError("max-elements must not be negative")

    def run(self, module: ModuleOp) -> bool:
        return run_patterns(module, [FoldOnnxOp(self.max_elements)], self.debug_patterns)
