"""Transformer model scripts: the built graphs are valid ONNX and compute what BERT computes.

The reference forward pass here is written independently of the graph builder, in float64 numpy,
straight from HuggingFace-named weights. Nothing here needs torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "models" / "transformers"
FIXTURES = REPO / "models" / "fixtures"
sys.path.insert(0, str(SCRIPTS))

import bert_graph  # noqa: E402
import build_bert_large_layer  # noqa: E402
import build_minilm  # noqa: E402
import tokenize_sentences  # noqa: E402
from transformer_io import ModelScriptError, minilm_model_dir, npz_bytes  # noqa: E402

erf = pytest.importorskip("scipy.special", reason="the numpy reference needs scipy.special.erf").erf

SEQ = 20  # the committed sentences need at most 16 tokens
REL_TOL = 1e-4
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    return float(np.abs(got.astype(np.float64) - ref).max() / np.abs(ref).max())


def run_onnx(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run a model (path or ModelProto) on CPU with onnxruntime."""
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def histogram(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


# ---------------------------------------------------------------- independent numpy reference


def ref_layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def ref_encoder_layer(x, attended, w, prefix, heads, eps):
    """Post-LN BERT layer; `attended` is a bool [b, s] key mask (masked keys get -inf scores)."""
    w64 = {
        k[len(prefix) + 1 :]: v.astype(np.float64)
        for k, v in w.items()
        if k.startswith(prefix + ".")
    }

    def dense(t, name):
        return t @ w64[f"{name}.weight"].T + w64[f"{name}.bias"]

    b, s, h = x.shape
    d = h // heads

    def split(t):
        return t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)

    q = split(dense(x, "attention.self.query"))
    k = split(dense(x, "attention.self.key"))
    v = split(dense(x, "attention.self.value"))
    scores = np.where(attended[:, None, None, :], q @ k.transpose(0, 1, 3, 2) / np.sqrt(d), -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, h)
    a = ref_layer_norm(
        dense(context, "attention.output.dense") + x,
        w64["attention.output.LayerNorm.weight"],
        w64["attention.output.LayerNorm.bias"],
        eps,
    )
    inner = dense(a, "intermediate.dense")
    inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))
    out = dense(inner, "output.dense") + a
    return ref_layer_norm(out, w64["output.LayerNorm.weight"], w64["output.LayerNorm.bias"], eps)


