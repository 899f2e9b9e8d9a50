"""Per-output-channel ternarization rules: W ≈ α⁺·[T > 0] − α⁻·[T < 0].

Conventions shared by the whole `quant` package:

* A layer's weight is a 2-D matrix ``W`` of shape ``[out_channels, fan_in]``; convolution weights
  (OIHW) are flattened to ``O × (I·H·W)`` with :func:`as_matrix`.
* Everything is per output channel (one row of ``W``): threshold, support and scales. A row's scales
  fold into the crossbar column's output scale, so they cost nothing at run time.
* A ternary approximation is a :class:`Ternary`: ``t`` int8 ``[planes, O, fan_in]`` in {−1, 0, 1}
  and float32 scales ``alpha_pos`` / ``alpha_neg`` ``[planes, O]``. Symmetric rules (TWN, L2-optimal)
  give ``alpha_pos == alpha_neg``; TTQ-style asymmetric scales differ.

A rule only picks the support (which weights are non-zero); the scales are then the L2-optimal ones
for that support (:func:`fit_scales`). That is what makes every rule's error never exceed ``||W||²``
and lets residual planes reduce the error monotonically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Relative tolerance for recognising an already-ternary channel: a few float32 ulps.
DEFAULT_RTOL = 1e-6


@dataclass(frozen=True, eq=False)
class Ternary:
    """Residual ternary planes of a weight matrix: W ≈ Σ_p (α⁺_p·[T_p > 0] − α⁻_p·[T_p < 0]).

    ``t`` is int8 ``[planes, O, fan_in]``; ``alpha_pos`` / ``alpha_neg`` are float32 ``[planes, O]``;
    ``exact`` is bool ``[O]``, true for channels recognised as already ternary and kept as they were.
    """

    t: np.ndarray
    alpha_pos: np.ndarray
    alpha_neg: np.ndarray
    exact: np.ndarray

    @property
    def planes(self) -> int:
        """Number of residual planes."""
        return int(self.t.shape[0])

    @property
    def symmetric(self) -> bool:
        """True when every plane uses one scale per channel for both signs."""
        return bool(np.array_equal(self.alpha_pos, self.alpha_neg))

    @property
    def alpha(self) -> np.ndarray:
        """The single per-channel scale ``[planes, O]`` of a symmetric approximation."""
        if not self.symmetric:
            raise ValueError("ternary approximation has separate positive/negative scales")
        return self.alpha_pos

    def dequantize(self) -> np.ndarray:
        """The float32 matrix ``[O, fan_in]`` the planes represent, summed in plane order."""
        out = np.zeros(self.t.shape[1:], dtype=np.float32)
        for p in range(self.planes):
            out += plane_values(self.t[p], self.alpha_pos[p], self.alpha_neg[p])
        return out

    def sparsity(self) -> np.ndarray:
        """Fraction of zeros per plane, float64 ``[planes]``."""
        return (self.t == 0).mean(axis=(1, 2))


def plane_values(t: np.ndarray, alpha_pos: np.ndarray, alpha_neg: np.ndarray) -> np.ndarray:
    """float32 values of one plane: α⁺ where t > 0, −α⁻ where t < 0, 0 elsewhere.

    Products with exact 0/1 masks keep the scale bit-exact, which already-ternary weights rely on.
    """
    pos = np.float32(1) * (t > 0)
    neg = np.float32(1) * (t < 0)
    a_pos = np.asarray(alpha_pos, np.float32)[:, None]
    a_neg = np.asarray(alpha_neg, np.float32)[:, None]
    return (a_pos * pos - a_neg * neg).astype(np.float32)


def as_matrix(weight: np.ndarray) -> np.ndarray:
    """View a layer weight as ``[out_channels, fan_in]``: OIHW conv → O×(I·H·W); 2-D unchanged."""
    w = np.asarray(weight)
    if w.ndim < 2:
        raise ValueError(f"weight must have at least 2 dims [out, ...], got shape {w.shape}")
    return w.reshape(w.shape[0], -1)


def check_matrix(w: np.ndarray, what: str = "weight") -> np.ndarray:
    """Validate a 2-D finite float matrix and return it as float64 (the working precision)."""
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"{what} must be 2-D [out_channels, fan_in], got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"{what} is empty (shape {w.shape})")
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(w.dtype, np.integer):
        raise ValueError(f"{what} must be numeric, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return w


def fit_scales(w: np.ndarray, t: np.ndarray, asymmetric: bool = False):
    """L2-optimal scales for a fixed ternary pattern ``t`` (sign-aligned with ``w``).

    Symmetric: α = mean |w| over the support. Asymmetric (TTQ): α⁺ = mean w over t > 0,
    α⁻ = mean −w over t < 0. Channels with an empty support get 0. Returns float32 ``(α⁺, α⁻)``.
    """
    w = np.asarray(w, np.float64)
    if not asymmetric:
        alpha = _masked_mean(np.abs(w), t != 0)
        return alpha, alpha.copy()
    return _masked_mean(w, t > 0), _masked_mean(-w, t < 0)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=1)
    total = np.where(mask, values, 0.0).sum(axis=1)
    return (total / np.maximum(count, 1)).astype(np.float32)


def top_k_mask(magnitude: np.ndarray, k: np.ndarray, srt: np.ndarray | None = None) -> np.ndarray:
    """Mask of the ``k[o]`` largest entries of each row (ties broken by position, deterministic):
    the entries above the row's k-th largest value, then the first ones equal to it.

    ``srt``: the rows sorted in descending order (`descending`), when the caller has them."""
    if srt is None:
        srt = descending(magnitude)
    k = np.asarray(k)
    n = magnitude.shape[1]
    if n == 0:
        return np.zeros(magnitude.shape, bool)
    kth = np.take_along_axis(srt, (np.clip(k, 1, n) - 1)[:, None], axis=1)
    above = magnitude > kth
    tie = magnitude == kth
    room = k[:, None] - above.sum(axis=1, keepdims=True)
    return (above | (tie & (np.cumsum(tie, axis=1) <= room))) & (k[:, None] > 0)


def descending(magnitude: np.ndarray) -> np.ndarray:
    """Each row's values from largest to smallest."""
    return -np.sort(-magnitude, axis=1)


