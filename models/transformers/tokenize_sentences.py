"""Tokenise the committed sentence pairs into fixed-length model inputs (.npz).

    python models/transformers/tokenize_sentences.py --out models/build/sentences-s128.npz [--seq-len 128]

Reads a TSV with header `label<TAB>sentence_a<TAB>sentence_b` (label: paraphrase or unrelated) and
tokenises with the MiniLM package's tokenizer.json. The .npz holds int64 arrays input_ids,
attention_mask and token_type_ids of shape [2 * pairs, seq] (row 2i is pair i's sentence_a, row 2i+1
its sentence_b) and pair_label [pairs] (1 = paraphrase, 0 = unrelated). A sentence longer than
--seq-len is an error rather than silently truncated.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformer_io import (
    ModelScriptError,
    minilm_model_dir,
    npz_bytes,
    require_model_files,
    run_main,
    write_bytes_atomic,
)

DEFAULT_TSV = Path(__file__).resolve().parents[1] / "data" / "sentences.tsv"
HEADER = ("label", "sentence_a", "sentence_b")
LABELS = {"unrelated": 0, "paraphrase": 1}


@dataclass(frozen=True)
class SentencePair:
    """One TSV row: two sentences and whether they mean the same thing."""

    line: int
    label: str
    first: str
    second: str


def read_pairs(path: Path) -> list[SentencePair]:
    """Parse and validate the sentence-pair TSV; errors name the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ModelScriptError(f"{path}: cannot read: {err}") from None
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise ModelScriptError(f"{path}:1: header must be {'<TAB>'.join(HEADER)}")
    pairs = []
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != len(HEADER):
            raise ModelScriptError(
                f"{path}:{number}: expected {len(HEADER)} tab-separated fields, got {len(fields)}"
            )
        label, first, second = (field.strip() for field in fields)
        if label not in LABELS:
            raise ModelScriptError(
                f"{path}:{number}: label {label!r} is not one of {', '.join(sorted(LABELS))}"
            )
        if not first or not second:
            raise ModelScriptError(f"{path}:{number}: empty sentence")
        pairs.append(SentencePair(number, label, first, second))
    if not pairs:
        raise ModelScriptError(f"{path}: no sentence pairs")
    return pairs


def tokenize(
    sentences: list[str], tokenizer_path: Path, seq_len: int, where: list[str]
) -> dict[str, np.ndarray]:
    """Encode sentences to [n, seq_len] int64 arrays; `where[i]` names sentence i in errors."""
    from tokenizers import Tokenizer

    if seq_len < 2:
        raise ModelScriptError(f"--seq-len must be at least 2 ([CLS] and [SEP]), got {seq_len}")
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    except Exception as err:  # the tokenizers library raises a bare Exception on bad files
        raise ModelScriptError(f"{tokenizer_path}: cannot load tokenizer: {err}") from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encodings = tokenizer.encode_batch(sentences)
    for encoding, place in zip(encodings, where):
        if len(encoding.ids) > seq_len:
            raise ModelScriptError(
                f"{place}: sentence needs {len(encoding.ids)} tokens, more than --seq-len {seq_len}"
            )
    arrays = {
        name: np.zeros((len(sentences), seq_len), dtype=np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    for row, encoding in enumerate(encodings):
        width = len(encoding.ids)
        arrays["input_ids"][row, :width] = encoding.ids
        arrays["attention_mask"][row, :width] = encoding.attention_mask
        arrays["token_type_ids"][row, :width] = encoding.type_ids
    return arrays


def tokenize_pairs(
    pairs: list[SentencePair], tokenizer_path: Path, seq_len: int, tsv: Path
) -> dict[str, np.ndarray]:
    """Model inputs for all pairs (interleaved a, b rows) plus their labels."""
    sentences = [text for pair in pairs for text in (pair.first, pair.second)]
    where = [f"{tsv}:{pair.line}" for pair in pairs for _ in range(2)]
    arrays = tokenize(sentences, tokenizer_path, seq_len, where)
    arrays["pair_label"] = np.array([LABELS[pair.label] for pair in pairs], dtype=np.int64)
    return arrays


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output .npz path")
    parser.add_argument(
        "--seq-len", type=int, default=128, help="padded sequence length (default 128)"
    )
    parser.add_argument(
        "--tsv",
        type=Path,
        default=DEFAULT_TSV,
        help="sentence-pair TSV (default: the committed one)",
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help="tokenizer.json (default: the MiniLM package's)",
    )
    args = parser.parse_args(argv)
    tokenizer_path = args.tokenizer
    if tokenizer_path is None:
        model_dir = minilm_model_dir()
        require_model_files(model_dir, ("tokenizer.json",))
        tokenizer_path = model_dir / "tokenizer.json"
    pairs = read_pairs(args.tsv)
    arrays = tokenize_pairs(pairs, tokenizer_path, args.seq_len, args.tsv)
    write_bytes_atomic(args.out, npz_bytes(arrays))
    print(f"wrote {args.out}: {len(pairs)} pairs, {2 * len(pairs)} rows of {args.seq_len} tokens")
    return 0


def main(argv=None) -> int:
    """Entry point: tokenise the sentence pairs; returns a process exit code."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
