"""Types ONNX shape inference leaves unknown, found by evaluating the node.

ONNX's inference gives up on a rank whenever a shape-determining input (Reduce* ``axes``, Reshape's
``shape``, Range's bounds ...) is computed rather than stored, even when it is computable at import
time (from constants and the static shapes of pinned inputs). For such a node the importer runs its
kernel once on stand-ins: the real values of shape-determining inputs, found by evaluating the
constant subgraph that feeds them, and zero-stride dummies of the right shape and type for the data
inputs, whose values cannot change the output's type.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from imcc.runtime.kernels.onnx import KernelContext, KernelError, kernel_for

from ..dialects.onnx.attribute_values import AttributeSchemaError, node_attributes
from ..dialects.onnx.ops import FOLD_LIMIT
from ..ir.types import RankedTensorType, from_numpy_dtype, numpy_dtype

#: Op type -> input positions whose *values* (not just shapes) determine the output's shape.
SHAPE_INPUTS: dict[str, frozenset[int]] = {
    "ConstantOfShape": frozenset({0}),
    "Expand": frozenset({1}),
    "Pad": frozenset({1, 3}),
    "Range": frozenset({0, 1, 2}),
    "Reshape": frozenset({1}),
    "Slice": frozenset({1, 2, 3, 4}),
    "Split": frozenset({1}),
    "Squeeze": frozenset({1}),
    "Tile": frozenset({1}),
    "Unsqueeze": frozenset({1}),
    **{
        op: frozenset({1})
        for op in (
            "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
            "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
        )
    },
}  # fmt: skip

#: Ops whose output depends only on the input's type.
_TYPE_ONLY = frozenset({"Shape", "Size"})


class TypeRefiner:
    """Evaluates nodes on demand to find output types and small constant values.

    ``constant(name)`` returns a tensor known at import time or None; ``types`` (name -> type or
    None) is what ONNX inference found, and is updated as nodes are refined.
    """

    def __init__(
        self,
        graph: onnx.GraphProto,
        opset: int,
        types: dict,
        initializer: Callable[[str], np.ndarray | None],
    ):
        self.opset = opset
        self.types = types
        self._initializer = initializer
        self._producer = {out: node for node in graph.node for out in node.output if out}
        self._known: dict[str, np.ndarray | None] = {}

    def constant(self, name: str, depth: int = 0) -> np.ndarray | None:
        """The value of ``name`` if it can be computed without the graph inputs' values."""
        if name in self._known:
            return self._known[name]
        value = self._initializer(name)
        if value is None and depth < 200:
            node = self._producer.get(name)
            if node is not None:
                outputs = self._evaluate(node, depth, dummies=False)
                if outputs is not None:
                    for out_name, out in zip(node.output, outputs):
                        if out_name and out is not None and out.size <= FOLD_LIMIT:
                            self._known[out_name] = out
                    value = self._known.get(name)
        self._known[name] = value
        return value

    def refine(self, node: onnx.NodeProto) -> bool:
        """Fill in the types of ``node``'s outputs that inference left without a static shape.
        Returns whether an output of unknown rank got one (then inference should run again, to
        carry the rank downstream)."""
        pending = [n for n in node.output if n and not _static(self.types.get(n))]
        if not pending:
            return False
        unranked = {n for n in pending if self.types.get(n) is None}
        outputs = self._evaluate(node, 0, dummies=True)
        if outputs is None:
            self._keep_rank(node)
        else:
            for name, out in zip(node.output, outputs):
                if name in pending and out is not None:
                    try:
                        self.types[name] = RankedTensorType(
                            tuple(out.shape), from_numpy_dtype(out.dtype)
                        )
                    except ValueError:
                        pass
        return any(self.types.get(n) is not None for n in unranked)

    def _keep_rank(self, node: onnx.NodeProto) -> None:
        """A reduction with ``keepdims`` keeps its input's rank even when its axes are unknown."""
        if not node.op_type.startswith("Reduce") or not node.input or not node.output[0]:
            return
        keepdims = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        data = self.types.get(node.input[0])
        if (
            keepdims
            and isinstance(data, RankedTensorType)
            and self.types.get(node.output[0]) is None
        ):
            self.types[node.output[0]] = RankedTensorType((None,) * data.rank, data.element_type)

    def _evaluate(self, node: onnx.NodeProto, depth: int, dummies: bool) -> list | None:
        if node.domain not in ("", "ai.onnx"):
            return None
        shape_inputs = SHAPE_INPUTS.get(node.op_type, frozenset())
        inputs = []
        for i, name in enumerate(node.input):
            if not name:
                inputs.append(None)
                continue
            value = self.constant(name, depth + 1)
            if value is None and (
                node.op_type in _TYPE_ONLY or (dummies and i not in shape_inputs)
            ):
                value = self._stand_in(name)
            if value is None:
                return None
            inputs.append(value)
        try:
            kernel = kernel_for(node.op_type, self.opset)
            attrs = node_attributes(node, self.opset)
            return kernel(inputs, attrs, KernelContext(self.opset, len(node.output)))
        except (KernelError, AttributeSchemaError):
            return None

    def _stand_in(self, name: str) -> np.ndarray | None:
        t = self.types.get(name)
        if not _static(t):
            return None
        # Zero-stride: the right shape and type without allocating the data.
        return np.broadcast_to(np.zeros((), numpy_dtype(t.element_type)), t.shape)


def _static(t) -> bool:
    return isinstance(t, RankedTensorType) and t.is_static
