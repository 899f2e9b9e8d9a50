"""Choosing a layer's crossbar weights: ternary planes by a rule, or 8-bit codes on 4-bit cells.

Rules (``ternarize{rule=...}``):

- ``data`` (default): data-aware. The layer's target is the float model's output on its float
  input, ``X_ref·Wᵀ``, while the quantized model feeds it ``X_q`` (the output of the layers
  quantized before it). The least-squares weight for ``X_q`` is W* = (X_qᵀX_q + λI)⁻¹X_qᵀX_ref·W
  ("target-aware"), which folds the upstream error into what this layer should compute; W* is
  then ternarized GPTQ-style on H = X_qᵀX_q/n (column-by-column rounding with error feedback,
  output-optimal scales, see ``gptq.py``) and the bias is corrected so the mean output
  matches the float model's. ``sparsity`` > 0 makes the GPTQ sweep keep that fraction of zeros.
- ``l2``: per-channel L2-optimal threshold and scale (data-free);
- ``twn``: threshold ``factor``·mean|w| (TWN, 0.7 by default), L2 scale;
- ``sparsity``: the largest (1 − ``sparsity``)·K magnitudes per channel, L2 scale.

Channels that already are ternary (quantization-aware training) are detected and kept bit-exactly
by every rule, with no bias change. ``asymmetric`` gives separate positive/negative scales (TTQ).
``int8`` weights are per-channel symmetric 8-bit codes (max-abs step) held as two 4-bit planes
(``int4_pair``), bias-corrected with data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .crossbar import CrossbarWeights, int4_pair
from .gptq import gptq_ternarize
from .metrics import relative_error
from .planes import ternarize_planes
from .ternary import ternary_channels

RULES = ("data", "l2", "twn", "sparsity")
#: Ridge term of the target-aware solve, relative to the mean diagonal of X_qᵀX_q.
TARGET_DAMP = 1.0


@dataclass(frozen=True)
class WeightSpec:
    """How to quantize one layer's weights."""

    fmt: str = "ternary"
    planes: int = 1
    rule: str = "data"
    factor: float = 0.7
    sparsity: float = 0.0
    asymmetric: bool = False
    #: GPTQ damping λ/mean(diag H); larger trusts small calibration sets less.
    damp: float = 0.1

    @property
    def label(self) -> str:
        """Short name: ``t1``, ``t2``, ``t3``, ``int8`` (``a`` suffix for TTQ scales)."""
        if self.fmt == "int8":
            return "int8"
        return f"t{self.planes}" + ("a" if self.asymmetric else "")


@dataclass(frozen=True, eq=False)
class Fitted:
    """A layer's chosen weights, its new bias and the errors measured while fitting."""

    weights: CrossbarWeights
    bias: np.ndarray | None
    weight_error: float
    output_error: float
    exact_channels: int


def reference_rows_needed(spec: WeightSpec) -> bool:
    """Whether :func:`fit_layer` needs the float model's input rows ``x_ref`` themselves (the
    target-aware ternary fit) or only their column mean ``ref_mean`` (the bias correction)."""
    return spec.fmt != "int8" and spec.rule == "data"


def fit_layer(
    weight: np.ndarray,
    bias: np.ndarray | None,
    spec: WeightSpec,
    x_q: np.ndarray | None = None,
    x_ref: np.ndarray | None = None,
    *,
    ref_mean: np.ndarray | None = None,
) -> Fitted:
    """Quantize ``weight`` ``[O, K]`` by ``spec``; ``x_q``/``x_ref`` are calibration rows
    ``[n, K]`` (the quantized and the float model's inputs of the layer) for data-aware fits.
    ``ref_mean`` (``x_ref.mean(axis=0, dtype=float64)``) may stand for ``x_ref`` when
    :func:`reference_rows_needed` says so: a caller then never holds both row matrices."""
    w = np.asarray(weight, np.float32)
    exact = ternary_channels(w, spec.asymmetric)
    data = x_q is not None and (spec.rule == "data" or spec.fmt == "int8")
    if spec.fmt == "int8":
        cw = int4_pair(w)
    else:
        target = w
        if spec.rule == "data" and x_q is not None:
            target = _target_aware(w, x_q, x_ref, exact)
        cw = _ternary(target, spec, x_q)
    w_hat = cw.dense()
    new_bias = bias
    if data and (x_ref is not None or ref_mean is not None):
        if ref_mean is None:
            ref_mean = x_ref.mean(axis=0, dtype=np.float64)
        new_bias = _corrected_bias(w, w_hat, bias, x_q, ref_mean, exact)
    out_err = local_output_error(w, bias, w_hat, new_bias, x_q) if x_q is not None else float("nan")
    return Fitted(
        cw,
        new_bias,
        relative_error(w, w_hat),
        out_err,
        int(exact.sum()) if spec.fmt != "int8" else 0,
    )


def _ternary(w: np.ndarray, spec: WeightSpec, x_q: np.ndarray | None) -> CrossbarWeights:
    if spec.rule == "data" and x_q is not None:
        options = {"rule": "sparsity", "sparsity": spec.sparsity} if spec.sparsity > 0 else {}
        tern = gptq_ternarize(
            w, x_q, spec.planes, asymmetric=spec.asymmetric, damp=spec.damp, **options
        )
    elif spec.rule in ("data", "l2"):
        tern = ternarize_planes(w, spec.planes, "l2", asymmetric=spec.asymmetric)
    elif spec.rule == "twn":
        tern = ternarize_planes(
            w, spec.planes, "twn", factor=spec.factor, asymmetric=spec.asymmetric
        )
    elif spec.rule == "sparsity":
        sparsity = spec.sparsity if spec.sparsity > 0 else 0.8
        tern = ternarize_planes(
            w, spec.planes, "sparsity", sparsity=sparsity, asymmetric=spec.asymmetric
        )
    else:
        raise ValueError(f"unknown rule '{spec.rule}' (expected one of {', '.join(RULES)})")
    neg = tern.alpha_neg if spec.asymmetric else None
    return CrossbarWeights(tern.t.astype(np.int8), tern.alpha_pos, neg, "ternary")


