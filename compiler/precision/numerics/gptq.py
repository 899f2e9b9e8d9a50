"""Data-aware ternarization: minimise the layer's output error on calibration inputs, not ||W − Ŵ||.

Given calibration activations X ``[n, fan_in]`` feeding a layer, the output error of channel o is
(w_o − ŵ_o)ᵀ H (w_o − ŵ_o) with H = XᵀX/n; channels are independent. Three tools:

* :func:`bias_correction` — shift the bias so the mean output is unchanged.
* :func:`gptq_ternarize` — GPTQ/OBQ column-by-column rounding onto each channel's ternary grid,
  spreading each column's rounding error onto the columns not yet rounded through the inverse
  Hessian (Cholesky form, lazy block updates), then refitting the scales for output error.
* :func:`output_search_ternarize` — per channel, search the support size over a grid and take the
  output-optimal scales in closed form.

All work in float64 and return :class:`.ternary.Ternary` (residual planes supported).
"""

from __future__ import annotations

import numpy as np

from .planes import residual_planes
from .ternary import (
    DEFAULT_RTOL,
    Ternary,
    check_matrix,
    fit_scales,
    l2_optimal_count,
    plane_values,
    ternary_pattern,
    top_k_mask,
)


def hessian(x: np.ndarray, fan_in: int | None = None) -> np.ndarray:
    """H = XᵀX / n in float64 from calibration inputs ``[n, fan_in]``."""
    x = check_matrix(x, "calibration inputs")
    if fan_in is not None and x.shape[1] != fan_in:
        raise ValueError(f"calibration inputs have {x.shape[1]} features, the layer has {fan_in}")
    return x.T @ x / x.shape[0]


