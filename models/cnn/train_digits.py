"""Train the two bundled digits CNNs with torch, export them to ONNX, and record their accuracy.

Dev-time only (needs torch; nothing in the product or its tests imports this file):

    python -m models.cnn.train_digits            # writes models/digits/{*.onnx,metrics.json,README.md}

Two networks, both for 1x8x8 inputs in [0, 1] (see ``digits_data``):

* ``digits_cnn``: a plain CNN, three Conv-BN-ReLU stages with max pooling, Flatten and Gemm.
* ``digits_mbv2``: a MobileNetV2-style net: a Conv-BN-ReLU6 stem, five inverted residual blocks
  (1x1 expand, 3x3 depthwise, 1x1 linear project; residual Add where shapes allow), a 1x1 head,
  global average pooling and Gemm.

They are exported in eval mode with ``do_constant_folding=False`` so that BatchNormalization stays a
separate node for the frontend to fold, and with a dynamic batch axis. The accuracy written to
metrics.json is measured with onnxruntime on the exported files, not with torch.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from .digits_data import (
    CALIB_FRACTION,
    SPLIT_SEED,
    TEST_FRACTION,
    DigitsSplit,
    load_split,
    split_fingerprint,
)

OPSET = 13
TRAIN_SEED = 0
EPOCHS = 12
BATCH = 64
COMMAND = "python -m models.cnn.train_digits"


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A bias-free convolution with 'same'-style padding followed by BatchNorm."""
    pad = kernel // 2
    conv = nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(cout)]


