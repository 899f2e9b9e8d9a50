"""Compare post-training ternarization rules on small digits classifiers.

Every weight layer of a net is replaced by its ternary approximation and test accuracy is reported:
TWN-0.7 vs L2-optimal vs data-aware (output search, GPTQ, bias correction) for 1–3 residual planes,
a sparsity sweep 50–90 %, a per-layer precision assignment against an accuracy budget, and (MLP)
static int8 activation scales. Nets: a ReLU MLP trained here on scikit-learn's digits (averaged over
seeds), and the committed digits CNN (models/digits/digits_cnn.onnx, run with onnxruntime) when
present.

    python bench/ternary_rules.py                       # MLP seeds 0 1 2 + CNN, about a minute
    python bench/ternary_rules.py --seeds 0 --no-cnn    # quick look

Dev-time only: needs scikit-learn (data, MLP) and onnxruntime (CNN).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from digits_nets import MLPNet, OnnxNet
from imcc.compiler.precision.numerics import (
    Option,
    calibrate_scale,
    crossbar_columns,
    gptq_ternarize,
    greedy_assign,
    int_weights,
    output_search_ternarize,
    relative_error,
    ternarize_planes,
)
from imcc.compiler.precision.report import format_table

ROOT = Path(__file__).resolve().parents[1]
CNN_PATH = ROOT / "models" / "digits" / "digits_cnn.onnx"
NAN = float("nan")


class Eval:
    """A net with its calibration and test data; accuracy of weight/bias replacements."""

    def __init__(self, net, xc, yc, xte, yte):
        self.net, self.xc, self.yc, self.xte, self.yte = net, xc, yc, xte, yte
        self.zero = [np.zeros(w.shape[0], np.float32) for w in net.weights]

    def accuracy(self, mats, deltas=None, test=True, **kw) -> float:
        x, y = (self.xte, self.yte) if test else (self.xc, self.yc)
        logits = self.net.logits(mats, deltas or self.zero, x, **kw)
        return 100.0 * float((logits.argmax(axis=1) == y).mean())

    def quantize(self, fit, correct_bias: bool, keep_first: bool = False):
        """Ternarize layer by layer, each calibrated on the inputs of the net ternarized so far.

        ``keep_first`` leaves the first layer at int8. Returns (matrices, bias shifts, mean
        relative weight error of the ternarized layers).
        """
        mats, deltas, errs = list(self.net.weights), list(self.zero), []
        for i, w in enumerate(self.net.weights):
            if keep_first and i == 0:
                mats[0] = int8(w)
                continue
            x = self.net.layer_inputs(mats, deltas, self.xc)[i]
            w_hat = fit(w, x).dequantize()
            mats[i] = w_hat
            if correct_bias:
                deltas[i] = (x.astype(np.float64).mean(axis=0) @ (w - w_hat).T).astype(np.float32)
            errs.append(relative_error(w, w_hat))
        return mats, deltas, float(np.mean(errs))


def int8(w):
    q, s = int_weights(w)
    return (q * s[:, None]).astype(np.float32)


# (name, fit(W, X, planes) -> Ternary, bias correction?)
METHODS = [
    ("TWN-0.7", lambda w, x, k: ternarize_planes(w, k, "twn"), False),
    ("L2-optimal", lambda w, x, k: ternarize_planes(w, k, "l2"), False),
    ("L2-optimal + bias corr.", lambda w, x, k: ternarize_planes(w, k, "l2"), True),
    ("TTQ (L2, α⁺≠α⁻)", lambda w, x, k: ternarize_planes(w, k, "l2", asymmetric=True), False),
    ("output search", lambda w, x, k: output_search_ternarize(w, x, k), False),
    ("GPTQ", lambda w, x, k: gptq_ternarize(w, x, k), False),
    ("GPTQ + bias corr.", lambda w, x, k: gptq_ternarize(w, x, k), True),
]


def rows_methods(ev: Eval):
    """[method, acc 1 plane, w.err, acc 2 planes, w.err, acc 3 planes, w.err]."""
    rows = []
    for name, fit, corr in METHODS:
        row = [name]
        for k in (1, 2, 3):
            mats, deltas, err = ev.quantize(lambda w, x, k=k, fit=fit: fit(w, x, k), corr)
            row += [ev.accuracy(mats, deltas), err]
        rows.append(row)
    rows.append(["int8 weights (per channel)", ev.accuracy([int8(w) for w in ev.net.weights])])
    rows.append(["float", ev.accuracy(ev.net.weights)])
    return [r + [NAN] * (7 - len(r)) for r in rows]


def _gptq_sparse(w, x, s, planes=1):
    return gptq_ternarize(w, x, planes, rule="sparsity", sparsity=s, block_size=16)


# (column, fit(W, X, sparsity), bias correction?, first layer int8?)
SPARSE_FITS = [
    ("L2 scale", lambda w, x, s: ternarize_planes(w, 1, "sparsity", sparsity=s), False, True),
    ("output-opt. scale", lambda w, x, s: output_search_ternarize(w, x, sparsity=s), False, True),
    ("GPTQ", _gptq_sparse, False, True),
    ("GPTQ + bias corr.", _gptq_sparse, True, True),
    ("GPTQ + b.c., 2 planes", lambda w, x, s: _gptq_sparse(w, x, s, 2), True, True),
    ("GPTQ + b.c., first layer too", _gptq_sparse, True, False),
]


def rows_sparsity(ev: Eval):
    """[target %, achieved %, accuracy per fit] for 50..90 % zeros per channel (and plane)."""
    rows = []
    for s in (0.5, 0.6, 0.7, 0.8, 0.9):
        accs, zeros = [], None
        for _, fit, corr, keep_first in SPARSE_FITS:
            fit_s = lambda w, x, s=s, fit=fit: fit(w, x, s)  # noqa: E731
            mats, deltas, _ = ev.quantize(fit_s, corr, keep_first)
            if zeros is None:
                tern = mats[1:]
                zeros = 100 * sum(int((m == 0).sum()) for m in tern) / sum(m.size for m in tern)
            accs.append(ev.accuracy(mats, deltas))
        rows.append([str(int(100 * s)), zeros, *accs])
    return rows


def natural_sparsity(ev: Eval):
    """% zeros over all weights that TWN-0.7 and the L2-optimal rule pick by themselves."""
    total = sum(w.size for w in ev.net.weights)
    return [
        100 * sum(int((ternarize_planes(w, 1, r).t == 0).sum()) for w in ev.net.weights) / total
        for r in ("twn", "l2")
    ]


LADDER = ("t1", "t2", "t3", "int8")


def budget_row(ev: Eval, drop: float):
    """Greedy choice per layer among GPTQ t1/t2/t3 and int8 within a calibration accuracy drop."""
    xs = ev.net.layer_inputs(ev.net.weights, ev.zero, ev.xc)
    variants, options = [], []
    for w, x in zip(ev.net.weights, xs):
        o, n = w.shape
        variants.append([gptq_ternarize(w, x, k).dequantize() for k in (1, 2, 3)] + [int8(w)])
        # int8 assumed bit-sliced over two 4-bit cells: twice the columns of one plane.
        cols = [crossbar_columns(o, n, k) for k in (1, 2, 3)] + [crossbar_columns(o, n, 2)]
        options.append([Option(nm, c) for nm, c in zip(LADDER, cols)])
    base = ev.accuracy(ev.net.weights, test=False)

    def mats_for(assign):
        return [variants[i][j] for i, j in enumerate(assign)]

    def error(assign):
        return (base - ev.accuracy(mats_for(assign), test=False)) / 100

    res = greedy_assign(options, error, drop)
    return [
        " ".join(LADDER[j] for j in res.assignment),
        res.columns,
        sum(o[0].columns for o in options),
        sum(o[2].columns for o in options),
        sum(o[3].columns for o in options),
        f"{100 * res.error:.2f}",
        f"{ev.accuracy(mats_for(res.assignment)):.1f}",
        res.evaluations,
    ]


def rows_activations(ev: Eval):
    """[scale rule, acc float W, acc GPTQ 2 planes + bias] with int8 inputs to every layer."""
    gptq2 = ev.quantize(lambda w, x: gptq_ternarize(w, x, 2), True)
    rows = []
    for label, method, opts in (
        ("maxabs", "maxabs", {}),
        ("percentile 99.9", "percentile", {"percentile": 99.9}),
        ("mse", "mse", {}),
    ):
        row = [label]
        for mats, deltas in ((ev.net.weights, ev.zero), gptq2[:2]):
            xs = ev.net.layer_inputs(mats, deltas, ev.xc)
            scales = [calibrate_scale(x, method, **opts) for x in xs]
            row.append(ev.accuracy(mats, deltas, act_scales=scales))
        rows.append(row)
    return rows


def mean_rows(per_seed):
    """Cell-wise mean (± std over seeds for accuracies) of numeric tables; labels kept."""
    out = []
    for cells in zip(*per_seed):
        row = []
        for vals in zip(*cells):
            if isinstance(vals[0], str):
                row.append(vals[0])
            elif np.isnan(vals[0]):
                row.append("")
            elif vals[0] < 1:  # a relative error
                row.append(f"{np.mean(vals):.3f}")
            elif len(vals) == 1:
                row.append(f"{vals[0]:.1f}")
            else:
                row.append(f"{np.mean(vals):.1f} ± {np.std(vals):.1f}")
        out.append(row)
    return out


def report(title: str, evals: list[Eval], budget: float, activations: bool) -> str:
    """All tables for one net (several seeds are averaged)."""
    parts = [f"## {title}: {evals[0].net.describe()}"]
    head = ["method", "1 plane", "w.err", "2 planes", "w.err", "3 planes", "w.err"]
    parts.append(
        "### Rules × residual planes (test accuracy %)\n\n"
        + format_table(head, mean_rows([rows_methods(ev) for ev in evals]))
    )
    head = ["target % zeros", "achieved %", *[f[0] for f in SPARSE_FITS]]
    nat = np.mean([natural_sparsity(ev) for ev in evals], axis=0)
    parts.append(
        "### Sparsity sweep (per-channel target; test accuracy %)\n\n"
        + format_table(head, mean_rows([rows_sparsity(ev) for ev in evals]))
        + "\n\nOne plane unless stated; the first layer stays int8 (its fan-in is small) except in"
        " the last column; 'achieved' counts the ternarized layers of the first column. Left to"
        f" themselves, TWN-0.7 zeroes {nat[0]:.0f} % and L2-optimal {nat[1]:.0f} % of all weights."
    )
    head = [
        "layers",
        "columns",
        "all t1",
        "all t3",
        "all int8",
        "calib. drop %",
        "test acc %",
        "evals",
    ]
    parts.append(
        f"### Per-layer precision (calibration accuracy drop ≤ {100 * budget:g} %)\n\n"
        + format_table(head, [budget_row(ev, budget) for ev in evals])
        + "\n\nOptions per layer: GPTQ with 1/2/3 planes, or per-channel int8 counted as 2 columns"
        " per channel (assumed bit-slicing over two 4-bit cells). One row per seed."
    )
    if activations:
        head = ["int8 activation scale", "float weights", "GPTQ 2 planes + bias corr."]
        parts.append(
            "### Static int8 activations (per-tensor scale per layer input)\n\n"
            + format_table(head, mean_rows([rows_activations(ev) for ev in evals]))
        )
    return "\n\n".join(parts)


def mlp_evals(seeds, calib: int):
    """One MLP per seed on a seeded 2/3 train, 1/3 test split of digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    evals = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(x))
        tr, te = order[: 2 * len(x) // 3], order[2 * len(x) // 3 :]
        net = MLPNet(x[tr], d.target[tr], seed=seed)
        evals.append(Eval(net, x[tr[:calib]], d.target[tr[:calib]], x[te], d.target[te]))
    return evals


def cnn_eval():
    """The committed CNN with its own fixed split (calibration part for calibration)."""
    sys.path.insert(0, str(ROOT))
    from models.cnn.digits_data import load_split

    s = load_split()
    return Eval(OnnxNet(CNN_PATH), s.x_calib, s.y_calib, s.x_test, s.y_test)


def main(argv=None) -> int:
    """Print the comparison tables as Markdown."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="MLP seeds")
    p.add_argument("--calib", type=int, default=256, help="MLP calibration images")
    p.add_argument("--budget", type=float, default=0.01, help="allowed calibration accuracy drop")
    p.add_argument("--no-cnn", action="store_true", help="skip the committed ONNX CNN")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    mlp = mlp_evals(args.seeds, args.calib)
    sections = [report("MLP", mlp, args.budget, activations=True)]
    if not args.no_cnn and CNN_PATH.exists():
        sections.append(report("CNN", [cnn_eval()], args.budget, activations=False))
    argv_used = sys.argv[1:] if argv is None else argv
    cmd = shlex.join(["python", "bench/ternary_rules.py", *argv_used])
    print("# Post-training ternarization on digits\n")
    print(
        f"Reproduce: `{cmd}` ({time.perf_counter() - t0:.0f} s). Every weight layer is ternarized;"
    )
    print(
        "data-aware methods calibrate layer by layer on the inputs of the already-ternarized net."
    )
    print(f"MLP: mean ± std over seeds {args.seeds}, {len(mlp[0].yte)} test and {args.calib}")
    print("calibration images per seed. CNN: its fixed split (359 test, 179 calibration images).")
    print("w.err = mean relative Frobenius weight error over layers.\n")
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