def output_error(w: np.ndarray, w_hat: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per-channel output error (w − ŵ)ᵀ H (w − ŵ) = mean squared output difference, ``[O]``."""
    d = np.asarray(w, np.float64) - np.asarray(w_hat, np.float64)
    return ((d @ h) * d).sum(axis=1)


def bias_correction(w, w_hat, x, bias=None) -> np.ndarray:
    """Bias that keeps the mean output: b + E[X]·(W − Ŵ)ᵀ, float32 ``[O]``."""
    w = check_matrix(w)
    w_hat = check_matrix(w_hat, "approximate weight")
    x = check_matrix(x, "calibration inputs")
    if w.shape != w_hat.shape or x.shape[1] != w.shape[1]:
        raise ValueError(f"shape mismatch: W {w.shape}, Ŵ {w_hat.shape}, X {x.shape}")
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, np.float64)
    if b.shape != (w.shape[0],):
        raise ValueError(f"bias must have shape ({w.shape[0]},), got {b.shape}")
    return (b + x.mean(axis=0) @ (w - w_hat).T).astype(np.float32)


def output_optimal_scales(w, t, h, asymmetric: bool = False):
    """Scales minimising the output error of pattern ``t``; returns ``(t, α⁺, α⁻, error)``.

    Symmetric: α = tᵀHw / tᵀHt; a negative α flips the pattern instead. Asymmetric: a 2-variable
    non-negative least squares per channel (the unconstrained solution if feasible, otherwise the
    best of the one-sided and zero solutions). The zero solution is always a candidate, so the
    error never exceeds that of Ŵ = 0.
    """
    w = np.asarray(w, np.float64)
    base = ((w @ h) * w).sum(axis=1)
    if not asymmetric:
        tf = t.astype(np.float64)
        ht = tf @ h
        g = (ht * w).sum(axis=1)
        gg = (ht * tf).sum(axis=1)
        alpha = np.where(gg > 0, g / np.where(gg > 0, gg, 1.0), 0.0)
        t = np.where(alpha[:, None] < 0, -t, t).astype(np.int8)
        g = np.abs(g)
        alpha = np.abs(alpha).astype(np.float32)
        a64 = alpha.astype(np.float64)
        # Closed form of (w − αt)ᵀH(w − αt) at the float32 α actually used.
        return t, alpha, alpha.copy(), base - 2 * a64 * g + a64 * a64 * gg
    u = (t > 0).astype(np.float64)
    v = -(t < 0).astype(np.float64)
    hu, hv = u @ h, v @ h
    g0, g1 = (hu * w).sum(axis=1), (hv * w).sum(axis=1)
    a, b, c = (hu * u).sum(axis=1), (hu * v).sum(axis=1), (hv * v).sum(axis=1)
    cands = _nnls2_candidates(a, b, c, g0, g1)
    errs = [base - 2 * (p * g0 + q * g1) + p * p * a + 2 * p * q * b + q * q * c for p, q in cands]
    best = np.argmin(np.stack(errs), axis=0)
    pick = np.stack([np.stack(pq) for pq in cands])[best, :, np.arange(len(best))]
    a_pos, a_neg = pick[:, 0].astype(np.float32), pick[:, 1].astype(np.float32)
    p, q = a_pos.astype(np.float64), a_neg.astype(np.float64)
    err = base - 2 * (p * g0 + q * g1) + p * p * a + 2 * p * q * b + q * q * c
    return t.astype(np.int8), a_pos, a_neg, err


def _nnls2_candidates(a, b, c, g0, g1):
    """Feasible candidates of min (p,q)ᵀG(p,q) − 2gᵀ(p,q) with p, q ≥ 0 (infeasible → (0, 0))."""
    zero = np.zeros_like(a)
    det = a * c - b * b
    ok = det > 1e-12 * np.maximum(a * c, 1e-300)
    p = np.where(ok, (c * g0 - b * g1) / np.where(ok, det, 1.0), 0.0)
    q = np.where(ok, (a * g1 - b * g0) / np.where(ok, det, 1.0), 0.0)
    both = (p >= 0) & (q >= 0)
    p1 = np.where(a > 0, np.maximum(g0, 0) / np.where(a > 0, a, 1.0), 0.0)
    q1 = np.where(c > 0, np.maximum(g1, 0) / np.where(c > 0, c, 1.0), 0.0)
    return [
        (np.where(both, p, 0.0), np.where(both, q, 0.0)),
        (p1, zero),
        (zero, q1),
        (zero, zero),
    ]


def _inverse_cholesky(h: np.ndarray, damp: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper Cholesky factor U of (H + λI)⁻¹ (Hinv = UᵀU) and the mask of dead inputs."""
    h = h.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    lam = damp * np.mean(np.diag(h))
    h[np.diag_indices_from(h)] += lam
    # With J the index reversal, J·H·J = L·Lᵀ gives H⁻¹ = (J·L⁻¹·J)ᵀ(J·L⁻¹·J), and J·L⁻¹·J is
    # upper triangular with a positive diagonal: the factor itself, from one Cholesky and one
    # triangular inverse (a third of the work of inverting H and factoring the inverse).
    try:
        lower = np.linalg.cholesky(h[::-1, ::-1])
    except np.linalg.LinAlgError:
        raise ValueError(
            f"calibration Hessian is not positive definite with damp={damp}; use a larger damp"
        ) from None
    return np.ascontiguousarray(_lower_inverse(lower)[::-1, ::-1]), dead


def _lower_inverse(lower: np.ndarray, block: int = 128) -> np.ndarray:
    """Inverse of a lower-triangular matrix by 2×2 block recursion (matrix products only).

    [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [−C⁻¹·B·A⁻¹, C⁻¹]].
    """
    n = len(lower)
    if n <= block:
        return np.linalg.inv(lower)
    k = n // 2
    a_inv = _lower_inverse(lower[:k, :k], block)
    c_inv = _lower_inverse(lower[k:, k:], block)
    out = np.zeros_like(lower)
    out[:k, :k] = a_inv
    out[k:, k:] = c_inv
    out[k:, :k] = -(c_inv @ (lower[k:, :k] @ a_inv))
    return out


def _round_to_grid(col: np.ndarray, a_pos: np.ndarray, a_neg: np.ndarray) -> np.ndarray:
    """Nearest point of each channel's grid {−α⁻, 0, α⁺} (ties go to 0); int8 pattern."""
    up = (a_pos > 0) & (col > a_pos / 2)
    down = (a_neg > 0) & (col < -a_neg / 2)
    return up.astype(np.int8) - down.astype(np.int8)


def gptq_pattern(w, u, dead, a_pos, a_neg, block_size: int = 128, keep: float | None = None):
    """GPTQ column sweep: round column i, push its error onto columns > i via U's row i.

    ``u`` is the upper Cholesky factor of the damped inverse Hessian; inside a block the update is
    applied eagerly, past the block lazily in one matrix product (the GPTQ "lazy batch" trick).
    With ``keep`` (fraction of non-zeros), each block first fixes its support SparseGPT-style: per
    row the entries of largest saliency w²/U_ii², as many as make the running count
    round(keep·columns so far); the supported entries then round to ±α, the rest to 0.
    """
    w = np.array(w, np.float64)
    w[:, dead] = 0.0
    o, n = w.shape
    t = np.zeros((o, n), dtype=np.int8)
    ap, an = a_pos.astype(np.float64), a_neg.astype(np.float64)
    for i1 in range(0, n, block_size):
        i2 = min(i1 + block_size, n)
        blk = w[:, i1:i2].copy()
        err = np.zeros_like(blk)
        support = None
        if keep is not None:
            count = int(np.rint(keep * i2)) - int(np.rint(keep * i1))
            saliency = (blk / np.diag(u)[None, i1:i2]) ** 2
            support = top_k_mask(saliency, np.full(o, count))
        for i in range(i2 - i1):
            col = blk[:, i]
            if support is None:
                ti = _round_to_grid(col, ap, an)
            else:
                ti = (np.sign(col) * support[:, i]).astype(np.int8)
            q = np.where(ti > 0, ap, 0.0) - np.where(ti < 0, an, 0.0)
            e = (col - q) / u[i1 + i, i1 + i]
            blk[:, i + 1 :] -= np.outer(e, u[i1 + i, i1 + i + 1 : i2])
            t[:, i1 + i] = ti
            err[:, i] = e
        w[:, i2:] -= err @ u[i1:i2, i2:]
    t[:, dead] = 0
    return t


def gptq_ternarize(
    weight: np.ndarray,
    x: np.ndarray,
    planes: int = 1,
    rule: str = "l2",
    *,
    asymmetric: bool = False,
    damp: float = 0.01,
    refit: bool = True,
    keep_better: bool = True,
    block_size: int = 128,
    keep_exact: bool = True,
    rtol: float = DEFAULT_RTOL,
    **rule_options,
) -> Ternary:
    """GPTQ/OBQ-style ternarization of ``weight`` ``[O, fan_in]`` on calibration inputs ``x``.

    Per plane: an initial fit by ``rule`` (L2-optimal by default) fixes each channel's grid
    {−α⁻, 0, α⁺}; the GPTQ sweep rounds columns in order onto that grid with error feedback through
    the Cholesky factor of (H + damp·mean(diag H)·I)⁻¹. ``refit`` then replaces the scales by the
    output-optimal ones for the pattern found; ``keep_better`` keeps, per channel, whichever of the
    GPTQ and the initial fit has the lower output error on ``x`` (channels are independent, so
    this never hurts). With ``rule="sparsity"`` (per-channel scope only) the sweep keeps the
    target: every channel ends with round((1 − sparsity)·fan_in) non-zeros or fewer.
    """
    w = check_matrix(weight)
    h = hessian(x, w.shape[1])
    if not damp >= 0 or int(block_size) < 1:
        raise ValueError(
            f"need damp ≥ 0 and block_size ≥ 1, got damp={damp}, block_size={block_size}"
        )
    u, dead = _inverse_cholesky(h, damp)
    keep = None
    if rule == "sparsity":
        if rule_options.get("scope", "channel") != "channel":
            raise ValueError("GPTQ supports only the per-channel sparsity scope")
        sparsity = rule_options.get("sparsity", 0.8)
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
        keep = 1.0 - sparsity

    def fit(residual: np.ndarray):
        t0 = ternary_pattern(residual, rule, asymmetric=asymmetric, **rule_options)
        a0p, a0n = fit_scales(residual, t0, asymmetric)
        t = gptq_pattern(residual, u, dead, a0p, a0n, block_size, keep)
        if refit:
            t, ap, an, err = output_optimal_scales(residual, t, h, asymmetric)
        else:
            ap, an = a0p, a0n
            err = output_error(residual, plane_values(t, ap, an), h)
        if keep_better:
            err0 = output_error(residual, plane_values(t0, a0p, a0n), h)
            worse = err0 < err
            t = np.where(worse[:, None], t0, t).astype(np.int8)
            ap, an = np.where(worse, a0p, ap), np.where(worse, a0n, an)
        return t, ap, an

    return residual_planes(w, planes, fit, keep_exact=keep_exact, asymmetric=asymmetric, rtol=rtol)


def output_search_ternarize(
    weight: np.ndarray,
    x: np.ndarray,
    planes: int = 1,
    *,
    num: int = 32,
    sparsity: float | None = None,
    asymmetric: bool = False,
    keep_exact: bool = True,
    rtol: float = DEFAULT_RTOL,
) -> Ternary:
    """Per-channel threshold and scale chosen for output error, not weight error.

    Candidates are top-k-by-magnitude supports for ``num`` support sizes spread over 1..fan_in plus
    each channel's L2-optimal size (so the result is never worse in output error than the
    L2-optimal rule with output-optimal scales); scales are output-optimal in closed form. With
    ``sparsity`` the support size is fixed at round((1 − s)·fan_in) and only the scales are fitted.
    """
    w = check_matrix(weight)
    h = hessian(x, w.shape[1])
    n = w.shape[1]
    if sparsity is not None:
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
        grid = np.array([int(np.rint((1.0 - sparsity) * n))])
    else:
        grid = np.unique(np.rint(np.linspace(1, n, max(int(num), 1))).astype(np.int64))

    def fit(residual: np.ndarray):
        a = np.abs(residual)
        sign = np.sign(residual).astype(np.int8)
        o = residual.shape[0]
        sizes = [np.full(o, k) for k in grid]
        if sparsity is None:
            sizes.append(l2_optimal_count(a))
        best = None
        for k in sizes:
            t = (sign * top_k_mask(a, k)).astype(np.int8)
            cand = output_optimal_scales(residual, t, h, asymmetric)
            best = cand if best is None else _pick_lower(best, cand)
        return best[:3]

    return residual_planes(w, planes, fit, keep_exact=keep_exact, asymmetric=asymmetric, rtol=rtol)


def _pick_lower(a, b):
    """Per channel, the candidate (t, α⁺, α⁻, err) with the lower error; ties keep ``a``."""
    take_b = b[3] < a[3]
    return (
        np.where(take_b[:, None], b[0], a[0]).astype(np.int8),
        np.where(take_b, b[1], a[1]),
        np.where(take_b, b[2], a[2]),
        np.where(take_b, b[3], a[3]),
    )
