"""Regenerate the example programs' .npy files (weights, scales and inputs), deterministically.

Run from anywhere: ``python examples/asm/make_data.py``. The files are committed; this script
documents where their values come from.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _save(folder: str, **arrays) -> None:
    for name, value in arrays.items():
        np.save(HERE / folder / f"{name}.npy", value, allow_pickle=False)


def mlp2(rng: np.random.Generator) -> None:
    """A 16-32-10 MLP: ternary first layer, int4 second layer, softmax output."""
    _save(
        "mlp2",
        x=rng.standard_normal((4, 16)).astype(np.float32) * 2,
        w1=rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(16, 32), p=[0.3, 0.4, 0.3]),
        w2=rng.integers(-7, 8, size=(32, 10), dtype=np.int8),
        s1=rng.uniform(0.05, 0.15, 32).astype(np.float32),
        b1=rng.uniform(-4, 4, 32).astype(np.float32),
        s2=rng.uniform(0.001, 0.004, 10).astype(np.float32),
        b2=rng.uniform(-0.5, 0.5, 10).astype(np.float32),
    )


def convnet(rng: np.random.Generator) -> None:
    """3x3 conv on the IMA, depthwise 3x3 on the depthwise unit, global pool, FC, softmax."""
    _save(
        "convnet",
        x=rng.integers(-128, 128, size=(8, 8, 3), dtype=np.int8),
        wc=rng.integers(-7, 8, size=(27, 8), dtype=np.int8),
        sc=rng.uniform(0.002, 0.006, 8).astype(np.float32),
        bc=rng.uniform(-8, 8, 8).astype(np.float32),
        wd=rng.integers(-128, 128, size=(3, 3, 8), dtype=np.int8),
        sd=rng.uniform(0.0005, 0.002, 8).astype(np.float32),
        wf=rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(8, 4)),
        sf=rng.uniform(0.01, 0.05, 4).astype(np.float32),
        bias=rng.uniform(-1, 1, 4).astype(np.float32),
    )


def fat_layer(rng: np.random.Generator) -> None:
    """A 64x64 ternary layer with exactly 80 % zero weights, 256 input vectors."""
    w = rng.choice(np.array([-1, 1], dtype=np.int8), size=(64, 64))
    w.reshape(-1)[rng.permutation(w.size)[: int(0.8 * w.size)]] = 0
    _save("fat_layer", w=w, x=rng.integers(-128, 128, size=(256, 64), dtype=np.int8))


if __name__ == "__main__":
    mlp2(np.random.default_rng(1))
    convnet(np.random.default_rng(2))
    fat_layer(np.random.default_rng(3))
