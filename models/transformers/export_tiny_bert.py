"""Export a tiny BERT written in plain torch with the TorchScript ONNX exporter (dev-time only).

    python models/transformers/export_tiny_bert.py [--out-dir models/fixtures]

The module mirrors HuggingFace's BertModel (2 layers, hidden 64, 4 heads, vocab 100, seeded weights):
position ids from `arange(seq)`, the additive mask `(1.0 - mask) * finfo.min`, `x.view(x.size()[:-1] +
(heads, dim))` head splits and a pooler, so the export carries the Shape/Gather/Range/Expand/Cast
arithmetic, Equal/Where from `masked_fill`, and dynamic batch/sequence axes of a real export. Writes
tiny_bert_opset{14,17}.onnx, tiny_bert_inputs.npz and tiny_bert_opset{N}_ref.npz (onnxruntime's
outputs on those inputs), after checking onnxruntime against the torch module.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformer_io import ModelScriptError, npz_bytes, run_main, write_bytes_atomic

DEFAULT_OUT_DIR = Path(__file__).resolve().parents[1] / "fixtures"
OPSETS = (14, 17)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = ("last_hidden_state", "pooler_output")
SEED = 0
# Exported and eager results differ only by float reassociation; anything larger is a real bug.
TORCH_TOLERANCE = 1e-4


@dataclass(frozen=True)
class TinyBertConfig:
    """Sizes of the fixture encoder."""

    vocab: int = 100
    hidden: int = 64
    heads: int = 4
    intermediate: int = 256
    layers: int = 2
    max_positions: int = 64
    type_vocab: int = 2
    eps: float = 1e-12


def build_module(cfg: TinyBertConfig):
    """Define and instantiate the torch module (torch is imported here so --help works without it)."""
    import torch
    from torch import nn

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(cfg.vocab, cfg.hidden, padding_idx=0)
            self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.hidden)
            self.token_type_embeddings = nn.Embedding(cfg.type_vocab, cfg.hidden)
            self.LayerNorm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)

        def forward(self, input_ids, token_type_ids):
            seq_len = input_ids.size(1)
            position_ids = torch.arange(seq_len, dtype=torch.long, device=input_ids.device)
            position_ids = position_ids.unsqueeze(0).expand_as(input_ids)
            x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
            return self.LayerNorm(x + self.position_embeddings(position_ids))

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.head_dim = cfg.hidden // cfg.heads
            self.query = nn.Linear(cfg.hidden, cfg.hidden)
            self.key = nn.Linear(cfg.hidden, cfg.hidden)
            self.value = nn.Linear(cfg.hidden, cfg.hidden)

        def split_heads(self, x):
            return x.view(x.size()[:-1] + (cfg.heads, self.head_dim)).permute(0, 2, 1, 3)

        def forward(self, hidden, additive_mask, padding):
            query = self.split_heads(self.query(hidden))
            key = self.split_heads(self.key(hidden))
            value = self.split_heads(self.value(hidden))
            scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_dim)
            probs = torch.softmax(scores + additive_mask, dim=-1)
            # Rows whose keys are all padding would otherwise attend uniformly to padding.
            probs = probs.masked_fill(padding, 0.0)
            context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
            return context.view(context.size()[:-2] + (cfg.hidden,))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = SelfAttention()
            self.attention_dense = nn.Linear(cfg.hidden, cfg.hidden)
            self.attention_norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)
            self.intermediate = nn.Linear(cfg.hidden, cfg.intermediate)
            self.act = nn.GELU()
            self.output = nn.Linear(cfg.intermediate, cfg.hidden)
            self.output_norm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)

        def forward(self, hidden, additive_mask, padding):
            context = self.attention(hidden, additive_mask, padding)
            hidden = self.attention_norm(self.attention_dense(context) + hidden)
            return self.output_norm(self.output(self.act(self.intermediate(hidden))) + hidden)

    class TinyBert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.layers = nn.ModuleList(Layer() for _ in range(cfg.layers))
            self.pooler = nn.Linear(cfg.hidden, cfg.hidden)

        def forward(self, input_ids, attention_mask, token_type_ids):
            mask = attention_mask[:, None, None, :]
            additive_mask = (1.0 - mask.to(torch.float32)) * torch.finfo(torch.float32).min
            padding = mask == 0
            hidden = self.embeddings(input_ids, token_type_ids)
            for layer in self.layers:
                hidden = layer(hidden, additive_mask, padding)
            return hidden, torch.tanh(self.pooler(hidden[:, 0]))

    torch.manual_seed(SEED)
    model = TinyBert().eval()
    # Default LayerNorm parameters are exactly 1 and 0; random ones keep a consumer that drops
    # the affine part from passing by accident.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model


def fixture_inputs(cfg: TinyBertConfig) -> dict[str, np.ndarray]:
    """Two sequences of 12 tokens; the second is padded after 8, the first has two segments."""
    rng = np.random.default_rng(SEED)
    batch, seq = 2, 12
    input_ids = rng.integers(1, cfg.vocab, size=(batch, seq), dtype=np.int64)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    attention_mask[1, 8:] = 0
    input_ids[1, 8:] = 0
    token_type_ids = np.zeros((batch, seq), dtype=np.int64)
    token_type_ids[0, 7:] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }


def export_bytes(model, inputs: dict[str, np.ndarray], opset: int) -> bytes:
    """The legacy TorchScript exporter's ONNX bytes for `model` with dynamic batch and sequence."""
    import torch

    args = tuple(torch.from_numpy(inputs[name]) for name in INPUT_NAMES)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    axes["pooler_output"] = {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The exporter warns that it is the legacy one; using it is the point of this fixture.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            args,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def torch_outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Eager outputs of the module, for checking the export."""
    import torch

    with torch.no_grad():
        results = model(*(torch.from_numpy(inputs[name]) for name in INPUT_NAMES))
    return {name: value.numpy() for name, value in zip(OUTPUT_NAMES, results)}


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="fixture folder (default models/fixtures)",
    )
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelScriptError(
            "torch is not installed; this dev-time script needs it (pip install torch)"
        ) from None
    import onnx
    import onnxruntime as ort

    cfg = TinyBertConfig()
    model = build_module(cfg)
    inputs = fixture_inputs(cfg)
    expected = torch_outputs(model, inputs)
    write_bytes_atomic(args.out_dir / "tiny_bert_inputs.npz", npz_bytes(inputs))
    for opset in OPSETS:
        data = export_bytes(model, inputs, opset)
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        got = dict(zip(OUTPUT_NAMES, session.run(list(OUTPUT_NAMES), inputs)))
        diffs = {name: float(np.abs(got[name] - expected[name]).max()) for name in OUTPUT_NAMES}
        if max(diffs.values()) > TORCH_TOLERANCE:
            raise ModelScriptError(f"opset {opset}: onnxruntime differs from torch by {diffs}")
        onnx_path = args.out_dir / f"tiny_bert_opset{opset}.onnx"
        write_bytes_atomic(onnx_path, data)
        write_bytes_atomic(args.out_dir / f"tiny_bert_opset{opset}_ref.npz", npz_bytes(got))
        ops = sorted({node.op_type for node in onnx.load_from_string(data).graph.node})
        print(
            f"wrote {onnx_path}: {len(data)} bytes; max |ort - torch| {diffs}; ops {' '.join(ops)}"
        )
    return 0


def main(argv=None) -> int:
    """Entry point: export the tiny BERT fixtures; returns a process exit code."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
