"""Plain-numpy quantized arithmetic for the benchmark models: ternarization and the int reference.

These functions restate the ISA's documented semantics (docs/ISA.md) in a few lines of numpy,
independently of the simulator, so the benchmark can check the simulator bit for bit:

- ``xb.mvm``: exact integer column sums per array window, each through the ADC
  ``clamp(round_half_even(y / 2^s), -2^(b-1), 2^(b-1)-1) · 2^s``, row blocks added in int;
- ``cl.requant``: ``float32(x) · scale (+ bias)`` in float32, then round half to even and clamp;
- ``cl.quant``: ``round_half_even(x / scale)`` in float32, saturated to int8;
- ``dw.conv``: int32 depthwise convolution with zero padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32
I8_MAX = 127


def ternarize(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TWN per output column: t = sign(w)·[|w| > 0.7·mean|w|], α = mean |w| over the non-zeros."""
    a = np.abs(w)
    t = np.where(a > 0.7 * a.mean(axis=0), np.sign(w), 0).astype(np.int8)
    kept = np.count_nonzero(t, axis=0)
    alpha = (a * (t != 0)).sum(axis=0) / np.maximum(kept, 1)
    return t, alpha.astype(F32)


def scale_for(x: np.ndarray) -> np.float32:
    """Symmetric int8 scale covering max|x|."""
    return F32(max(float(np.abs(x).max()), 1e-8) / I8_MAX)


@dataclass(frozen=True)
class Block:
    """A window of a layer's weight matrix: rows k0:k1, columns n0:n1, ADC step 2^shift."""

    k0: int
    k1: int
    n0: int
    n1: int
    shift: int


def adc(y: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """The ADC on exact integer column sums (int64 in, int64 out)."""
    step = 1 << shift
    half = 1 << (bits - 1)
    q = np.rint(y.astype(np.float64) / step)  # exact: |y| < 2^53
    return (np.clip(q, -half, half - 1) * step).astype(np.int64)


def grid(k: int, n: int, rows: int, cols: int) -> list[tuple[int, int, int, int]]:
    """Windows (k0, k1, n0, n1) of at most rows × cols covering a K × N matrix, row blocks slowest.

    Row blocks vary slowest so the partial sums of one output column block are added in order.
    """
    return [
        (k0, min(k0 + rows, k), n0, min(n0 + cols, n))
        for k0 in range(0, k, rows)
        for n0 in range(0, n, cols)
    ]


def choose_blocks(xq: np.ndarray, t: np.ndarray, rows: int, cols: int, bits: int) -> list[Block]:
    """Windows of ``t`` with, each, the smallest ADC step 2^s whose range holds every column sum
    of the calibration input ``xq`` (so the ADC only rounds, never clips, on that input)."""
    top = (1 << (bits - 1)) - 1
    out = []
    for k0, k1, n0, n1 in grid(t.shape[0], t.shape[1], rows, cols):
        peak = int(np.abs(_window_sums(xq, t, Block(k0, k1, n0, n1, 0))).max(initial=0))
        s = 0
        while peak > top << s:
            s += 1
        out.append(Block(k0, k1, n0, n1, s))
    return out


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b as int64, through a float64 GEMM (exact while sums stay below 2^53)."""
    bound = a.shape[-1] * float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0))
    if bound >= 2.0**53:
        raise ValueError("integer product too large for an exact float64 GEMM")
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def _window_sums(xq: np.ndarray, t: np.ndarray, b: Block) -> np.ndarray:
    return int_matmul(xq[:, b.k0 : b.k1], t[b.k0 : b.k1, b.n0 : b.n1])


def matmul(xq: np.ndarray, t: np.ndarray, bl: list[Block], bits: int | None) -> np.ndarray:
    """xb.mvm over every window (``bits=None``: ideal, no ADC), summed per output column, int64."""
    out = np.zeros((xq.shape[0], t.shape[1]), dtype=np.int64)
    for b in bl:
        y = _window_sums(xq, t, b)
        out[:, b.n0 : b.n1] += y if bits is None else adc(y, b.shift, bits)
    return out


def requant(acc, scale, bias=None, lo=-np.inf, hi=np.inf, to_int=True) -> np.ndarray:
    """cl.requant: float32 rescale, then (integer output) round half to even and clamp."""
    v = np.asarray(acc).astype(F32) * np.asarray(scale, dtype=F32)
    if bias is not None:
        v = v + np.asarray(bias, dtype=F32)
    if to_int:
        v = np.rint(v)
    return np.minimum(np.maximum(v, F32(lo)), F32(hi))


def quant(x: np.ndarray, scale) -> np.ndarray:
    """cl.quant to int8 (zero point 0)."""
    return np.clip(np.rint(np.asarray(x, dtype=F32) / F32(scale)), -128, 127)


def dwconv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """dw.conv, 3 × 3, stride 1, zero padding 1, on an H × W × C int tensor: int64 H × W × C."""
    h, wd, _ = x.shape
    xp = np.pad(x.astype(np.int64), ((1, 1), (1, 1), (0, 0)))
    return sum(
        xp[i : i + h, j : j + wd] * w[i, j].astype(np.int64) for i in range(3) for j in range(3)
    )
