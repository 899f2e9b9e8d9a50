"""The driver's precision flags: ``--precision``, ``--accuracy-budget``, ``--calibration``,
``--precision-report``, ``--attention``. The driver adds them with :func:`add_precision_flags`, asks
:func:`level_overrides` for the quant level's steps and calls :func:`prepare` before running the
pipeline and :func:`finish` after it."""

from __future__ import annotations

import argparse

from ..ir.builtin import ModuleOp
from ..precision.pipeline import (
    ATTENTION_PLACEMENTS,
    DEFAULT_PRECISION,
    PRECISIONS,
    precision_steps,
)
from ..util.atomic import atomic_write_text


def add_precision_flags(p: argparse.ArgumentParser) -> None:
    """Add the precision flag group to a parser."""
    g = p.add_argument_group("precision (the quant level)")
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help=f"fp32 (ideal analog, no quantization), int8, ternary (one data-aware "
        f"plane) or auto (per-layer planes/int8 within --accuracy-budget); "
        f"default {DEFAULT_PRECISION}",
    )
    g.add_argument(
        "--accuracy-budget",
        type=float,
        default=None,
        metavar="X",
        help="allowed model error for --precision auto: accuracy drop with labels in "
        "the calibration data, else relative output error (default 0.01)",
    )
    g.add_argument(
        "--calibration",
        metavar="FILE.npz",
        default=None,
        help="calibration inputs (one array per model input, samples first; an extra "
        "'labels' array enables accuracy budgets); default: seeded synthetic data",
    )
    g.add_argument("--precision-report", metavar="FILE.json", default=None,
                   help="also write the precision report as JSON")  # fmt: skip
    g.add_argument(
        "--attention",
        choices=ATTENTION_PLACEMENTS,
        default=None,
        help="where attention's Q·Kᵀ and P·V run in a quantized program: dynamic-arrays "
        "(K and V written into the target's dynamic arrays), cores (one float32 kernel), or "
        "auto (dynamic arrays when the target has them; default)",
    )


def wants_quant(args) -> bool:
    """Whether any precision flag was given (they ask for the quant level)."""
    return any(
        getattr(args, k, None) is not None
        for k in ("precision", "accuracy_budget", "calibration", "precision_report", "attention")
    )


def level_overrides(args) -> dict[str, tuple[str, ...]]:
    """Steps replacing the quant level's for the flags given (ValueError on bad combinations)."""
    if not wants_quant(args):
        return {}
    precision = args.precision or (
        "auto" if args.accuracy_budget is not None else DEFAULT_PRECISION
    )
    attention = args.attention or "auto"
    return {"quant": precision_steps(precision, args.accuracy_budget, attention=attention)}


def prepare(args, module: ModuleOp) -> None:
    """Attach the calibration file to the module before the pipeline runs."""
    if getattr(args, "calibration", None):
        from ..precision.calibration import attach_calibration

        attach_calibration(module, args.calibration)


def finish(args, module: ModuleOp) -> None:
    """Write the JSON report if asked for (the one the precision-report pass recorded, else one
    built from the module)."""
    if getattr(args, "precision_report", None):
        from ..precision.report import recorded_report

        atomic_write_text(args.precision_report, recorded_report(module))