def l2_optimal_count(magnitude: np.ndarray, srt: np.ndarray | None = None) -> np.ndarray:
    """Per row, the support size k minimising ||m − α·[top-k]||² with the optimal α.

    With the k largest magnitudes kept and α their mean, the error is ||m||² − (Σ top-k)²/k, so the
    best k maximises (Σ top-k)²/k; one sort and one cumsum cover every k at once. Rows with no
    positive entry get k = 0. ``srt``: the rows sorted in descending order, when known.
    """
    if srt is None:
        srt = descending(magnitude)
    csum = np.cumsum(srt, axis=1)
    score = csum**2 / np.arange(1, magnitude.shape[1] + 1)[None, :]
    k = np.argmax(score, axis=1) + 1
    return np.where(csum[:, -1] > 0, k, 0)


def support_twn(w: np.ndarray, factor: float = 0.7) -> np.ndarray:
    """TWN (Li & Liu 2016): keep |w| > factor·mean|w| per channel."""
    a = np.abs(w)
    delta = factor * a.mean(axis=1, keepdims=True)
    return a > delta


def support_l2(w: np.ndarray) -> np.ndarray:
    """Exact L2-optimal support per channel (see :func:`l2_optimal_count`)."""
    a = np.abs(w)
    srt = descending(a)  # one sort serves both the count and the mask
    return top_k_mask(a, l2_optimal_count(a, srt), srt)


def support_sparsity(w: np.ndarray, sparsity: float, scope: str = "channel") -> np.ndarray:
    """Keep the largest magnitudes so that a fraction ``sparsity`` of weights is zero.

    ``scope="channel"``: every row keeps round((1 − s)·fan_in) entries, so each row's zero count is
    within half an element of s·fan_in. ``scope="tensor"``: one global threshold (the s-quantile
    of |W|), so only the whole tensor meets the target and rows vary.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    a = np.abs(w)
    o, n = a.shape
    if scope == "channel":
        keep = int(np.rint((1.0 - sparsity) * n))
        return top_k_mask(a, np.full(o, keep))
    if scope == "tensor":
        keep = int(np.rint((1.0 - sparsity) * a.size))
        return top_k_mask(a.reshape(1, -1), np.array([keep])).reshape(o, n)
    raise ValueError(f"sparsity scope must be 'channel' or 'tensor', got {scope!r}")


def support_l2_asymmetric(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-optimal supports with separate positive/negative scales.

    With α⁺ and α⁻ free, the positive and negative weights of a row do not interact, so each side is
    its own one-sided L2-optimal problem. Returns ``(positive mask, negative mask)``.
    """
    pos, neg = np.maximum(w, 0.0), np.maximum(-w, 0.0)
    return top_k_mask(pos, l2_optimal_count(pos)), top_k_mask(neg, l2_optimal_count(neg))


