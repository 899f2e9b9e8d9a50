"""Transformers through the backend: torch-exported BERT encoders compile to prog.bin and run.

The binary's output equals the interpreter's on the quant and imc IR bit for bit; the fp32
program matches onnxruntime. On a target with a nonlinear unit (``bert-chip``) every LayerNorm
and GELU runs there (``nl.*``), on one without (``cluster``) on the cores (``cl.call``).
Attention itself runs on the cores as one library kernel per layer (``attention-split``, which
puts the dynamic products on the dynamic arrays, is not built yet).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from _diff import assert_same_bits, run_levels

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "models" / "fixtures"
BUILT = os.environ.get("IMCC_TEST_BUILT_MODELS") == "1"


def _mnemonics(result) -> Counter:
    return Counter(record.mnemonic for record in result.records)


@pytest.fixture(scope="module")
def feeds():
    return dict(np.load(FIXTURES / "tiny_bert_inputs.npz", allow_pickle=False))


@pytest.mark.parametrize("opset", [14, 17])
@pytest.mark.parametrize(
    "target,precision", [("bert-chip", "fp32"), ("bert-chip", "int8"), ("cluster", "int8")]
)
def test_tiny_bert_agrees_at_every_level(opset, target, precision, feeds):
    path = FIXTURES / f"tiny_bert_opset{opset}.onnx"
    kw = {} if precision == "fp32" else {"calibration": feeds}
    quant, imc, binary, result = run_levels(str(path), feeds, precision, target, **kw)
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    if precision == "fp32":
        want = ort.InferenceSession(str(path)).run(None, feeds)
        for got, ref in zip(binary, want):
            assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    ops = _mnemonics(result)
    if target == "bert-chip":
        assert ops["nl.layernorm"] >= 2 and ops["nl.gelu"] >= 1, ops
    else:
        assert ops["nl.layernorm"] == 0 and ops["nl.gelu"] == 0, ops
    if precision != "fp32":
        assert ops["xb.mvm"] > 0, ops


@pytest.mark.skipif(not BUILT, reason="set IMCC_TEST_BUILT_MODELS=1 (make test) for models/build")
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_minilm_runs_on_the_bert_chip(precision):
    path = REPO / "models" / "build" / "minilm-l6.onnx"
    sentences = np.load(REPO / "models" / "build" / "sentences-s128.npz")
    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = {k: sentences[k][:2] for k in names}
    kw = {} if precision == "fp32" else {"calibration": {k: sentences[k][2:10] for k in names}}
    quant, imc, binary, result = run_levels(str(path), inputs, precision, "bert-chip", **kw)
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    if precision == "fp32":
        want = ort.InferenceSession(str(path)).run(None, inputs)
        for got, ref in zip(binary, want):
            assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    ops = _mnemonics(result)
    assert ops["nl.layernorm"] == 13 and ops["nl.gelu"] == 6, ops