def ref_sentence_encoder(w, layers, heads, eps, input_ids, attention_mask, token_type_ids):
    """Token embeddings and mean-pooled L2-normalised sentence embeddings, in float64."""
    seq = input_ids.shape[1]
    x = (
        w["embeddings.word_embeddings.weight"].astype(np.float64)[input_ids]
        + w["embeddings.token_type_embeddings.weight"].astype(np.float64)[token_type_ids]
        + w["embeddings.position_embeddings.weight"].astype(np.float64)[:seq][None]
    )
    x = ref_layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    attended = attention_mask.astype(bool)
    for index in range(layers):
        x = ref_encoder_layer(x, attended, w, f"encoder.layer.{index}", heads, eps)
    m = attention_mask[..., None].astype(np.float64)
    pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return x, pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def random_bert_weights(cfg: bert_graph.BertConfig, seed: int) -> dict[str, np.ndarray]:
    """HF-named weights for a small full encoder (embeddings + every layer)."""
    rng = np.random.default_rng(seed)
    w = {
        "embeddings.word_embeddings.weight": rng.normal(0, 1, (cfg.vocab, cfg.hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(0, 1, (cfg.type_vocab, cfg.hidden)),
        "embeddings.position_embeddings.weight": rng.normal(0, 1, (cfg.max_positions, cfg.hidden)),
        "embeddings.LayerNorm.weight": rng.uniform(0.5, 1.5, cfg.hidden),
        "embeddings.LayerNorm.bias": rng.normal(0, 0.1, cfg.hidden),
    }
    for index in range(cfg.layers):
        layer = build_bert_large_layer.random_layer_weights(cfg, seed + 1 + index, index)
        # BERT's 0.02 init makes small-width attention nearly uniform; widen it so masking matters.
        w.update(
            {
                k: v * 10 if k.endswith(".weight") and "LayerNorm" not in k else v
                for k, v in layer.items()
            }
        )
    return {k: np.asarray(v, dtype=np.float32) for k, v in w.items()}


# ---------------------------------------------------------------- MiniLM (real weights)


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    pytest.importorskip("safetensors", reason="reading the MiniLM weights needs safetensors")
    pytest.importorskip("tokenizers", reason="tokenising the sentences needs tokenizers")
    try:
        model_dir = minilm_model_dir()
    except ModelScriptError as err:
        pytest.skip(f"MiniLM weights unavailable: {err}")
    if not (model_dir / "model.safetensors").is_file():
        pytest.skip(f"MiniLM weights unavailable: {model_dir / 'model.safetensors'} missing")
    return model_dir


@pytest.fixture(scope="module")
def sentences(minilm_dir) -> dict[str, np.ndarray]:
    tsv = tokenize_sentences.DEFAULT_TSV
    pairs = tokenize_sentences.read_pairs(tsv)
    return tokenize_sentences.tokenize_pairs(pairs, minilm_dir / "tokenizer.json", SEQ, tsv)


@pytest.fixture(scope="module")
def minilm_path(minilm_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("minilm") / "minilm.onnx"
    assert build_minilm.main(["--out", str(out), "--seq-len", str(SEQ), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def minilm_run(minilm_path, sentences):
    return run_onnx(minilm_path, {name: sentences[name] for name in INPUTS})


def test_sentence_tsv_tokenises_to_bert_inputs(sentences):
    labels = sentences["pair_label"]
    assert len(labels) >= 16 and set(labels.tolist()) == {0, 1}
    ids, mask = sentences["input_ids"], sentences["attention_mask"]
    assert ids.shape == mask.shape == (2 * len(labels), SEQ) and ids.dtype == np.int64
    lengths = mask.sum(1)
    assert np.all(ids[:, 0] == 101)  # [CLS]
    assert np.all(ids[np.arange(len(ids)), lengths - 1] == 102)  # [SEP] ends every sentence
    assert np.all(ids[mask == 0] == 0)  # [PAD]
    assert np.all(np.cumsum(mask == 0, axis=1)[mask == 1] == 0)  # mask is a prefix


def test_minilm_graph_is_valid_and_exported_style(minilm_path):
    onnx.checker.check_model(str(minilm_path), full_check=True)
    model = onnx.load(str(minilm_path))
    ops = histogram(model)
    assert [i.name for i in model.graph.input] == list(INPUTS)
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in model.graph.input)
    assert [o.name for o in model.graph.output] == ["token_embeddings", "sentence_embedding"]
    assert model.opset_import[0].version == 14
    assert ops["Gather"] == 3 and ops["Erf"] == 6 and ops["Softmax"] == 6 and ops["MatMul"] == 48
    assert ops["ReduceMean"] == 2 * 13 and ops["Sqrt"] == 13 and "LayerNormalization" not in ops
    assert ops["Cast"] >= 1 and ops["Sub"] >= 1 + 13  # mask arithmetic + LayerNorm centring


def test_minilm_matches_numpy_reference(minilm_dir, sentences, minilm_run):
    from safetensors.numpy import load_file

    config = json.loads((minilm_dir / "config.json").read_text())
    weights = load_file(str(minilm_dir / "model.safetensors"))
    tokens, sentence = ref_sentence_encoder(
        weights,
        config["num_hidden_layers"],
        config["num_attention_heads"],
        config["layer_norm_eps"],
        *(sentences[name] for name in INPUTS),
    )
    got_tokens, got_sentence = minilm_run
    assert rel_err(got_tokens, tokens) < REL_TOL
    assert rel_err(got_sentence, sentence) < REL_TOL


def test_minilm_paraphrases_score_above_unrelated_pairs(sentences, minilm_run):
    embedding = minilm_run[1]
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, atol=1e-5)
    cosine = (embedding[0::2] * embedding[1::2]).sum(1)
    paraphrase = cosine[sentences["pair_label"] == 1]
    unrelated = cosine[sentences["pair_label"] == 0]
    assert paraphrase.min() > unrelated.max() + 0.3
    assert paraphrase.mean() > 0.7 and abs(unrelated.mean()) < 0.2


# ---------------------------------------------------------------- builder options (small random configs)

TINY = bert_graph.BertConfig(
    hidden=32, heads=4, intermediate=64, layers=2, vocab=50, max_positions=16
)


def tiny_feeds(batch: int, seq: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, seq + 1, size=batch)
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    return {
        "input_ids": rng.integers(1, TINY.vocab, (batch, seq)) * mask,
        "attention_mask": mask,
        "token_type_ids": rng.integers(0, 2, (batch, seq)) * mask,
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layernorm=st.sampled_from(bert_graph.LAYERNORM_FORMS),
    scale=st.sampled_from(bert_graph.SCALE_FORMS),
    opset=st.integers(14, 18),
    seq=st.integers(2, 16),
    batch=st.integers(1, 3),
    static_batch=st.booleans(),
)
def test_every_export_style_computes_the_same_encoder(
    layernorm, scale, opset, seq, batch, static_batch
):
    if layernorm == "fused" and opset < 17:
        opset = 17
    style = bert_graph.ExportStyle(seq, batch if static_batch else None, opset, layernorm, scale)
    weights = random_bert_weights(TINY, seed=seq)
    model = bert_graph.build_sentence_encoder(TINY, style, weights, name="tiny")
    onnx.checker.check_model(model, full_check=True)
    assert ("LayerNormalization" in histogram(model)) == (layernorm == "fused")
    feeds = tiny_feeds(batch, seq, seed=batch)
    tokens, sentence = ref_sentence_encoder(
        weights, TINY.layers, TINY.heads, TINY.eps, *(feeds[n] for n in INPUTS)
    )
    got_tokens, got_sentence = run_onnx(model, feeds)
    assert rel_err(got_tokens, tokens) < REL_TOL
    assert rel_err(got_sentence, sentence) < REL_TOL


def test_builder_output_is_byte_identical_across_runs():
    style = bert_graph.ExportStyle(seq_len=8)
    first = bert_graph.build_sentence_encoder(TINY, style, random_bert_weights(TINY, 3), "tiny")
    second = bert_graph.build_sentence_encoder(TINY, style, random_bert_weights(TINY, 3), "tiny")
    assert first.SerializeToString() == second.SerializeToString()


def test_builder_rejects_wrong_weight_shape():
    weights = random_bert_weights(TINY, 0)
    weights["encoder.layer.1.intermediate.dense.weight"] = weights[
        "encoder.layer.1.intermediate.dense.weight"
    ][:, :-1]
    with pytest.raises(
        ModelScriptError, match=r"encoder\.layer\.1\.intermediate\.dense\.weight.*shape"
    ):
        bert_graph.build_sentence_encoder(TINY, bert_graph.ExportStyle(seq_len=4), weights, "tiny")


# ---------------------------------------------------------------- BERT-Large layer


def test_bert_large_layer_matches_numpy_reference(tmp_path):
    out = tmp_path / "layer.onnx"
    assert build_bert_large_layer.main(["--out", str(out), "--seq-len", "16", "--quiet"]) == 0
    onnx.checker.check_model(str(out), full_check=True)
    model = onnx.load(str(out), load_external_data=False)
    assert histogram(model)["MatMul"] == 8 and histogram(model)["Softmax"] == 1
    weights = build_bert_large_layer.random_layer_weights(build_bert_large_layer.BERT_LARGE, seed=0)
    rng = np.random.default_rng(7)
    hidden = rng.normal(0, 1, (2, 16, 1024)).astype(np.float32)
    mask = np.ones((2, 16), dtype=np.int64)
    mask[1, 11:] = 0
    (got,) = run_onnx(out, {"hidden_states": hidden, "attention_mask": mask})
    ref = ref_encoder_layer(
        hidden.astype(np.float64), mask.astype(bool), weights, "encoder.layer.0", 16, 1e-12
    )
    assert got.shape == (2, 16, 1024)
    assert rel_err(got, ref) < REL_TOL


# ---------------------------------------------------------------- committed torch-exported fixtures


@pytest.mark.parametrize("opset", [14, 17])
def test_tiny_bert_fixture_reproduces_reference(opset):
    path = FIXTURES / f"tiny_bert_opset{opset}.onnx"
    assert path.stat().st_size < 1 << 20
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    ops = set(histogram(model))
    assert {"Where", "Equal", "Range", "Shape", "Gather", "Cast", "Expand", "Erf", "Softmax"} <= ops
    assert ("LayerNormalization" in ops) == (opset >= 17)
    inputs = dict(np.load(FIXTURES / "tiny_bert_inputs.npz", allow_pickle=False))
    ref = np.load(FIXTURES / f"tiny_bert_opset{opset}_ref.npz", allow_pickle=False)
    hidden, pooled = run_onnx(path, {name: inputs[name] for name in INPUTS})
    np.testing.assert_allclose(hidden, ref["last_hidden_state"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pooled, ref["pooler_output"], rtol=1e-5, atol=1e-5)


def test_tiny_bert_fixture_has_dynamic_axes_and_ignores_padding():
    path = FIXTURES / "tiny_bert_opset14.onnx"
    inputs = dict(np.load(FIXTURES / "tiny_bert_inputs.npz", allow_pickle=False))
    padded, _ = run_onnx(path, {name: inputs[name] for name in INPUTS})
    valid = int(inputs["attention_mask"][1].sum())
    assert valid < inputs["input_ids"].shape[1]
    trimmed, pooled = run_onnx(path, {name: inputs[name][1:, :valid] for name in INPUTS})
    assert trimmed.shape == (1, valid, 64) and pooled.shape == (1, 64)
    np.testing.assert_allclose(trimmed[0], padded[1, :valid], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- user errors


def test_tsv_errors_name_file_and_line(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(
        "label\tsentence_a\tsentence_b\nparaphrase\tA dog runs.\tA dog is running.\nsimilar\tx\ty\n"
    )
    with pytest.raises(ModelScriptError, match=r"bad\.tsv:3: label 'similar'"):
        tokenize_sentences.read_pairs(tsv)
    tsv.write_text("label\tsentence_a\tsentence_b\nparaphrase\tonly one field\n")
    with pytest.raises(
        ModelScriptError, match=r"bad\.tsv:2: expected 3 tab-separated fields, got 2"
    ):
        tokenize_sentences.read_pairs(tsv)


def test_scripts_report_bad_arguments_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "never.onnx")
    assert build_bert_large_layer.main(["--out", out, "--layernorm", "fused", "--opset", "14"]) == 1
    assert build_minilm.main(["--out", out, "--seq-len", "0"]) == 1
    assert build_minilm.main(["--out", out, "--model-dir", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: --layernorm fused needs --opset 17 or later, got 14"
    assert lines[1] == "error: --seq-len must be positive, got 0"
    assert lines[2].startswith("error: ") and "config.json: missing" in lines[2]
    assert len(lines) == 3 and not (tmp_path / "never.onnx").exists()


def test_npz_bytes_are_stable_and_loadable(tmp_path):
    arrays = {"b": np.arange(6, dtype=np.int64).reshape(2, 3), "a": np.ones(3, dtype=np.float32)}
    data = npz_bytes(arrays)
    assert data == npz_bytes(dict(reversed(arrays.items())))
    (tmp_path / "x.npz").write_bytes(data)
    loaded = np.load(tmp_path / "x.npz", allow_pickle=False)
    assert sorted(loaded.files) == ["a", "b"] and np.array_equal(loaded["b"], arrays["b"])
