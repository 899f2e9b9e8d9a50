"""``imcc --coverage``: which of a model's ops imcc supports, how often each occurs, where each
would run, and which nodes it cannot take (with their names and the opset)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

from ..dialects.onnx.attribute_values import attribute_value
from .loader import LoadedModel, Notes, normalize_opset
from .placement import NodeFacts, place
from .shapes import pin_input_shapes, real_inputs, slim_model
from .support import Unsupported, find_unsupported, node_name


@dataclass(frozen=True)
class OpCount:
    """One op type of the model: how many nodes, and how many per placement."""

    op_type: str
    count: int
    placements: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class CoverageReport:
    """The coverage of one model."""

    source: str
    opset: int
    ops: tuple[OpCount, ...]
    unsupported: tuple[Unsupported, ...]


def coverage(
    loaded: LoadedModel, input_shapes=None, notes: Notes = lambda m: None
) -> CoverageReport:
    """Survey ``loaded``'s nodes without importing them."""
    opset = normalize_opset(loaded, notes, lambda v: None)
    graph = loaded.model.graph
    problems = find_unsupported(graph, opset)
    bad = {p.node_name for p in problems}
    shapes = _best_effort_shapes(loaded, input_shapes)
    const = {t.name for t in graph.initializer}
    dims = {t.name: tuple(t.dims) for t in graph.initializer}
    placements: dict[str, Counter] = {}
    for index, node in enumerate(graph.node):
        inputs_const = tuple(not name or name in const for name in node.input)
        if node.op_type == "Constant" or (inputs_const and all(inputs_const)):
            const.update(n for n in node.output if n)
        if node_name(node, index) in bad:
            continue
        facts = NodeFacts(
            const_inputs=inputs_const,
            input_shapes=tuple(dims.get(n) or shapes.get(n) for n in node.input),
            attrs={
                a.name: attribute_value(a)
                for a in node.attribute
                if a.type == onnx.AttributeProto.INT
            },
        )
        placements.setdefault(node.op_type, Counter())[place(node.op_type, facts).value] += 1
    counts = Counter(n.op_type for n in graph.node)
    ops = tuple(
        OpCount(op, counts[op], tuple(sorted(placements.get(op, Counter()).items())))
        for op in sorted(counts)
    )
    return CoverageReport(loaded.source, opset, ops, tuple(problems))


def _best_effort_shapes(loaded: LoadedModel, input_shapes) -> dict[str, tuple]:
    """Value shapes from non-strict inference; empty where inference fails (it only refines the
    depthwise test for convolutions with computed weights)."""
    try:
        slim = slim_model(loaded.model)
        pin_input_shapes(
            slim.graph,
            input_shapes,
            lambda m: None,
            loaded.source,
            [v.name for v in real_inputs(loaded.model.graph)],
        )
        inferred = onnx.shape_inference.infer_shapes(slim)
    except Exception:  # a survey must not fail on what the import would report properly
        return {}
    out = {}
    for v in [*inferred.graph.value_info, *inferred.graph.input]:
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
            out[v.name] = tuple(
                d.dim_value if d.HasField("dim_value") else None
                for d in v.type.tensor_type.shape.dim
            )
    return out


def format_coverage(report: CoverageReport) -> str:
    """The report as text: a table of op types, then the unsupported nodes."""
    lines = [
        f"model: {report.source} (opset {report.opset})",
        "",
        f"{'op':<24}{'count':>6}  placement",
    ]
    for op in report.ops:
        where = ", ".join(f"{p}: {n}" for p, n in op.placements) or "UNSUPPORTED"
        lines.append(f"{op.op_type:<24}{op.count:>6}  {where}")
    total = sum(op.count for op in report.ops)
    lines.append(f"{'total':<24}{total:>6}")
    if report.unsupported:
        lines += ["", f"unsupported nodes ({len(report.unsupported)}):"]
        for u in report.unsupported:
            domain = f"{u.domain}." if u.domain else ""
            lines.append(
                f"  {domain}{u.op_type} node '{u.node_name}' (opset {u.opset}): {u.reason}"
            )
    else:
        lines += ["", "every op is supported"]
    return "\n".join(lines) + "\n"
