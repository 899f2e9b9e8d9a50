"""precision-report: print the precision report on stderr (and optionally write it as JSON)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..ir.builtin import ModuleOp
from ..pm import Pass, register_pass
from ..precision.report import build_report, format_report, record_report, report_json
from ..util.atomic import atomic_write_text


@register_pass
@dataclass(frozen=True)
class PrecisionReportPass(Pass):
    """Prints, per quantized crossbar layer, its format and planes, sparsity, weight error,
    output error and DAC/ADC error, input quantization and columns, then the weight split, the
    total crossbar columns and the model-level error against fp32 recorded by the precision
    passes (compiler/precision/report.py). Records the report on the module (``quant.report``, JSON text), so later levels,
    whose crossbar layers are jobs by then, can still write it. ``json=FILE`` also writes the
    report as JSON; ``quiet`` skips the table."""

    name = "precision-report"
    summary = "Print the per-layer precision report (stderr) and optionally write it as JSON"

    json: str = field(default="", metadata={"help": "write the report as JSON to this file"})
    quiet: bool = field(default=False, metadata={"help": "do not print the table"})

    def run(self, module: ModuleOp) -> bool:
        report = build_report(module)
        if not self.quiet:
            sys.stderr.write(format_report(report))
        text = report_json(report)
        if self.json:
            atomic_write_text(self.json, text)
        return record_report(module, text)
