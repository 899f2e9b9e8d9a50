"""Build one BERT-Large encoder layer (hidden 1024, 16 heads, FFN 4096) with seeded random weights.

    python models/transformers/build_bert_large_layer.py --out models/build/bert-large-layer.onnx [--seq-len 128]
    python models/transformers/build_bert_large_layer.py --layers 24 --out models/build/bert-large.onnx

Same graph builder and export style as the MiniLM encoder. Inputs: hidden_states float32
[batch, seq, 1024] and attention_mask int64 [batch, seq]; output layer_output [batch, seq, 1024].
Weights follow BERT's initialisation scale (N(0, 0.02)); LayerNorm gains sit near 1. Same arguments,
same bytes.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from bert_graph import (
    BertConfig,
    add_style_options,
    build_encoder_layer,
    save_model,
    style_from_args,
)
from transformer_io import run_main, write_bytes_atomic

BERT_LARGE = BertConfig(hidden=1024, heads=16, intermediate=4096, layers=24, vocab=30522)
INIT_STD = 0.02


def random_layer_weights(cfg: BertConfig, seed: int, index: int = 0) -> dict[str, np.ndarray]:
    """HuggingFace-named float32 weights for encoder layer `index`, drawn in a fixed order from `seed`."""
    rng = np.random.default_rng(seed)
    prefix = f"encoder.layer.{index}"
    linears = {
        "attention.self.query": (cfg.hidden, cfg.hidden),
        "attention.self.key": (cfg.hidden, cfg.hidden),
        "attention.self.value": (cfg.hidden, cfg.hidden),
        "attention.output.dense": (cfg.hidden, cfg.hidden),
        "intermediate.dense": (cfg.intermediate, cfg.hidden),
        "output.dense": (cfg.hidden, cfg.intermediate),
    }
    weights = {}
    for name, shape in linears.items():
        weights[f"{prefix}.{name}.weight"] = rng.normal(0.0, INIT_STD, size=shape).astype(
            np.float32
        )
        weights[f"{prefix}.{name}.bias"] = rng.normal(0.0, INIT_STD, size=shape[:1]).astype(
            np.float32
        )
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        weights[f"{prefix}.{name}.weight"] = (
            1.0 + rng.normal(0.0, INIT_STD, size=cfg.hidden)
        ).astype(np.float32)
        weights[f"{prefix}.{name}.bias"] = rng.normal(0.0, INIT_STD, size=cfg.hidden).astype(
            np.float32
        )
    return weights


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_style_options(parser)
    parser.add_argument("--seed", type=int, default=0, help="weight RNG seed (default 0)")
    parser.add_argument(
        "--layers", type=int, default=1, help="encoder layers to stack (BERT-Large: 24; default 1)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.layers <= BERT_LARGE.layers:
        parser.error(f"--layers must be in 1..{BERT_LARGE.layers}")
    style = style_from_args(args)
    weights = {}
    for index in range(args.layers):
        # layer 0 keeps the single-layer model's weights; layer i draws from seed + i
        weights.update(random_layer_weights(BERT_LARGE, args.seed + index, index))
    name = "bert-large-encoder-layer" if args.layers == 1 else f"bert-large-encoder-{args.layers}"
    model = build_encoder_layer(BERT_LARGE, style, weights, name=name, layers=args.layers)
    save_model(args.out, model, args.quiet, write_bytes_atomic)
    return 0


def main(argv=None) -> int:
    """Entry point: build the BERT-Large layer graph; returns a process exit code."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