def _target_aware(w, x_q, x_ref, exact) -> np.ndarray:
    """W* = argmin ‖X_q·W*ᵀ − X_ref·Wᵀ‖² + λ‖W* − W‖², exact channels unchanged.

    The ridge pulls W* towards W (not towards 0), so directions the calibration data does not
    excite keep the float weights instead of shrinking.
    """
    if x_ref is None or x_ref is x_q or np.array_equal(x_ref, x_q):
        return w
    xq = x_q.astype(np.float64)
    n, k = xq.shape
    lam = TARGET_DAMP * max(float(np.einsum("ij,ij->", xq, xq)) / k, 1e-12)  # mean diag XᵀX
    # With D = X_ref − X_q the normal equations give W*ᵀ = Wᵀ + (λI + XᵀX)⁻¹·Xᵀ·D·Wᵀ, and
    # (λI + XᵀX)⁻¹Xᵀ = Xᵀ(λI + XXᵀ)⁻¹: with fewer samples than inputs, an n×n solve. The
    # correction is small next to W: its products with the float32 data run in float32.
    x32 = np.asarray(x_q, np.float32)
    dw = (np.asarray(x_ref, np.float32) - x32) @ np.asarray(w, np.float32).T  # [n, O]
    if n < k:
        small = xq @ xq.T
        small[np.diag_indices_from(small)] += lam
        step = x32.T @ np.linalg.solve(small, dw).astype(np.float32)
    else:
        h = xq.T @ xq
        h[np.diag_indices_from(h)] += lam
        step = np.linalg.solve(h, xq.T @ dw)
    w_star = np.asarray(w, np.float64) + step.T
    return np.where(exact[:, None], w, w_star.astype(np.float32))


def _corrected_bias(w, w_hat, bias, x_q, ref_mean, exact) -> np.ndarray | None:
    """b' = b + E[X_ref]·Wᵀ − E[X_q]·Ŵᵀ: the float model's mean output is kept (``ref_mean``
    is E[X_ref], in float64)."""
    delta = ref_mean @ w.T.astype(np.float64)
    delta -= x_q.mean(axis=0, dtype=np.float64) @ w_hat.T.astype(np.float64)
    delta = np.where(exact, 0.0, delta)
    if not delta.any():
        return bias
    base = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
    return (base + delta).astype(np.float32)


#: Local errors are estimated on at most this many input rows (evenly spaced).
ERROR_SAMPLE_ROWS = 1024


def local_output_error(w, bias, w_hat, new_bias, x) -> float:
    """‖y − ŷ‖/‖y‖ of this layer alone on inputs ``x``: y = x·Wᵀ + b, ŷ = x·Ŵᵀ + b'."""
    x = np.asarray(x, np.float32)
    if x.shape[0] > ERROR_SAMPLE_ROWS:
        x = x[np.linspace(0, x.shape[0] - 1, ERROR_SAMPLE_ROWS).astype(np.int64)]
    y = x @ w.T + (0 if bias is None else bias)
    y_hat = x @ w_hat.T + (0 if new_bias is None else new_bias)
    return relative_error(y, y_hat)


def fit_candidates(
    weight: np.ndarray, bias: np.ndarray | None, specs: list[WeightSpec], x: np.ndarray
) -> list[Fitted]:
    """Fits for several specs of one layer on float inputs ``x``, sharing work: residual planes
    are fitted in order, so the first k planes of one data-aware k_max-plane fit are the k-plane
    fit, and one GPTQ run serves every plane count (per scale symmetry)."""
    w = np.asarray(weight, np.float32)
    out: dict[int, Fitted] = {}
    for asym in (False, True):
        group = [i for i, s in enumerate(specs) if s.fmt == "ternary" and s.asymmetric == asym]
        if not group:
            continue
        top = max(specs[i].planes for i in group)
        tern = gptq_ternarize(w, x, top, asymmetric=asym, damp=specs[group[0]].damp)
        exact = tern.exact
        for i in group:
            k = specs[i].planes
            neg = tern.alpha_neg[:k] if asym else None
            cw = CrossbarWeights(tern.t[:k].astype(np.int8), tern.alpha_pos[:k], neg, "ternary")
            out[i] = _finish(w, bias, cw, x, exact)
    for i, s in enumerate(specs):
        if s.fmt == "int8":
            cw = int4_pair(w)
            out[i] = _finish(w, bias, cw, x, np.zeros(w.shape[0], bool))
    return [out[i] for i in range(len(specs))]


def _finish(w, bias, cw: CrossbarWeights, x, exact) -> Fitted:
    w_hat = cw.dense()
    new_bias = _corrected_bias(w, w_hat, bias, x, x.mean(axis=0, dtype=np.float64), exact)
    err = local_output_error(w, bias, w_hat, new_bias, x)
    return Fitted(cw, new_bias, relative_error(w, w_hat), err, int(exact.sum()))