def make_cnn() -> nn.Module:
    """The plain CNN: 8x8 -> (conv 16, conv 32, pool) -> 4x4 -> (conv 64, pool) -> 2x2 -> Gemm."""
    return nn.Sequential(
        *conv_bn(1, 16, 3),
        nn.ReLU(),
        *conv_bn(16, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        *conv_bn(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, 10),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 linear project (+ input)."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            *conv_bn(cin, hidden, 1),
            nn.ReLU6(),
            *conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.ReLU6(),
            *conv_bn(hidden, cout, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block, adding the input back when the shapes match."""
        y = self.body(x)
        return x + y if self.residual else y


def make_mbv2() -> nn.Module:
    """The MobileNetV2-style net: 8x8x16 -> 4x4x24 -> 2x2x32 -> 1x1 head of 128 -> Gemm."""
    return nn.Sequential(
        *conv_bn(1, 16, 3),
        nn.ReLU6(),
        InvertedResidual(16, 16, 4, 1),
        InvertedResidual(16, 24, 4, 2),
        InvertedResidual(24, 24, 4, 1),
        InvertedResidual(24, 32, 4, 2),
        InvertedResidual(32, 32, 4, 1),
        *conv_bn(32, 128, 1),
        nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


NETS = {"digits_cnn": make_cnn, "digits_mbv2": make_mbv2}


def shifted_copies(x: np.ndarray) -> np.ndarray:
    """The training images shifted by every (dy, dx) in {-1, 0, 1}^2, zero-filled: 9x the data."""
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    shifts = [padded[:, :, dy : dy + 8, dx : dx + 8] for dy in range(3) for dx in range(3)]
    return np.concatenate(shifts)


def train(net: nn.Module, split: DigitsSplit, seed: int, epochs: int = EPOCHS) -> nn.Module:
    """Train with Adam and a cosine schedule on the shift-augmented training part; returns eval-mode net."""
    x = torch.from_numpy(shifted_copies(split.x_train))
    y = torch.from_numpy(np.tile(split.y_train, 9))
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(x) + BATCH - 1) // BATCH)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            opt.zero_grad()
            loss = loss_fn(net(x[batch]), y[batch])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(batch)
        print(f"  epoch {epoch + 1:2d}/{epochs}  loss {total / len(x):.4f}", file=sys.stderr)
    return net.eval()


def export(net: nn.Module, path: Path) -> None:
    """Export in eval mode without constant folding (BN stays a node), dynamic batch, atomically."""
    dummy = torch.zeros(1, 1, 8, 8)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # dynamo=False is deliberate (TorchScript graphs as users export them): hush its notice.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net,
                (dummy,),
                tmp,
                dynamo=False,
                opset_version=OPSET,
                training=torch.onnx.TrainingMode.EVAL,
                do_constant_folding=False,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
            )
        model = onnx.load(tmp)
        onnx.checker.check_model(model, full_check=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ort_correct(path: Path, x: np.ndarray, y: np.ndarray) -> int:
    """How many of ``x`` the ONNX model at ``path`` classifies as ``y`` under onnxruntime."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return int(np.sum(np.argmax(logits, axis=1) == y))


def op_histogram(path: Path) -> dict[str, int]:
    """Op type -> count over the model's graph, sorted by op type."""
    counts = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    return dict(sorted(counts.items()))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def readme_text(metrics: dict) -> str:
    """The models/digits/README.md describing the files, the split and the measured accuracy."""
    split = metrics["split"]
    lines = [
        "# Digits CNNs",
        "",
        "Two small CNNs trained on scikit-learn's bundled digits data set (8x8 grayscale, 10 classes),",
        "committed as ONNX test inputs for the frontend. Generated by `models/cnn/train_digits.py`;",
        "do not edit by hand.",
        "",
        "## Input",
        "",
        "`input`: float32 `N x 1 x 8 x 8`, pixel value / 16 (so in [0, 1]); output `logits`: `N x 10`.",
        f"Opset {metrics['opset']}, exported with torch {metrics['torch_version']} "
        "(`dynamo=False`, eval mode, no constant folding: BatchNormalization is kept as a node).",
        "",
        "## Split",
        "",
        "`models.cnn.digits_data.load_split()` recomputes it from `sklearn.datasets.load_digits()`: a",
        f"stratified shuffle with `numpy.random.RandomState({split['seed']})`, per class "
        f"{split['test_fraction']:.0%} test and {split['calib_fraction']:.0%} calibration, the rest train.",
        "",
        "| part | samples |",
        "|---|---|",
        f"| train | {split['train']} |",
        f"| calib | {split['calib']} |",
        f"| test | {split['test']} |",
        "",
        f"Index fingerprint (`split_fingerprint`): `{split['fingerprint']}`.",
        "",
        "## Models and fp32 test accuracy (onnxruntime)",
        "",
        "| model | file size | test accuracy | correct / total |",
        "|---|---|---|---|",
    ]
    for m in metrics["models"].values():
        lines.append(
            f"| `{m['file']}` | {m['bytes']} B | {m['fp32_test_accuracy']:.4f} "
            f"| {m['test_correct']} / {m['test_total']} |"
        )
    lines += ["", "Op types:", ""]
    for name, m in metrics["models"].items():
        ops = ", ".join(f"{op} {n}" for op, n in m["ops"].items())
        lines.append(f"- `{name}`: {ops}")
    lines += [
        "",
        "## Reproducing",
        "",
        f"    {metrics['command']}",
        "",
        f"Training is seeded (torch seed {metrics['train_seed']}, one thread, deterministic algorithms);",
        "the accuracies above were measured by that command with onnxruntime on the exported files.",
        "Other torch builds or CPUs may train to slightly different weights. `metrics.json` holds the",
        "same numbers and each file's SHA-256; tests/models/test_cnn_models.py recomputes the accuracy.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train both nets, export them, measure with onnxruntime, write metrics.json and README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("models/digits"))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    args = parser.parse_args(argv)

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    split = load_split()
    metrics = {
        "dataset": "sklearn.datasets.load_digits",
        "command": COMMAND,
        "opset": OPSET,
        "torch_version": torch.__version__.split("+")[0],
        "train_seed": args.seed,
        "split": {
            "seed": SPLIT_SEED,
            "test_fraction": TEST_FRACTION,
            "calib_fraction": CALIB_FRACTION,
            "train": len(split.y_train),
            "calib": len(split.y_calib),
            "test": len(split.y_test),
            "fingerprint": split_fingerprint(split),
        },
        "models": {},
    }
    for name, make in NETS.items():
        print(f"training {name}", file=sys.stderr)
        torch.manual_seed(args.seed)
        net = train(make(), split, args.seed, args.epochs)
        path = args.out_dir / f"{name}.onnx"
        export(net, path)
        correct = ort_correct(path, split.x_test, split.y_test)
        total = len(split.y_test)
        metrics["models"][name] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "test_correct": correct,
            "test_total": total,
            "fp32_test_accuracy": round(correct / total, 6),
            "ops": op_histogram(path),
        }
        print(f"{name}: fp32 test accuracy {correct}/{total} = {correct / total:.4f}")
    write_atomic(args.out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_atomic(args.out_dir / "README.md", readme_text(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
