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


class Gram:
    """H = XᵀX/n of calibration inputs X ``[n, fan_in]``, for row-wise forms aᵢᵀ·H·bᵢ.

    With fewer samples than inputs (512 tokens into a 4096-wide layer) H has rank n at most and
    the forms go through X: (a·Xᵀ)·(b·Xᵀ)ᵀ/n costs n·fan_in per row instead of fan_in², and H
    itself is never formed. The images a·Xᵀ are float32 products (X comes as float32 data), the
    forms float64 sums of them.
    """

    def __init__(self, h: np.ndarray | None = None, x: np.ndarray | None = None):
        self._h = h
        self.x = None if x is None else np.asarray(x, np.float64)
        n, k = (0, 0) if x is None else self.x.shape
        self.low_rank = 0 < n < k
        self._xt = (
            np.ascontiguousarray(self.x.T / np.sqrt(n), np.float32) if self.low_rank else None
        )

    @classmethod
    def of(cls, x: np.ndarray, fan_in: int | None = None) -> Gram:
        x = check_matrix(x, "calibration inputs")
        if fan_in is not None and x.shape[1] != fan_in:
            raise ValueError(
                f"calibration inputs have {x.shape[1]} features, the layer has {fan_in}"
            )
        return cls(None, x)

    @property
    def h(self) -> np.ndarray:
        if self._h is None:
            self._h = hessian(self.x)
        return self._h

    def diagonal(self) -> np.ndarray:
        """diag H, without forming H."""
        if self._h is not None:
            return np.diag(self._h).copy()
        return np.einsum("ij,ij->j", self.x, self.x) / self.x.shape[0]

    def sides(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) images of rows ``a``: aᵢᵀ·H·bᵢ = Σ left(a)ᵢ · right(b)ᵢ."""
        if self._xt is not None:
            image = np.asarray(a, np.float32) @ self._xt
            return image, image
        a = np.asarray(a, np.float64)
        return a @ self.h, a


def _gram(h) -> Gram:
    return h if isinstance(h, Gram) else Gram(np.asarray(h, np.float64))


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b, dtype=np.float64)


def output_error(w: np.ndarray, w_hat: np.ndarray, h) -> np.ndarray:
    """Per-channel output error (w − ŵ)ᵀ H (w − ŵ) = mean squared output difference, ``[O]``
    (``h``: H or its :class:`Gram`)."""
    d = np.asarray(w, np.float64) - np.asarray(w_hat, np.float64)
    return _rowdot(*_gram(h).sides(d))


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
    """Scales minimising the output error of pattern ``t``; returns ``(t, α⁺, α⁻, error)``
    (``h``: H or its :class:`Gram`).

    Symmetric: α = tᵀHw / tᵀHt; a negative α flips the pattern instead. Asymmetric: a 2-variable
    non-negative least squares per channel (the unconstrained solution if feasible, otherwise the
    best of the one-sided and zero solutions). The zero solution is always a candidate, so the
    error never exceeds that of Ŵ = 0.
    """
    gram = _gram(h)
    lw, rw = gram.sides(w)
    base = _rowdot(lw, rw)
    if not asymmetric:
        lt, rt = gram.sides(t)
        g = _rowdot(lt, rw)
        gg = _rowdot(lt, rt)
        alpha = np.where(gg > 0, g / np.where(gg > 0, gg, 1.0), 0.0)
        t = np.where(alpha[:, None] < 0, -t, t).astype(np.int8)
        g = np.abs(g)
        alpha = np.abs(alpha).astype(np.float32)
        a64 = alpha.astype(np.float64)
        # Closed form of (w − αt)ᵀH(w − αt) at the float32 α actually used.
        return t, alpha, alpha.copy(), base - 2 * a64 * g + a64 * a64 * gg
    lu, ru = gram.sides((t > 0).astype(np.float64))
    lv, rv = gram.sides(-(t < 0).astype(np.float64))
    g0, g1 = _rowdot(lu, rw), _rowdot(lv, rw)
    a, b, c = _rowdot(lu, ru), _rowdot(lu, rv), _rowdot(lv, rv)
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


def _damped_diagonal(gram: Gram, damp: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(diag H with dead inputs set to 1, the dead mask, λ = damp·mean of that diagonal)."""
    diag = gram.diagonal()
    dead = diag == 0
    diag[dead] = 1.0
    return diag, dead, damp * float(np.mean(diag)) if diag.size else 0.0


def _not_positive_definite(damp: float) -> ValueError:
    return ValueError(
        f"calibration Hessian is not positive definite with damp={damp}; use a larger damp"
    )


