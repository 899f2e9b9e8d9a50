"""Which nodes of a model the importer can take, and why not the others."""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from imcc.runtime.kernels.onnx import UnsupportedOp, kernel_for

from ..dialects.onnx import ONNX_OPS, signature

#: Control-flow ops carry subgraphs, which the onnx dialect does not model.
CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})

_SUBGRAPH_ATTRS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


@dataclass(frozen=True)
class Unsupported:
    """One node imcc cannot import."""

    op_type: str
    node_name: str
    domain: str
    opset: int
    reason: str


def node_name(node: onnx.NodeProto, index: int) -> str:
    """The name a node goes by in the IR and in messages: its own or ``OpType_index``."""
    return node.name or f"{node.op_type}_{index}"


def unsupported_reason(node: onnx.NodeProto, opset: int) -> str | None:
    """Why ``node`` cannot be imported at ``opset``, or None if it can."""
    if node.domain not in ("", "ai.onnx"):
        return f"custom domain '{node.domain}' is not supported (only the default ONNX domain is)"
    if node.op_type in CONTROL_FLOW:
        return "control flow with subgraphs (If/Loop/Scan) is not supported"
    if any(a.type in _SUBGRAPH_ATTRS for a in node.attribute):
        return "subgraph attributes are not supported"
    if node.op_type not in ONNX_OPS:
        return "the onnx dialect has no such op"
    if signature(node.op_type, opset) is None:
        return f"the op does not exist at opset {opset}"
    try:
        kernel_for(node.op_type, opset)
    except UnsupportedOp as exc:
        return str(exc)
    return None


def find_unsupported(graph: onnx.GraphProto, opset: int) -> list[Unsupported]:
    """Every node of ``graph`` that cannot be imported, in graph order."""
    found = []
    for index, node in enumerate(graph.node):
        reason = unsupported_reason(node, opset)
        if reason is not None:
            found.append(
                Unsupported(node.op_type, node_name(node, index), node.domain, opset, reason)
            )
    return found
