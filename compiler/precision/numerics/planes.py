"""Residual ternary planes: W ≈ Σ_p α_p·T_p, each plane fitted to what the previous ones left.

Each plane occupies its own crossbar columns and the column outputs are summed digitally, so k planes
cost k times the columns of one. Every plane's scales are optimal for its own support (in weight
space here, in output space for the data-aware fitters of :mod:`.gptq`), and a zero plane is always
among the candidates, so adding a plane never increases the error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ternary import (
    DEFAULT_RTOL,
    Ternary,
    check_matrix,
    detect_ternary,
    fit_scales,
    plane_values,
    ternary_pattern,
)

# A plane fitter maps a residual [O, fan_in] (float64) to (t int8, alpha_pos, alpha_neg float32).
PlaneFitter = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def residual_planes(
    weight: np.ndarray,
    planes: int,
    fit_plane: PlaneFitter,
    *,
    keep_exact: bool = True,
    asymmetric: bool = False,
    rtol: float = DEFAULT_RTOL,
) -> Ternary:
    """Fit ``planes`` residual planes with ``fit_plane``; the generic loop behind every plane count.

    Channels that already are ternary are kept exactly in plane 0 and left zero in later planes, so
    no rounding noise from a float residual can leak into them.
    """
    w = check_matrix(weight)
    if int(planes) != planes or planes < 1:
        raise ValueError(f"planes must be a positive integer, got {planes!r}")
    o, n = w.shape
    exact = np.zeros(o, dtype=bool)
    t_exact = None
    if keep_exact:
        exact, t_exact = detect_ternary(w, asymmetric, rtol)
    ts = np.zeros((planes, o, n), dtype=np.int8)
    a_pos = np.zeros((planes, o), dtype=np.float32)
    a_neg = np.zeros((planes, o), dtype=np.float32)
    approx = np.zeros((o, n), dtype=np.float32)
    for p in range(planes):
        residual = w - approx.astype(np.float64)
        t, ap, an = fit_plane(residual)
        if p == 0 and t_exact is not None and exact.any():
            t = np.where(exact[:, None], t_exact, t).astype(np.int8)
            ep, en = fit_scales(w, t_exact, asymmetric)
            ap, an = np.where(exact, ep, ap), np.where(exact, en, an)
        elif exact.any():
            t = np.where(exact[:, None], 0, t).astype(np.int8)
            ap, an = np.where(exact, 0, ap), np.where(exact, 0, an)
        ts[p], a_pos[p], a_neg[p] = t, ap, an
        approx = approx + plane_values(t, ap, an)
    return Ternary(ts, a_pos, a_neg, exact)


def ternarize_planes(
    weight: np.ndarray,
    planes: int = 1,
    rule: str = "l2",
    *,
    factor: float = 0.7,
    sparsity: float = 0.8,
    scope: str = "channel",
    asymmetric: bool = False,
    keep_exact: bool = True,
    rtol: float = DEFAULT_RTOL,
) -> Ternary:
    """Data-free residual ternarization: every plane by ``rule`` with L2-optimal scales.

    ``rule`` and its knobs are those of :func:`.ternary.ternarize`; with ``rule="sparsity"`` every
    plane meets the sparsity target on its own.
    """

    def fit(residual: np.ndarray):
        t = ternary_pattern(
            residual, rule, factor=factor, sparsity=sparsity, scope=scope, asymmetric=asymmetric
        )
        return (t, *fit_scales(residual, t, asymmetric))

    return residual_planes(
        weight, planes, fit, keep_exact=keep_exact, asymmetric=asymmetric, rtol=rtol
    )