def detect_ternary(w: np.ndarray, asymmetric: bool = False, rtol: float = DEFAULT_RTOL):
    """Find channels that already are ternary: values in {−a, 0, +a} ({−a⁻, 0, +a⁺} if asymmetric).

    Magnitudes within ``rtol``·max|w| of each other count as equal and |w| ≤ rtol·max|w| counts as
    zero. Returns ``(mask [O], t int8 [O, fan_in])``; the L2 scales of that ``t`` reproduce the
    channel bit-exactly when its values are exactly equal (a float64 mean of equal float32 values is
    that value).
    """
    ok, w, nonzero = _ternary_support(w, asymmetric, rtol)
    t = (np.sign(w) * nonzero).astype(np.int8)
    return ok, t


def ternary_channels(w: np.ndarray, asymmetric: bool = False, rtol: float = DEFAULT_RTOL):
    """The mask ``[O]`` of :func:`detect_ternary` alone (no cells), for fits that only need to
    know which channels to leave alone."""
    return _ternary_support(w, asymmetric, rtol)[0]


def _ternary_support(w: np.ndarray, asymmetric: bool, rtol: float):
    """``(mask, w, nonzero)`` for :func:`detect_ternary`.

    A float32 weight is examined in float32: |w|, its maxima and minima are exact there, and the
    comparisons with the float64 tolerances promote each element exactly, so the result is the
    float64 computation's without a float64 copy (and temporaries) of a large layer.
    """
    w = np.asarray(w)
    if w.dtype != np.float32:
        w = w.astype(np.float64, copy=False)
    a = np.abs(w)
    tol = rtol * a.max(axis=1).astype(np.float64)
    nonzero = a > tol[:, None]
    if asymmetric:
        ok = _tight(a, nonzero & (w > 0), tol) & _tight(a, nonzero & (w < 0), tol)
    else:
        ok = _tight(a, nonzero, tol)
    return ok, w, nonzero


def _tight(a: np.ndarray, mask: np.ndarray, tol: np.ndarray) -> np.ndarray:
    hi = np.where(mask, a, -np.inf).max(axis=1).astype(np.float64)
    lo = np.where(mask, a, np.inf).min(axis=1).astype(np.float64)
    return ~mask.any(axis=1) | (hi - lo <= tol)


RULES = ("twn", "l2", "sparsity")


def ternary_pattern(
    w: np.ndarray,
    rule: str = "l2",
    *,
    factor: float = 0.7,
    sparsity: float = 0.8,
    scope: str = "channel",
    asymmetric: bool = False,
) -> np.ndarray:
    """The int8 ternary pattern ``[O, fan_in]`` chosen by ``rule`` (no exactness handling).

    Rules: ``"twn"`` (threshold factor·mean|w|), ``"l2"`` (exact L2-optimal threshold, solved per
    sign when ``asymmetric``), ``"sparsity"`` (target fraction of zeros, per channel or tensor).
    """
    w = np.asarray(w, np.float64)
    sign = np.sign(w)
    if rule == "twn":
        mask = support_twn(w, factor)
    elif rule == "l2" and asymmetric:
        pos, neg = support_l2_asymmetric(w)
        return (pos.astype(np.int8) - neg.astype(np.int8)).astype(np.int8)
    elif rule == "l2":
        mask = support_l2(w)
    elif rule == "sparsity":
        mask = support_sparsity(w, sparsity, scope)
    else:
        raise ValueError(
            f"unknown ternarization rule {rule!r} (expected one of {', '.join(RULES)})"
        )
    # A zero weight inside the support (possible with a sparsity target) stays zero.
    return (sign * mask).astype(np.int8)


def ternarize(
    weight: np.ndarray,
    rule: str = "l2",
    *,
    factor: float = 0.7,
    sparsity: float = 0.8,
    scope: str = "channel",
    asymmetric: bool = False,
    keep_exact: bool = True,
    rtol: float = DEFAULT_RTOL,
) -> Ternary:
    """One ternary plane of ``weight`` ``[O, fan_in]`` by ``rule`` with L2-optimal scales.

    With ``keep_exact`` (default), channels that already are ternary (see :func:`detect_ternary`)
    keep their own values regardless of the rule. ``asymmetric`` gives TTQ-style α⁺ ≠ α⁻.
    """
    w = check_matrix(weight)
    t = ternary_pattern(
        w, rule, factor=factor, sparsity=sparsity, scope=scope, asymmetric=asymmetric
    )
    exact = np.zeros(w.shape[0], dtype=bool)
    if keep_exact:
        exact, t_exact = detect_ternary(w, asymmetric, rtol)
        t = np.where(exact[:, None], t_exact, t).astype(np.int8)
    a_pos, a_neg = fit_scales(w, t, asymmetric)
    return Ternary(t[None], a_pos[None], a_neg[None], exact)