class DenseFactor:
    """The upper Cholesky factor U of (H + λI)⁻¹ = UᵀU, held explicitly (dead inputs get a
    unit diagonal in H first)."""

    def __init__(self, gram: Gram, damp: float, block_size: int = 128):
        diag, self.dead, lam = _damped_diagonal(gram, damp)
        h = gram.h.copy()
        h[np.diag_indices_from(h)] = diag + lam
        # With J the index reversal, J·H·J = L·Lᵀ gives H⁻¹ = (J·L⁻¹·J)ᵀ(J·L⁻¹·J), and J·L⁻¹·J
        # is upper triangular with a positive diagonal: the factor itself.
        try:
            inverse = _inverse_cholesky_factor(np.ascontiguousarray(h[::-1, ::-1]))
        except np.linalg.LinAlgError:
            raise _not_positive_definite(damp) from None
        self.u = np.ascontiguousarray(inverse[::-1, ::-1])
        self.block_size = block_size

    def diagonal_block(self, i1: int, i2: int) -> np.ndarray:
        return self.u[i1:i2, i1:i2]

    def start(self, outputs: int):
        return None

    def earlier(self, state, i1: int, i2: int, err: np.ndarray) -> np.ndarray:
        """Σ over columns i < i1 of err_i·U[i, i1:i2], per column of the block ``[b, O]``."""
        return self.u[:i1, i1:i2].T @ err[:i1]

    def finish_block(self, state, i1: int, i2: int, e: np.ndarray):
        return state


