"""Graph-level canonicalization on transformer encoders: everything fuses and nothing changes.

Each model is imported twice; one copy goes through the fold/fuse pipeline. The interpreter must
give the same outputs on both (and match onnxruntime) to 1e-5 relative, and the fused copy must
hold exactly the expected number of nn ops with none of the decomposed ops left.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _passkit import FIXTURES, TRANSFORMERS, check_fused_model, load, op_counts, run_passes

sys.path.insert(0, str(TRANSFORMERS))

import bert_graph  # noqa: E402
from imcc.compiler.ir import print_ir  # noqa: E402

#: Ops that the pipeline must have absorbed into nn ops.
DECOMPOSED = ("onnx.Softmax", "onnx.Erf", "onnx.ReduceMean", "onnx.MatMul", "onnx.Sqrt",
              "onnx.Pow", "onnx.Transpose", "onnx.Reshape", "onnx.LayerNormalization", "onnx.Gemm")  # fmt: skip


def assert_fused(module, layers: int, linears: int, layer_norms: int | None = None):
    counts = op_counts(module)
    assert counts["nn.attention"] == layers
    assert counts["nn.gelu"] == layers
    assert counts["nn.layer_norm"] == (2 * layers + 1 if layer_norms is None else layer_norms)
    assert counts["nn.linear"] == linears
    assert not [name for name in DECOMPOSED if counts[name]], counts


# --- torch-exported tiny BERT (dynamic batch and sequence axes) ------------------------------------


@pytest.fixture(scope="module")
def tiny_inputs() -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURES / "tiny_bert_inputs.npz"))


@pytest.mark.parametrize("opset", [14, 17])
def test_tiny_bert_with_pinned_shapes(opset, tiny_inputs):
    shapes = {name: list(value.shape) for name, value in tiny_inputs.items()}
    model = FIXTURES / f"tiny_bert_opset{opset}.onnx"
    fused = check_fused_model(model, tiny_inputs, shapes)
    # 2 layers x (Q, K, V, output, FFN in, FFN out) + the pooler's Gemm.
    assert_fused(fused, layers=2, linears=13)


@pytest.mark.parametrize("opset", [14, 17])
def test_tiny_bert_with_dynamic_sequence(opset, tiny_inputs):
    # The sequence axis stays symbolic, so the head reshapes are built from Shape/Gather/Concat at
    # run time; the padded second sentence exercises the mask and the post-softmax zero mask.
    inputs = {name: value[1:] for name, value in tiny_inputs.items()}
    fused = check_fused_model(FIXTURES / f"tiny_bert_opset{opset}.onnx", inputs)
    assert_fused(fused, layers=2, linears=13)
    attention = next(op for op in fused.walk() if op.name == "nn.attention")
    assert str(attention.operands[0].type) == "tensor<1x?x64xf32>"
    assert attention.get_attr("num_heads") == 4


# --- MiniLM-L6 (the real weights), as build_minilm.py writes it -------------------------------------


def minilm_inputs(seq: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    mask = np.ones((1, seq), np.int64)
    mask[0, seq - 3 :] = 0
    return {
        "input_ids": rng.integers(1, 30000, size=(1, seq)).astype(np.int64),
        "attention_mask": mask,
        "token_type_ids": np.zeros((1, seq), np.int64),
    }


def test_minilm_every_layer_fuses():
    build_minilm = pytest.importorskip("build_minilm")
    try:
        cfg, weights = build_minilm.load_minilm(build_minilm.minilm_model_dir())
    except Exception as exc:  # the weights package is a dev dependency
        pytest.skip(f"MiniLM weights unavailable: {exc}")
    style = bert_graph.ExportStyle(seq_len=8, batch=1, opset=14)
    model = bert_graph.build_sentence_encoder(cfg, style, weights, name="minilm")
    fused = check_fused_model(model, minilm_inputs(8))
    # 6 layers: 6 attention, 13 layer norms (embeddings + 2 per layer), 6 GELU, 36 linears.
    assert_fused(fused, layers=6, linears=36)


# --- the same builder with random weights, in every export style ----------------------------------


def random_weights(cfg: bert_graph.BertConfig, seed: int) -> dict[str, np.ndarray]:
    """Random HuggingFace-named weights for a BERT config."""
    rng = np.random.default_rng(seed)
    shapes = {
        "embeddings.word_embeddings.weight": (cfg.vocab, cfg.hidden),
        "embeddings.position_embeddings.weight": (cfg.max_positions, cfg.hidden),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab, cfg.hidden),
        "embeddings.LayerNorm.weight": (cfg.hidden,),
        "embeddings.LayerNorm.bias": (cfg.hidden,),
    }
    for i in range(cfg.layers):
        p = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            shapes[f"{p}.attention.self.{name}.weight"] = (cfg.hidden, cfg.hidden)
            shapes[f"{p}.attention.self.{name}.bias"] = (cfg.hidden,)
        shapes[f"{p}.attention.output.dense.weight"] = (cfg.hidden, cfg.hidden)
        shapes[f"{p}.intermediate.dense.weight"] = (cfg.intermediate, cfg.hidden)
        shapes[f"{p}.intermediate.dense.bias"] = (cfg.intermediate,)
        shapes[f"{p}.output.dense.weight"] = (cfg.hidden, cfg.intermediate)
        for name in ("attention.output.dense.bias", "output.dense.bias"):
            shapes[f"{p}.{name}"] = (cfg.hidden,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}.{name}.weight"] = (cfg.hidden,)
            shapes[f"{p}.{name}.bias"] = (cfg.hidden,)
    out = {name: rng.normal(0, 0.2, shape).astype(np.float32) for name, shape in shapes.items()}
    for name in out:
        if "LayerNorm.weight" in name:
            out[name] = (1 + out[name]).astype(np.float32)
    return out


STYLES = [
    (13, "decomposed", "div", None),
    (14, "decomposed", "mul", 2),
    (17, "fused", "div", None),
    (18, "decomposed", "mul", None),
    (18, "fused", "mul", 2),
]


@pytest.mark.parametrize("opset,layernorm,scale,batch", STYLES)
def test_bert_export_styles(opset, layernorm, scale, batch):
    cfg = bert_graph.BertConfig(
        hidden=16, heads=4, intermediate=32, layers=2, vocab=50, max_positions=16
    )
    style = bert_graph.ExportStyle(
        seq_len=6, batch=batch, opset=opset, layernorm=layernorm, scale=scale
    )
    model = bert_graph.build_sentence_encoder(cfg, style, random_weights(cfg, opset), name="bert")
    rng = np.random.default_rng(opset)
    b = batch or 1
    mask = np.ones((b, 6), np.int64)
    mask[-1, 4:] = 0
    inputs = {
        "input_ids": rng.integers(0, cfg.vocab, size=(b, 6)).astype(np.int64),
        "attention_mask": mask,
        "token_type_ids": (rng.random((b, 6)) < 0.5).astype(np.int64),
    }
    fused = check_fused_model(model, inputs)
    assert_fused(fused, layers=2, linears=12)


def test_fused_text_is_deterministic():
    path = FIXTURES / "tiny_bert_opset14.onnx"
    first, second = (print_ir(run_passes(load(path)), debuginfo=True) for _ in range(2))
    assert first == second
    assert '"nn.attention"' in first
