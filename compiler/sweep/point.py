"""One sweep point: compile the model for the point's target, run it on the simulated chip,
measure. This is what a worker runs; it never raises: a failure is a row with its error.

Accuracy: with ``labels`` in the inputs file, the top-1 accuracy of the first output; otherwise the
cosine similarity of the first output to onnxruntime's fp32 output on the same inputs. Without an
inputs file the model runs on one seeded random sample (the cosine metric).
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np

from .spec import Point

#: Columns whose values are wall-clock times: they differ between runs, the rest must not.
TIMING_COLUMNS = ("compile_s", "run_s")
METRIC_COLUMNS = (
    "metric",
    "accuracy",
    "reference",
    "cycles",
    "latency_s",
    "energy_uj",
    "area_mm2",
    "arrays_needed",
    "arrays_used",
    "fits_one_chip",
    "instructions",
)


def evaluate(point: Point, base: str) -> dict:
    """The result row of ``point`` (paths relative to the folder ``base``)."""
    row = identity(point)
    times = {}
    chatter = io.StringIO()  # the compiler's reports and warnings: kept with the row, not printed
    try:
        with contextlib.redirect_stderr(chatter):
            row.update(_measure(point, Path(base), times))
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # any failure is recorded with the point, never lost
        row.update(dict.fromkeys(METRIC_COLUMNS))
        row["status"], row["error"] = "failed", _one_line(exc)
    warnings = [ln for ln in chatter.getvalue().splitlines() if "warning:" in ln]
    row["warnings"] = " | ".join(dict.fromkeys(warnings))
    row.update({k: times.get(k) for k in TIMING_COLUMNS})
    return row


def identity(point: Point) -> dict:
    """The columns that say which point a row is."""
    row = {
        "point": point.index,
        "id": point.id,
        "model": point.model.name,
        "target": point.target,
        "precision": point.precision,
    }
    row.update({f"set.{k}": v for k, v in point.params})
    return row


def _measure(point: Point, base: Path, times: dict) -> dict:
    import onnxruntime as ort

    import imcc

    model_path = base / point.model.path
    inputs, labels = _inputs(point, base, model_path)
    target = point.target if not point.target.endswith(".toml") else str(base / point.target)
    options = dict(
        target=target,
        target_overrides={k: str(v) for k, v in point.params} or None,
        precision=point.precision,
        input_shapes={k: v.shape for k, v in inputs.items()},
        notes=lambda message: None,
    )
    if point.precision != "fp32" and point.attention != "auto":
        options["attention"] = point.attention
    if point.model.calibration:
        options["calibration"] = str(base / point.model.calibration)
    start = time.perf_counter()
    program = imcc.compile(str(model_path), **options)
    times["compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = program.run(inputs)
    times["run_s"] = time.perf_counter() - start
    y = np.asarray(next(iter(result.outputs.values())), np.float64)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    y_ref = np.asarray(session.run(None, inputs)[0], np.float64)
    if labels is not None:
        metric = "accuracy"
        accuracy = float((y.argmax(axis=1) == labels).mean())
        reference = float((y_ref.argmax(axis=1) == labels).mean())
    else:
        metric, accuracy, reference = "cosine", _cosine(y, y_ref), 1.0
    report = result.report.to_dict()
    mapping = report.get("compiled", {}).get("mapping", {})
    inference = report["inference"]
    return {
        "metric": metric,
        "accuracy": accuracy,
        "reference": reference,
        "cycles": int(inference["cycles"]),
        "latency_s": float(inference["seconds"]),
        "energy_uj": float(inference["energy_pj"]) * 1e-6,
        "area_mm2": float(report["total"]["area_mm2"]),
        "arrays_needed": mapping.get("arrays_needed"),
        "arrays_used": mapping.get("arrays_used"),
        "fits_one_chip": None if not mapping else bool(mapping.get("epochs", 1) == 1),
        "instructions": len(program.program.instrs),
    }


def _inputs(point: Point, base: Path, model_path: Path):
    """(arrays by input name, labels or None) for the point's model."""
    from imcc.runtime.inputs import read_array_file

    if point.model.inputs:
        arrays = read_array_file(str(base / point.model.inputs))
        if None in arrays:
            raise ValueError(f"{point.model.inputs}: give the inputs as an .npz, by input name")
        labels = arrays.pop("labels", None)
        return arrays, None if labels is None else np.asarray(labels).reshape(-1)
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    rng = np.random.default_rng(0)
    inits = {i.name for i in model.graph.initializer}
    out = {}
    for value in model.graph.input:
        if value.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in value.type.tensor_type.shape.dim]
        out[value.name] = rng.standard_normal(dims).astype(np.float32)
    return out, None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1), b.reshape(-1)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom else float(np.array_equal(a, b))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
