"""Every bundled model, imported and interpreted, against onnxruntime (1e-4 relative).

Each model runs twice in the interpreter: as imported (no passes) and at the ``onnx`` level
(canonicalized: folded, deduplicated), so folding is checked on real graphs too. The error measure is
the largest absolute difference over the largest reference magnitude, per output.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnxruntime as ort
import pytest
from imcc.compiler.frontend.importer import import_model
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.ir import print_ir, verify
from imcc.compiler.pipelines import pipeline_to
from imcc.compiler.pm import PassManager, parse_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REL_TOL = 1e-4


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max() / scale)


def _generated(name):
    """Small models built by the repository's generators (seeded), as ModelProtos."""
    from models.cnn import mobilenetv2, zoo

    return {
        "oldnet": zoo.build_oldnet,
        "mbv2_bottleneck": lambda: mobilenetv2.build_bottleneck("b6"),
    }[name]()


def _random_inputs(session, batch_shapes, rng):
    feeds = {}
    for info in session.get_inputs():
        shape = batch_shapes.get(info.name) or [d if isinstance(d, int) else 1 for d in info.shape]
        if info.type == "tensor(float)":
            feeds[info.name] = rng.standard_normal(shape).astype(np.float32)
        elif info.type == "tensor(int64)":
            feeds[info.name] = rng.integers(0, 2, size=shape).astype(np.int64)
        else:
            raise AssertionError(f"no generator for input type {info.type}")
    return feeds


def _transformer_feeds(session, seq, rng):
    names = [i.name for i in session.get_inputs()]
    ids = rng.integers(1, 90, size=(1, seq)).astype(np.int64)
    mask = np.ones((1, seq), np.int64)
    mask[0, seq - 3 :] = 0  # padding exercises the attention mask
    values = {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": np.zeros((1, seq), np.int64),
    }
    return {n: values[n] for n in names}


def _cases():
    cases = [
        pytest.param(p, id=os.path.relpath(p, REPO))
        for p in sorted(glob.glob(os.path.join(REPO, "models", "digits", "*.onnx")))
    ]
    cases += [
        pytest.param(p, id=os.path.relpath(p, REPO))
        for p in sorted(glob.glob(os.path.join(REPO, "models", "fixtures", "*.onnx")))
    ]
    cases += [pytest.param(name, id=f"generated:{name}") for name in ("oldnet", "mbv2_bottleneck")]
    return cases


def _check(model, feeds):
    source = model if isinstance(model, str) else model.SerializeToString()
    reference = ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feeds)
    shapes = {name: value.shape for name, value in feeds.items()}
    module = import_model(model, input_shapes=shapes, notes=None)
    verify(module)
    raw = run_module(module, feeds).as_list()
    PassManager(parse_pipeline(pipeline_to("onnx"))).run(module)
    canonical = run_module(module, feeds).as_list()
    for ref, got_raw, got in zip(reference, raw, canonical):
        assert got.shape == ref.shape and got.dtype == ref.dtype
        assert rel_err(got_raw, ref) < REL_TOL
        assert rel_err(got, ref) < REL_TOL
    return module


@pytest.mark.parametrize("model", _cases())
def test_model_matches_onnxruntime(model):
    rng = np.random.default_rng(0)
    proto = _generated(model) if not model.endswith(".onnx") else None
    source = proto if proto is not None else model
    session = ort.InferenceSession(
        source if isinstance(source, str) else source.SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    if "tiny_bert" in str(model):
        fixture = np.load(os.path.join(REPO, "models", "fixtures", "tiny_bert_inputs.npz"))
        feeds = {name: fixture[name] for name in fixture.files}  # batch 2, real padding
    else:
        feeds = _random_inputs(session, {}, rng)
        if "digits" in str(model):
            feeds = {k: np.abs(v[:1].repeat(3, axis=0)) for k, v in feeds.items()}  # batch 3
    _check(source, feeds)


def test_tiny_bert_with_a_symbolic_sequence_length():
    """Only the batch is pinned (to 1): shape arithmetic stays in the IR and runs for any length."""
    path = os.path.join(REPO, "models", "fixtures", "tiny_bert_opset17.onnx")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    module = import_model(path, notes=None)
    PassManager(parse_pipeline(pipeline_to("onnx"))).run(module)
    assert "tensor<1x?xi64>" in print_ir(module, elide_resources=True)
    rng = np.random.default_rng(1)
    for seq in (5, 9):
        feeds = _transformer_feeds(session, seq, rng)
        reference = session.run(None, feeds)
        for ref, got in zip(reference, run_module(module, feeds).as_list()):
            assert rel_err(got, ref) < REL_TOL


BUILT = sorted(glob.glob(os.path.join(REPO, "models", "build", "*.onnx")))


@pytest.mark.skipif(
    not os.environ.get("IMCC_TEST_BUILT_MODELS"),
    reason="large generated models; set IMCC_TEST_BUILT_MODELS=1 to check models/build/*.onnx",
)
@pytest.mark.parametrize(
    "path", BUILT or [None], ids=lambda p: os.path.basename(p) if p else "none"
)
def test_built_models_match_onnxruntime(path):
    """Large models other generators write to models/build (not committed; seconds each)."""
    if path is None:
        pytest.skip("no models in models/build (run the generators in models/)")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    if {i.name for i in session.get_inputs()} >= {"input_ids"}:
        feeds = _transformer_feeds(session, session.get_inputs()[0].shape[1], rng)
    else:
        feeds = _random_inputs(session, {}, rng)
    _check(path, feeds)