class LowRankFactor:
    """U of (D + ZZᵀ)⁻¹ = UᵀU, with D = λI (+1 on dead inputs) and Z = Xᵀ/√n of rank n below
    the fan-in, never formed. By Woodbury the inverse is D⁻¹ − YYᵀ with Y = D⁻¹Z·L_C⁻ᵀ and
    C = I + ZᵀD⁻¹Z = L_C·L_Cᵀ. Its Cholesky factor, taken a block B of columns at a time with
    the trailing Schur complement kept as D⁻¹ − Y·M·Yᵀ (M n×n, I at first), has the diagonal
    block R_BB from A_BB = D⁻¹_B − P·Y_Bᵀ (P = Y_B·M) and the rows right of it G_B·Yᵀ with
    G_B = −R_BB⁻ᵀ·P; then M += G_BᵀG_B. So U[B, later] is G_B·Y_laterᵀ: the sweep pushes a
    block's errors into S = Σ G_Bᵀ·E_B (n×O) and a later block reads Y_B·S. O(fan_in·n²)
    instead of O(fan_in³).
    """

    def __init__(self, gram: Gram, damp: float, block_size: int = 128):
        diag, self.dead, lam = _damped_diagonal(gram, damp)
        x = gram.x
        n, k = x.shape
        d = np.where(self.dead, 1.0, 0.0) + lam
        if not (d > 0).all():
            raise _not_positive_definite(damp)
        z = x.T / np.sqrt(n)  # [K, n]
        dz = z / d[:, None]
        c = z.T @ dz
        c[np.diag_indices_from(c)] += 1.0
        try:
            y = dz @ np.linalg.inv(np.linalg.cholesky(c)).T
        except np.linalg.LinAlgError:
            raise _not_positive_definite(damp) from None
        self.y = y
        self.block_size = block_size
        self.blocks: list[np.ndarray] = []
        self.generators: list[np.ndarray] = []
        m = np.eye(n)
        for i1 in range(0, k, block_size):
            yb = y[i1 : i1 + block_size]
            p = yb @ m
            a = -(p @ yb.T)
            a[np.diag_indices_from(a)] += 1.0 / d[i1 : i1 + block_size]
            try:
                lower = np.linalg.cholesky(a)
            except np.linalg.LinAlgError:
                raise _not_positive_definite(damp) from None
            g = -(np.linalg.inv(lower) @ p)
            m += g.T @ g
            self.blocks.append(np.ascontiguousarray(lower.T))
            self.generators.append(g)

    def diagonal_block(self, i1: int, i2: int) -> np.ndarray:
        return self.blocks[i1 // self.block_size]

    def start(self, outputs: int) -> np.ndarray:
        return np.zeros((self.y.shape[1], outputs))

    def earlier(self, state, i1: int, i2: int, err: np.ndarray) -> np.ndarray:
        return self.y[i1:i2] @ state

    def finish_block(self, state, i1: int, i2: int, e: np.ndarray) -> np.ndarray:
        state += self.generators[i1 // self.block_size].T @ e
        return state


def inverse_factor(gram: Gram, damp: float, block_size: int = 128):
    """The sweep's factor of the damped inverse Hessian: implicit when the calibration set has
    at most half as many samples as the layer has inputs (then it is far cheaper), else dense."""
    if gram.low_rank and 2 * gram.x.shape[0] <= gram.x.shape[1]:
        return LowRankFactor(gram, damp, block_size)
    return DenseFactor(gram, damp, block_size)


def _inverse_cholesky_factor(a: np.ndarray, block: int = 256) -> np.ndarray:
    """L⁻¹ for the lower Cholesky factor L of a positive definite ``a``, by 2×2 block recursion
    (matrix products only, L itself is never formed): for a = [[A, Bᵀ], [B, C]], S = B·L_A⁻ᵀ and
    the Schur complement C − S·Sᵀ = L_C·L_Cᵀ give L⁻¹ = [[L_A⁻¹, 0], [−L_C⁻¹·S·L_A⁻¹, L_C⁻¹]]."""
    n = len(a)
    if n <= block:
        return np.linalg.inv(np.linalg.cholesky(a))
    k = n // 2
    a_inv = _inverse_cholesky_factor(a[:k, :k], block)
    s = a[k:, :k] @ a_inv.T
    c_inv = _inverse_cholesky_factor(a[k:, k:] - s @ s.T, block)
    out = np.zeros_like(a)
    out[:k, :k] = a_inv
    out[k:, k:] = c_inv
    out[k:, :k] = -(c_inv @ (s @ a_inv))
    return out


def gptq_pattern(w, factor, a_pos, a_neg, keep: float | None = None):
    """GPTQ column sweep: round column i, push its error onto columns > i via U's row i.

    ``factor`` is the upper Cholesky factor U of the damped inverse Hessian (`inverse_factor`),
    its blocks as wide as the sweep's. The errors reach a column
    when its turn comes: a block of columns first takes those of every earlier block in one
    matrix product (the GPTQ "lazy batch" trick, left-looking), then each column those of the
    block's earlier columns. Columns are held as rows, so each is contiguous. With ``keep``
    (fraction of non-zeros), each block first fixes its support SparseGPT-style: per row the
    entries of largest saliency w²/U_ii², as many as make the running count round(keep·columns so
    far); the supported entries then round to ±α, the rest to 0. Ties round to 0.
    """
    wt = np.array(np.asarray(w, np.float64).T)  # [fan_in, O]: column i is row i
    dead, block_size = factor.dead, factor.block_size
    wt[dead] = 0.0
    n, o = wt.shape
    tt = np.zeros((n, o), dtype=np.int8)
    err = np.zeros((n, o))  # row i: column i's rounding error over U_ii
    ap, an = a_pos.astype(np.float64), a_neg.astype(np.float64)
    up_at = np.where(ap > 0, ap / 2, np.inf)  # round up above α⁺/2, down below −α⁻/2
    down_at = np.where(an > 0, -an / 2, -np.inf)
    state = factor.start(o)
    for i1 in range(0, n, block_size):
        i2 = min(i1 + block_size, n)
        ub = factor.diagonal_block(i1, i2)
        blk = wt[i1:i2] - factor.earlier(state, i1, i2, err) if i1 else wt[i1:i2]
        e = err[i1:i2]
        support = None
        if keep is not None:
            count = int(np.rint(keep * i2)) - int(np.rint(keep * i1))
            saliency = (blk / np.diag(ub)[:, None]) ** 2
            support = top_k_mask(saliency.T, np.full(o, count)).T
        for j in range(i2 - i1):
            col = blk[j] - ub[:j, j] @ e[:j] if j else blk[0]
            if support is None:
                up, down = col > up_at, col < down_at
            else:
                up, down = support[j] & (col > 0), support[j] & (col < 0)
            tt[i1 + j] = up.astype(np.int8) - down
            e[j] = (col - (np.where(up, ap, 0.0) - np.where(down, an, 0.0))) / ub[j, j]
        state = factor.finish_block(state, i1, i2, e)
    tt[dead] = 0
    return np.ascontiguousarray(tt.T)


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
    h = Gram.of(x, w.shape[1])
    if not damp >= 0 or int(block_size) < 1:
        raise ValueError(
            f"need damp ≥ 0 and block_size ≥ 1, got damp={damp}, block_size={block_size}"
        )
    factor = inverse_factor(h, damp, int(block_size))
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
        t = gptq_pattern(residual, factor, a0p, a0n, keep)
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
    h = Gram.of(x, w.shape[1])
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
