"""Transformers through the backend: torch-exported BERT encoders compile to prog.bin and run.

The binary's output equals the interpreter's on the quant and imc IR bit for bit; the fp32
program matches onnxruntime. On a target with a nonlinear unit (``bert-chip``) every softmax,
LayerNorm and GELU runs there (``nl.*``), on one without (``cluster``) on the cores
(``cl.call``). On ``bert-chip`` a quantized program splits attention per head: K and V are
written into the dynamic arrays (``xb.write``) and Q and the probabilities stream through them;
``fp32`` programs and the ``cluster`` target keep attention as one kernel on the cores.
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
        assert ops["nl.layernorm"] == 5 and ops["nl.gelu"] == 2, ops
        # the embeddings' two adds and each layer's two residual adds
        assert ops["nl.eltwise"] == 6, ops
        assert ops["cl.requant"] == ops["cl.dquant"] == 0, ops  # the periphery on the nl unit
        assert precision == "fp32" or ops["nl.requant"] > 0 and ops["nl.dquant"] > 0, ops
    else:
        assert ops["nl.layernorm"] == ops["nl.gelu"] == ops["nl.eltwise"] == 0, ops
    split = target == "bert-chip" and precision != "fp32"
    # 2 layers x (2 sentences x 4 heads) groups x (one K write + one V write)
    assert ops["xb.write"] == (32 if split else 0), ops
    assert ops["nl.softmax"] == (2 if split else 0), ops
    if split:  # the report's unit table gives the static and the dynamic arrays a row each
        text = result.report.to_text().splitlines()[:40]
        rows = [line.split()[0] for line in text if line.split()]
        assert "static" in rows and "attn" in rows, rows
    if precision != "fp32":
        assert ops["xb.mvm"] > 0, ops


def _compile(tmp_path, feeds, *flags):
    import subprocess
    import sys

    np.savez(tmp_path / "cal.npz", **feeds)
    shapes = [f"--input-shape={k}={'x'.join(map(str, v.shape))}" for k, v in feeds.items()]
    out = tmp_path / "p.bin"
    compiled = subprocess.run(
        [sys.executable, "-m", "imcc.compiler.tools.driver",
         str(FIXTURES / "tiny_bert_opset17.onnx"), "--precision", "int8", "--calibration",
         str(tmp_path / "cal.npz"), *shapes, *flags, "-o", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    if compiled.returncode:
        return compiled, ""
    dump = subprocess.run(
        [sys.executable, "-m", "imcc.runtime.tools.objdump", str(out)],
        capture_output=True,
        text=True,
    )
    assert dump.returncode == 0, dump.stderr
    return compiled, dump.stdout


def test_objdump_shows_the_dynamic_array_writes_of_every_attention_layer(tmp_path, feeds):
    import re

    compiled, dump = _compile(tmp_path, feeds, "--target", "bert-chip")
    assert compiled.returncode == 0, compiled.stderr
    writes = Counter(re.findall(r"xb\.write .*# imc\.write <(/layers\.\d+)/.* (QK|PV)>", dump))
    assert writes == {(f"/layers.{i}", role): 8 for i in (0, 1) for role in ("QK", "PV")}


def test_attention_placement_is_the_users_choice(tmp_path, feeds):
    compiled, dump = _compile(tmp_path, feeds, "--target", "bert-chip", "--attention", "cores")
    assert compiled.returncode == 0, compiled.stderr
    # one cores kernel per layer computes the whole attention
    assert "xb.write" not in dump and dump.count("cl.call ncores=8") > 0
    assert (
        sum(
            "imc.kernel </layers." in ln and "attention/Reshape_3>" in ln
            for ln in dump.splitlines()
        )
        == 2
    )
    refused, _ = _compile(tmp_path, feeds, "--target", "cluster", "--attention", "dynamic-arrays")
    errors = [line for line in refused.stderr.splitlines() if "error:" in line]
    assert refused.returncode == 1 and len(errors) == 1, refused.stderr
    assert (
        "target 'cluster' has no dynamic arrays" in errors[0] and "Traceback" not in refused.stderr
    )


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
    assert ops["nl.eltwise"] >= 12, ops  # at least the two residual adds of every layer
    split = precision != "fp32"
    # 6 layers x (2 sentences x 12 heads) x (one Q.K^T write + two P.V row tiles of 64 keys)
    assert ops["xb.write"] == (6 * 24 * 3 if split else 0), ops
    assert ops["nl.softmax"] == (6 if split else 0), ops


# Encoders of other shapes, built like a torch export (models/transformers/bert_graph.py) with
# seeded random weights: head counts 1-3, head sizes 16-96 (beyond the 64 rows of a dynamic
# array), sequences up to 130 (beyond its 128 columns), opsets 14-17, the batch axis symbolic and
# pinned with input shapes.
SHAPES = [
    # hidden, heads, seq, batch, opset, layernorm
    (48, 3, 20, 2, 14, "decomposed"),
    (64, 2, 130, 1, 17, "fused"),
    (96, 1, 8, 3, 16, "decomposed"),
]


@pytest.mark.parametrize("hidden,heads,seq,batch,opset,layernorm", SHAPES)
def test_bert_encoders_of_other_shapes_split_and_agree(hidden, heads, seq, batch, opset, layernorm):
    import sys

    sys.path.insert(0, str(REPO / "models" / "transformers"))
    sys.path.insert(0, str(REPO / "tests" / "models"))
    import bert_graph
    from test_transformer_models import random_bert_weights

    cfg = bert_graph.BertConfig(hidden, heads, 2 * hidden, 1, vocab=40, max_positions=seq)
    style = bert_graph.ExportStyle(seq, None, opset, layernorm)
    model = bert_graph.build_sentence_encoder(cfg, style, random_bert_weights(cfg, seq), "enc")
    rng = np.random.default_rng(seq)
    mask = (np.arange(seq)[None] < rng.integers(seq // 2, seq + 1, (batch, 1))).astype(np.int64)
    feeds = {
        "input_ids": rng.integers(1, cfg.vocab, (batch, seq)) * mask,
        "attention_mask": mask,
        "token_type_ids": np.zeros((batch, seq), np.int64),
    }
    quant, imc, binary, result = run_levels(model, feeds, "int8", "bert-chip", calibration=feeds)
    assert_same_bits(quant, imc, "quant vs imc")
    assert_same_bits(imc, binary, "imc vs prog.bin")
    d = hidden // heads
    groups = batch * heads
    # Q.K^T: ceil(d/64) row tiles x ceil(seq/128) column tiles; P.V: ceil(seq/64) x ceil(d/128)
    writes = groups * (-(-d // 64) * -(-seq // 128) + -(-seq // 64) * -(-d // 128))
    assert _mnemonics(result)["xb.write"] == writes
    # the report: the Q·Kᵀ and P·V rows of the one layer, each with its heads adding up to it
    rows = [lay for lay in result.report.to_dict()["layers"] if "heads" in lay]
    assert [lay["name"][-2:] for lay in rows] == ["QK", "PV"]
    for lay in rows:
        assert [h["head"] for h in lay["heads"]] == list(range(heads))
        assert sum(h["instructions"] for h in lay["heads"]) == lay["instructions"]
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[1]
    got = binary[1]
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() > 0.999, cos


def test_the_run_report_has_a_row_per_attention_head(tmp_path, feeds):
    """bert-chip splits each attention layer's products per head: the debug table names the head
    of every dynamic-array write and MVM, and the report lists each head under its layer row,
    adding up to that row."""
    import json
    import struct

    from imcc.runtime.isa.program import Program
    from imcc.runtime.sim.runner import run_program

    compiled, _ = _compile(tmp_path, feeds, "--target", "bert-chip")
    assert compiled.returncode == 0, compiled.stderr
    raw = (tmp_path / "p.bin").read_bytes()
    compiled, _ = _compile(tmp_path, feeds, "--target", "bert-chip")
    assert compiled.returncode == 0 and (tmp_path / "p.bin").read_bytes() == raw  # deterministic
    assert struct.unpack_from("<HH", raw, 4) == (2, 1)  # format 2.1: debug entries with heads
    program = Program.from_bytes(raw)
    names = json.loads(program.meta["inputs"])
    result = run_program(program, {table: feeds[model] for table, model in names.items()})
    layers = {lay["name"]: lay for lay in result.report.to_dict()["layers"]}

    heads, batch = 4, 2  # the tiny BERT: 4 heads, 2 sentences
    split = {f"/layers.{i}/attention/Reshape_3 {role}" for i in (0, 1) for role in ("QK", "PV")}
    assert {name for name, lay in layers.items() if "heads" in lay} == split
    by_head = Counter()
    for i, info in program.debug.items():
        if info.head is not None:
            assert program.instrs[i].mnemonic in ("xb.write", "xb.mvm") and info.onnx_node in split
            by_head[info.onnx_node, info.head] += 1
    for name in split:
        lay, rows = layers[name], layers[name]["heads"]
        assert [h["head"] for h in rows] == list(range(heads))
        # one K (or V) write and one MVM per sentence and head, each counted in its head
        assert [h["instructions"] for h in rows] == [by_head[name, h] for h in range(heads)]
        assert [h["instructions"] for h in rows] == [2 * batch] * heads
        # every instruction of these rows is per head: the heads add up to the row
        for key in ("instructions", "macs"):
            assert sum(h[key] for h in rows) == lay[key], key
        assert set(lay["busy_cycles"]) == {"array"}
        assert sum(h["busy_cycles"]["array"] for h in rows) == lay["busy_cycles"]["array"]
        assert sum(h["energy_pj"] for h in rows) == pytest.approx(lay["energy_pj"], rel=1e-12)
        assert min(h["start"] for h in rows) == lay["start"]
        assert max(h["end"] for h in rows) == lay["end"]
        assert all(h["span_cycles"] == h["end"] - h["start"] > 0 for h in rows)
    # the head of a write is the head whose K or V it writes: [batch, head, ...] operands, so
    # the writes in source order go head 0..3 of sentence 0, then of sentence 1
    for name in split:
        writes = [
            (program.instrs[i].fields["src_addr"], info.head)
            for i, info in program.debug.items()
            if info.onnx_node == name and program.instrs[i].mnemonic == "xb.write"
        ]
        assert [head for _, head in sorted(writes)] == list(range(heads)) * batch
    # the softmax over every head's scores serves all heads: the attention op's own row
    attention = layers["/layers.0/attention/Reshape_3"]
    assert "heads" not in attention and attention["busy_cycles"].get("nl", 0) > 0
    text = result.report.to_text()
    assert "attention heads: 4 layers run per head (4 heads each)" in text
    for name in split:
        assert f"  {name} (4 heads)" in text
