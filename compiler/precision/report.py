"""The precision report: what every crossbar layer became and what it cost, read from the IR.

The one home of the report: the ``precision-report`` pass (compiler/passes/precision_report.py)
prints and records it, the driver's ``--precision-report FILE`` writes it
(compiler/tools/precision_flags.py), and benchmarks use its table printer.

Per layer: format and planes (or the option ``precision-auto`` chose), sparsity (fraction of
zero cells), weight error ‖W − Ŵ‖/‖W‖, output error (its weights alone), act error (its DAC/ADC
alone), input quantization and crossbar columns. Model level: the error against fp32 on the
calibration set (``quant.*`` module attributes written by the passes), total columns and how the
weights split between 1-plane ternary, multi-plane ternary, int8 and float (static weights left
to the digital units, e.g. depthwise convolutions).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from ..dialects import nn
from ..dialects import onnx as onnx_dialect
from ..dialects.quant import ConvOp, CrossbarLayerOp
from ..ir.attributes import StringAttr
from ..ir.builtin import ModuleOp
from ..ir.diagnostics import NameLoc
from ..ir.rewriter import constant_value
from .layers import main_block
from .numerics.crossbar import crossbar_columns
from .numerics.metrics import relative_error
from .numerics.ternary import Ternary, as_matrix

#: The module attribute holding the last report (JSON text), so later levels, whose crossbar
#: layers are jobs by then, can still write it.
REPORT_ATTR = "quant.report"

#: Ops whose constant second operand is a static weight (counted when left float).
_WEIGHT_OPS = (nn.LinearOp, onnx_dialect.ConvOp, onnx_dialect.GemmOp, onnx_dialect.MatMulOp)


def layer_columns(op: CrossbarLayerOp) -> int:
    """Columns the layer occupies: per plane and channel one column (two for TTQ scales; an int8
    weight is two 4-bit planes), per row tile of ``array_rows`` inputs."""
    p, o, k = op.attributes["weights"].type.shape
    per_plane = 2 if "scale_neg" in op.attributes else 1
    return crossbar_columns(o, k, p, op.get_attr("array_rows"), per_plane)


def _input_kind(op: CrossbarLayerOp) -> str:
    if not op.integer_input:
        return "float"
    t = op.operands[0].type.element_type
    if len(op.operands) > 1 and op.operand("x_scale") is not None:
        return f"dynamic {t}"
    return f"static {t}"


def _name(op, index: int) -> str:
    return op.location.name if isinstance(op.location, NameLoc) else f"{op.name}#{index}"


def _num(op, key: str):
    v = op.get_attr(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def layer_entry(op: CrossbarLayerOp, index: int) -> dict:
    """The report row of one quantized layer."""
    cells = op.attributes["weights"].array
    p, o, k = cells.shape
    fmt = op.get_attr("format")
    label = "int8" if fmt == "int4" else f"t{p}" + ("a" if "scale_neg" in op.attributes else "")
    return {
        "name": _name(op, index),
        "kind": "conv" if isinstance(op, ConvOp) else "linear",
        "shape": [o, k],
        "format": fmt,
        "planes": p,
        "choice": op.get_attr("quant.choice") or label,
        "sparsity": float((cells == 0).mean()),
        "weight_error": _num(op, "quant.weight_error"),
        "output_error": _num(op, "quant.output_error"),
        "act_error": _num(op, "quant.act_error"),
        "input": _input_kind(op),
        "adc_bits": int(op.get_attr("adc_bits", 0)),
        "columns": layer_columns(op),
        "weights": o * k,
    }


def float_weight_ops(module: ModuleOp) -> list[dict]:
    """Static-weight ops left in float (not on crossbars)."""
    out = []
    for i, op in enumerate(main_block(module).ops):
        if not isinstance(op, _WEIGHT_OPS) or len(op.operands) < 2:
            continue
        w = constant_value(op.operands[1])
        if w is None:
            continue
        group = op.get_attr("group", 1)
        out.append(
            {"name": _name(op, i), "op": op.name, "weights": int(w.array.size), "group": group}
        )
    return out


def build_report(module: ModuleOp) -> dict:
    """The whole report as JSON-ready data."""
    layers = [
        layer_entry(op, i)
        for i, op in enumerate(main_block(module).ops)
        if isinstance(op, CrossbarLayerOp)
    ]
    floats = float_weight_ops(module)
    split = {"ternary_1plane": 0, "ternary_multiplane": 0, "int8": 0, "float": 0}
    for ly in layers:
        key = (
            "int8"
            if ly["format"] == "int4"
            else ("ternary_1plane" if ly["planes"] == 1 else "ternary_multiplane")
        )
        split[key] += ly["weights"]
    split["float"] = sum(f["weights"] for f in floats)
    total = sum(split.values())
    attrs = module.attributes
    model = {
        k[len("quant.") :]: v.value for k, v in sorted(attrs.items()) if k.startswith("quant.")
    }
    return {
        "layers": layers,
        "float_layers": floats,
        "total_columns": sum(ly["columns"] for ly in layers),
        "weights": {**split, "total": total},
        "ternary_fraction": (split["ternary_1plane"] + split["ternary_multiplane"]) / total
        if total
        else 0.0,
        "one_plane_fraction": split["ternary_1plane"] / total if total else 0.0,
        "model": model,
    }


def _cell(v):
    if v is None:
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else v


def format_report(report: dict) -> str:
    """The report as Markdown tables (what ``precision-report`` prints on stderr)."""
    head = [
        "layer",
        "shape",
        "choice",
        "sparsity",
        "w.err",
        "out.err",
        "act.err",
        "input",
        "columns",
    ]
    rows = [
        [ly["name"], "x".join(map(str, ly["shape"])), ly["choice"], _cell(ly["sparsity"]),
         _cell(ly["weight_error"]), _cell(ly["output_error"]), _cell(ly["act_error"]),
         ly["input"], ly["columns"]]
        for ly in report["layers"]
    ]  # fmt: skip
    lines = ["precision report", format_table(head, rows) if rows else "(no quantized layer)"]
    w = report["weights"]
    if w["total"]:
        lines.append(
            f"weights: {w['total']} = 1-plane ternary {100 * w['ternary_1plane'] / w['total']:.1f} %, "
            f"multi-plane ternary {100 * w['ternary_multiplane'] / w['total']:.1f} %, "
            f"int8 {100 * w['int8'] / w['total']:.1f} %, float {100 * w['float'] / w['total']:.1f} %"
        )
    lines.append(f"crossbar columns: {report['total_columns']}")
    m = report["model"]
    if "model_error" in m:
        extra = ""
        if "accuracy" in m:
            extra = (
                f", accuracy {100 * m['accuracy']:.2f} % (fp32 {100 * m['accuracy_fp32']:.2f} %)"
            )
        budget = ""
        if "budget" in m:
            budget = f"; budget {m['budget']:.4g} {'met' if m.get('budget_met') else 'NOT met'}"
        lines.append(
            f"model vs fp32 on calibration ({m.get('calibration', '?')}): {m['metric']} error "
            f"{m['model_error']:.4g}, relative {m['relative_error']:.4g}, "
            f"cosine {m['cosine']:.5f}{extra}{budget}"
        )
    else:
        lines.append("model vs fp32: not measured (no float reference for this module)")
    return "\n".join(lines) + "\n"


def report_json(report: dict) -> str:
    """Stable JSON text of the report (sorted keys, NaN-free)."""
    return json.dumps(_clean(report), indent=2, sort_keys=True) + "\n"


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def record_report(module: ModuleOp, text: str) -> bool:
    """Record the report's JSON text on the module; returns whether it differed."""
    changed = module.get_attr(REPORT_ATTR) != text
    module.attributes[REPORT_ATTR] = StringAttr(text)
    return changed


def recorded_report(module: ModuleOp) -> str:
    """The JSON text of the report the ``precision-report`` pass recorded, else one built from
    the module."""
    return module.get_attr(REPORT_ATTR) or report_json(build_report(module))


# --- one ternarized weight, for benchmarks and tables outside the IR ----------------------------


@dataclass(frozen=True)
class LayerReport:
    """Summary of one ternarized layer."""

    name: str
    shape: tuple[int, int]
    planes: int
    relative_error: float
    sparsity: float
    exact_channels: int
    columns: int


def layer_report(name: str, weight, tern: Ternary, array_rows: int = 256) -> LayerReport:
    """Weight error, mean sparsity over planes, exact channels and columns of a ternarized layer."""
    w = as_matrix(weight)
    o, n = w.shape
    per_plane = 1 if tern.symmetric else 2
    return LayerReport(
        name,
        (o, n),
        tern.planes,
        relative_error(w, tern.dequantize()),
        float(tern.sparsity().mean()),
        int(tern.exact.sum()),
        crossbar_columns(o, n, tern.planes, array_rows, per_plane),
    )


def format_table(headers, rows) -> str:
    """A Markdown table; floats print with 4 significant digits."""

    def cell(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
