"""Shared helpers of the pass tests: import ONNX, run pipelines, compare numerics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from imcc.compiler import passes  # noqa: F401  (registers the passes)
from imcc.compiler.frontend.importer import import_model
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir.builtin import ModuleOp
from imcc.compiler.pm import PassManager, parse_pipeline

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "models" / "fixtures"
DIGITS = REPO / "models" / "digits"
TRANSFORMERS = REPO / "models" / "transformers"

#: The graph-level canonicalization the tests exercise, in the proposed order.
GRAPH_PIPELINE = (
    "canonicalize,fold-onnx-constants,fold-batchnorm,fuse-linear,fuse-layernorm,fuse-gelu,"
    "fuse-attention,canonicalize"
)
REL_TOL = 1e-5


def load(model, shapes=None) -> ModuleOp:
    """Import an ONNX model (path, bytes or ModelProto) quietly."""
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    return import_model(str(model) if isinstance(model, Path) else model, shapes, notes=None)


def run_passes(module: ModuleOp, pipeline: str = GRAPH_PIPELINE) -> ModuleOp:
    """Run a pipeline (verifying after every pass) and return the module."""
    PassManager(parse_pipeline(pipeline)).run(module)
    return module


def op_counts(module: ModuleOp) -> Counter:
    return Counter(op.name for op in module.walk())


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max() / scale)


def run_ort(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, inputs)


def check_fused_model(model, inputs, shapes=None, pipeline=GRAPH_PIPELINE, tol=REL_TOL) -> ModuleOp:
    """Import ``model`` twice, canonicalize one copy, and check that the interpreter gives the
    same outputs on both and that they match onnxruntime; return the canonicalized module."""
    plain = load(model, shapes)
    fused = run_passes(load(model, shapes), pipeline)
    before = run_module(plain, inputs).as_list()
    after = run_module(fused, inputs).as_list()
    reference = run_ort(model, inputs)
    for b, a, r in zip(before, after, reference, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert rel_err(a, b) <= tol, f"canonicalized vs original: {rel_err(a, b):.2e}"
        assert rel_err(a, r) <= tol, f"canonicalized vs onnxruntime: {rel_err(a, r):.2e}"
    return fused
