"""Three-step estimation (Vermunt 2010; Bakk, Tekle & Vermunt 2013): relate the classes of a
finished latent class model to household features (a multinomial logit of class membership)
and to distal outcomes (class means or shares), without moving the classes, correcting for
the classification error of modal assignment — as LatentGOLD's Step3 and StepMix do.

Step 1 is the fitted LCA (its posteriors r_ik); step 2 assigns each household to its modal
class and measures the classification error D[c, s] = P(assigned s | true c) =
Σ_i w_i r_ic [s_i = s] / Σ_i w_i r_ic; step 3:

* BCH (Bolck, Croon & Hagenaars 2004; Vermunt 2010): each household gets weights
  d_i = (row s_i of D⁻¹) over the classes (some negative) and the step-3 model is fitted to
  them directly — a weighted multinomial logit, or weighted class means of an outcome. Standard
  errors: the sandwich H⁻¹ (Σ w g g') H⁻¹ of that weighted fit.
* ML (Vermunt 2010): a latent class model with one indicator, the assigned class, whose
  emission probabilities are D (fixed), and the covariates' logit (or the outcome's class
  distribution) as the structural model; EM to convergence. Standard errors: the observed
  information of that likelihood (Louis' formula, D held fixed).

Distal outcomes: numeric (class means; ML with a normal of its own variance in each class, as
StepMix's `gaussian_diag`), binary and categorical (class shares of each level). ML standard
errors come from the observed information of all step-3 parameters (class sizes included) by
Louis' formula; BCH's from the sandwich of its estimating equations. Case weights are frequency
weights throughout, and rows identical in what step 3 reads (assigned class and feature or
outcome) are fitted once with their summed weight.

All agree with StepMix 3.0's `n_steps=3, correction="BCH"|"ML"` (tests/expected/
three_step_stepmix.json).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from backend.errors import DataError
from backend.schemas.logit import CovariateTerm
from backend.schemas.three_step import (
    CovariateEffects,
    DistalEstimate,
    DistalOutcome,
    DistalTest,
    ThreeStepResult,
)

log = logging.getLogger(__name__)

LOG_FLOOR = 1e-15  # StepMix clips D to [1e-15, 1 − 1e-15] before its log


def modal_onehot(post: np.ndarray) -> np.ndarray:
    out = np.zeros_like(post)
    out[np.arange(len(post)), post.argmax(axis=1)] = 1.0
    return out


def classification_error(post: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """D[c, s] = P(modal class s | true class c) (rows sum to one)."""
    w = np.ones(len(post)) if w is None else w
    Rw = post * w[:, None]
    return (Rw.T @ modal_onehot(post)) / Rw.sum(axis=0)[:, None]


def softmax_rows(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LogitFit:
    beta: np.ndarray  # terms × K, reference column (0) zero
    cov: np.ndarray  # covariance of the free coefficients: class-major (class 2 terms, …)
    loglik: float
    iterations: int
    converged: bool


def slope_penalty(q: int, K: int, ridge: float) -> np.ndarray:
    """The normal prior's precision per free coefficient (class-major; the intercept, term 0,
    is not penalised)."""
    one = np.full(q, ridge)
    one[0] = 0.0
    return np.tile(one, K - 1)


def _free(beta: np.ndarray) -> np.ndarray:
    return np.concatenate([beta[:, c] for c in range(1, beta.shape[1])])


def _newton_logit(
    Z: np.ndarray,
    A: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    max_iter: int,
    tol: float,
    ridge: float = 0.0,
) -> tuple[np.ndarray, int, bool]:
    """Maximises Σ_i w_i Σ_k A_ik log softmax(z_i β)_k − ridge/2 Σ slopes² over β (column 0
    fixed at zero) by Newton steps; A may hold negative entries (BCH weights) as long as each
    row sums to one."""
    K = A.shape[1]
    q = Z.shape[1]
    pen = slope_penalty(q, K, ridge)
    for it in range(1, max_iter + 1):
        P = softmax_rows(Z @ beta)
        mass = A.sum(axis=1)
        grad = np.concatenate([Z.T @ (w * (A[:, c] - mass * P[:, c])) for c in range(1, K)])
        grad -= pen * _free(beta)
        H = _logit_hessian(Z, w * mass, P) + np.diag(pen)
        step = np.linalg.solve(H + 1e-12 * np.eye(len(H)), grad)
        for c in range(1, K):
            beta[:, c] += step[(c - 1) * q : c * q]
        if np.max(np.abs(step)) < tol:
            return beta, it, True
    return beta, max_iter, False


def _logit_hessian(Z: np.ndarray, v: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Σ_i v_i z_i z_i' ⊗ (diag π_i − π_i π_i') over the free classes 1..K−1."""
    K, q = P.shape[1], Z.shape[1]
    H = np.zeros(((K - 1) * q, (K - 1) * q))
    for a in range(1, K):
        for b in range(1, K):
            weight = v * P[:, a] * ((a == b) - P[:, b])
            H[(a - 1) * q : a * q, (b - 1) * q : b * q] = (Z * weight[:, None]).T @ Z
    return H


def bch_covariates(
    post: np.ndarray,
    Z: np.ndarray,
    w: np.ndarray | None = None,
    max_iter: int = 200,
    ridge: float = 0.0,
) -> LogitFit:
    """BCH: the weighted multinomial logit of class on Z (intercept column included); `ridge`
    the precision of a normal prior on the slopes (0: none, as StepMix)."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w)
    A = modal_onehot(post) @ np.linalg.pinv(D)
    beta = np.zeros((Z.shape[1], post.shape[1]))
    beta, it, ok = _newton_logit(Z, A, w, beta, max_iter, 1e-12, ridge)
    P = softmax_rows(Z @ beta)
    K = post.shape[1]
    pen = slope_penalty(Z.shape[1], K, ridge)
    H = _logit_hessian(Z, w * A.sum(axis=1), P) + np.diag(pen)
    G = np.concatenate(
        [Z * (A[:, [c]] - A.sum(axis=1, keepdims=True) * P[:, [c]]) for c in range(1, K)], axis=1
    )
    meat = (G * w[:, None]).T @ G
    Hinv = np.linalg.pinv(H)
    ll = float(w @ (A * np.log(np.clip(P, LOG_FLOOR, None))).sum(axis=1))
    return LogitFit(beta, Hinv @ meat @ Hinv, ll, it, ok)


def _ml_loglik(
    log_e: np.ndarray, Z: np.ndarray, w: np.ndarray, beta: np.ndarray, pen: np.ndarray
) -> float:
    """The step-3 log-likelihood less the slopes' prior (pen: its precisions)."""
    joint = log_e + _log_softmax(Z @ beta)
    m = joint.max(axis=1, keepdims=True)
    b = _free(beta)
    return float(w @ (np.log(np.exp(joint - m).sum(axis=1)) + m[:, 0])) - 0.5 * float(pen @ b**2)


def _log_softmax(eta: np.ndarray) -> np.ndarray:
    m = eta.max(axis=1, keepdims=True)
    return eta - m - np.log(np.exp(eta - m).sum(axis=1, keepdims=True))


def ml_covariates(
    post: np.ndarray,
    Z: np.ndarray,
    w: np.ndarray | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
    D: np.ndarray | None = None,
    assigned: np.ndarray | None = None,
    ridge: float = 0.0,
) -> LogitFit:
    """ML: maximises ℓ(β) = Σ_i w_i log Σ_c π_c(z_i) D[c, s_i] (D fixed) by Newton steps on the
    exact observed information (Louis: the logit's information at π minus at the posteriors
    given s_i), halving a step that lowers ℓ, an EM step where Newton cannot climb. Starts from
    the logit fitted to the step-1 posteriors. `D` and `assigned` (one-hot modal classes) may be
    given when the rows are compressed."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w) if D is None else D
    S = modal_onehot(post) if assigned is None else assigned
    log_e = S @ np.log(np.clip(D, LOG_FLOOR, 1 - LOG_FLOOR)).T  # n × K
    K, q = post.shape[1], Z.shape[1]
    pen = slope_penalty(q, K, ridge)
    beta = np.zeros((q, K))
    beta, _, _ = _newton_logit(Z, post, w, beta, 50, 1e-8, ridge)  # the proportional logit
    ll = _ml_loglik(log_e, Z, w, beta, pen)
    N = float(w.sum())
    converged = False
    done = 0
    for it in range(1, max_iter + 1):
        done = it
        P = softmax_rows(Z @ beta)
        R = softmax_rows(log_e + np.log(np.clip(P, 1e-300, None)))
        grad = np.concatenate([Z.T @ (w * (R[:, c] - P[:, c])) for c in range(1, K)])
        grad -= pen * _free(beta)
        info = _logit_hessian(Z, w, P) - _logit_hessian(Z, w, R) + np.diag(pen)
        new, new_ll = beta, -np.inf
        try:
            step = np.linalg.solve(info, grad)
            if not np.all(np.isfinite(step)) or float(grad @ step) <= 0:
                raise np.linalg.LinAlgError
            for _ in range(20):
                trial = beta.copy()
                for c in range(1, K):
                    trial[:, c] += step[(c - 1) * q : c * q]
                trial_ll = _ml_loglik(log_e, Z, w, trial, pen)
                if trial_ll >= ll - 1e-12 * N:
                    new, new_ll = trial, trial_ll
                    break
                step = step / 2
        except np.linalg.LinAlgError:
            pass
        if new is beta:  # an EM step: the complete-data logit on the posteriors
            new, _, _ = _newton_logit(Z, R, w, beta.copy(), 1, 0.0, ridge)
            new_ll = _ml_loglik(log_e, Z, w, new, pen)
        change = float(np.max(np.abs(new - beta)))
        gain = new_ll - ll
        beta, ll = new, new_ll
        if change < 1e-8 or abs(gain) / N < tol:
            converged = True
            break
    P = softmax_rows(Z @ beta)
    R = softmax_rows(log_e + np.log(np.clip(P, 1e-300, None)))
    # Louis: complete-data information minus the posterior covariance of the score
    info = _logit_hessian(Z, w, P) - _logit_hessian(Z, w, R) + np.diag(pen)
    return LogitFit(beta, np.linalg.pinv(info), ll, done, converged)


# ---------------------------------------------------------------------------------------------
# Distal outcomes


@dataclass
class DistalFit:
    means: np.ndarray  # K (numeric: class means; binary: class shares of 1) or K × L shares
    se: np.ndarray  # the same shape
    loglik: float
    cov: np.ndarray | None = None  # covariance of the free estimates (test): see `free_estimates`
    sd: np.ndarray | None = None  # ML numeric: each class's standard deviation
    converged: bool = True
    iterations: int = 0


def _indicators(y: np.ndarray, kind: str, n_levels: int | None) -> np.ndarray:
    """Numeric: y as one column; binary: y (the share of 1); categorical: one-hot of the codes."""
    if kind == "categorical":
        L = int(n_levels or (int(y.max()) + 1))
        out = np.zeros((len(y), L))
        out[np.arange(len(y)), y.astype(int)] = 1.0
        return out
    return y[:, None].astype(np.float64)


def bch_distal(
    post: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    kind: str = "numeric",
    n_levels: int | None = None,
    D: np.ndarray | None = None,
    assigned: np.ndarray | None = None,
) -> DistalFit:
    """BCH: class means of y (or of each level's indicator) with the BCH weights a_ic = row s_i
    of D⁻¹; covariance by the sandwich of the estimating equations Σ_i w_i a_ic (y_i − μ_c) = 0
    (D treated as known, as StepMix and LatentGOLD do)."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w) if D is None else D
    S = modal_onehot(post) if assigned is None else assigned
    A = S @ np.linalg.pinv(D)  # n × K
    Y = _indicators(y, kind, n_levels)  # n × m
    Aw = A * w[:, None]
    n_k = Aw.sum(axis=0)
    means = (Aw.T @ Y) / n_k[:, None]  # K × m
    K, m = means.shape
    # influence of each row on μ_c,l: a_ic (y_il − μ_cl) / n_c
    psi = (A[:, :, None] * (Y[:, None, :] - means[None, :, :]) / n_k[None, :, None]).reshape(
        len(y), K * m
    )
    cov = (psi * w[:, None]).T @ psi
    se = np.sqrt(np.clip(np.diag(cov), 0, None)).reshape(K, m)
    if kind != "categorical":
        return DistalFit(means[:, 0], se[:, 0], float("nan"), cov)
    return DistalFit(means, se, float("nan"), cov)


def ml_distal(
    post: np.ndarray,
    y: np.ndarray,
    kind: str = "numeric",
    w: np.ndarray | None = None,
    max_iter: int = 5000,
    tol: float = 1e-10,
    n_levels: int | None = None,
    D: np.ndarray | None = None,
    assigned: np.ndarray | None = None,
) -> DistalFit:
    """ML: EM on P(s_i, y_i) = Σ_c π_c D[c, s_i] f_c(y_i), D fixed; f_c normal with its own mean
    and variance (StepMix's gaussian_diag) for a numeric outcome, a categorical distribution for
    a binary or categorical one. Starts from the step-1 posterior-weighted class statistics.
    Standard errors: the observed information of every parameter (class sizes too) by Louis'
    formula, mapped to the class means or shares by the delta method."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w) if D is None else D
    S = modal_onehot(post) if assigned is None else assigned
    log_e = S @ np.log(np.clip(D, LOG_FLOOR, 1 - LOG_FLOOR)).T
    K = post.shape[1]
    N = float(w.sum())
    cat = kind != "numeric"
    Y = (
        _indicators(y, "categorical", n_levels or 2)
        if kind == "binary"
        else _indicators(y, kind, n_levels)
    )
    var_floor = 1e-8 * max(float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)), 1e-12)

    def m_step(R: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Rw = R * w[:, None]
        n_k = np.maximum(Rw.sum(axis=0), 1e-300)
        pi = n_k / N
        if cat:
            shares = np.clip((Rw.T @ Y) / n_k[:, None], 1e-12, None)
            return pi, shares / shares.sum(axis=1, keepdims=True), np.zeros(K)
        mu = (Rw.T @ y) / n_k
        var = np.maximum((Rw * (y[:, None] - mu[None, :]) ** 2).sum(axis=0) / n_k, var_floor)
        return pi, mu, var

    def log_f(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        if cat:
            return Y @ np.log(mu).T
        return -0.5 * ((y[:, None] - mu[None, :]) ** 2 / var[None, :] + np.log(2 * np.pi * var))

    pi, mu, var = m_step(post)
    prev, ll, converged, it = -np.inf, -np.inf, False, 0
    while it < max_iter:
        it += 1
        joint = log_e + np.log(pi) + log_f(mu, var)
        mx = joint.max(axis=1, keepdims=True)
        ll = float(w @ (np.log(np.exp(joint - mx).sum(axis=1)) + mx[:, 0]))
        R = softmax_rows(joint)
        if abs(ll - prev) / N < tol:
            converged = True
            break
        prev = ll
        pi, mu, var = m_step(R)
    R = softmax_rows(log_e + np.log(pi) + log_f(mu, var))
    cov_free = _ml_distal_covariance(R, w, pi, mu, var, y, Y, cat)
    if cat:
        L = Y.shape[1]
        J = _share_jacobian(mu, K)  # shares (K × L) from (α, γ)
        cov_shares = J @ cov_free @ J.T
        se = np.sqrt(np.clip(np.diag(cov_shares), 0, None)).reshape(K, L)
        if kind == "binary":
            idx = [c * L + 1 for c in range(K)]
            return DistalFit(
                mu[:, 1], se[:, 1], ll, cov_shares[np.ix_(idx, idx)], None, converged, it
            )
        return DistalFit(mu, se, ll, cov_shares, None, converged, it)
    idx = [(K - 1) + 2 * c for c in range(K)]
    cov_mu = cov_free[np.ix_(idx, idx)]
    se = np.sqrt(np.clip(np.diag(cov_mu), 0, None))
    return DistalFit(mu, se, ll, cov_mu, np.sqrt(var), converged, it)


def _ml_distal_covariance(
    R: np.ndarray,
    w: np.ndarray,
    pi: np.ndarray,
    mu: np.ndarray,
    var: np.ndarray,
    y: np.ndarray,
    Y: np.ndarray,
    cat: bool,
) -> np.ndarray:
    """Inverse observed information of (α: the K − 1 free class-size logits; per class the
    outcome's parameters: numeric μ_c and τ_c = log σ²_c, categorical the L − 1 free level
    logits γ_c) by Louis: Σ_i w_i [Σ_c r_ic B_c(y_i) − Σ_c r_ic S_ic S_ic′ + s_i s_i′], S_ic the
    complete-data score given class c, B_c its negative Hessian, s_i = Σ_c r_ic S_ic."""
    n, K = R.shape
    per = (Y.shape[1] - 1) if cat else 2
    P = (K - 1) + K * per
    N = float(w.sum())
    B = np.zeros((P, P))
    a = slice(0, K - 1)
    B[a, a] = N * (np.diag(pi[1:]) - np.outer(pi[1:], pi[1:]))
    Rw = R * w[:, None]
    for c in range(K):
        o = (K - 1) + c * per
        block = slice(o, o + per)
        if cat:
            p = mu[c, 1:]
            B[block, block] = Rw[:, c].sum() * (np.diag(p) - np.outer(p, p))
        else:
            e = y - mu[c]
            inv = 1.0 / var[c]
            B[o, o] = Rw[:, c].sum() * inv
            B[o, o + 1] = B[o + 1, o] = float(Rw[:, c] @ e) * inv
            B[o + 1, o + 1] = float(Rw[:, c] @ e**2) * inv / 2
    info = B.copy()
    for lo in range(0, n, 20_000):
        hi = min(n, lo + 20_000)
        Sc = np.zeros((hi - lo, K, P))
        Sc[:, :, a] = np.eye(K)[None, :, 1:] - pi[None, None, 1:]
        for c in range(K):
            o = (K - 1) + c * per
            if cat:
                Sc[:, c, o : o + per] = Y[lo:hi, 1:] - mu[c, 1:][None, :]
            else:
                e = y[lo:hi] - mu[c]
                Sc[:, c, o] = e / var[c]
                Sc[:, c, o + 1] = -0.5 + e**2 / (2 * var[c])
        r, wb = R[lo:hi], w[lo:hi]
        flat = (Sc * np.sqrt(r * wb[:, None])[:, :, None]).reshape(-1, P)
        s = np.einsum("ik,ikp->ip", r, Sc)
        info -= flat.T @ flat
        info += (s * wb[:, None]).T @ s
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)


def _share_jacobian(shares: np.ndarray, K: int) -> np.ndarray:
    """∂ shares (K × L, flattened) / ∂ (α, γ): zero for α, per class the softmax Jacobian in
    the free logits (level 0 the reference)."""
    L = shares.shape[1]
    per = L - 1
    J = np.zeros((K * L, (K - 1) + K * per))
    for c in range(K):
        p = shares[c]
        full = np.diag(p) - np.outer(p, p)  # ∂p / ∂ logits (all L)
        J[c * L : (c + 1) * L, (K - 1) + c * per : (K - 1) + (c + 1) * per] = full[:, 1:]
    return J


# ---------------------------------------------------------------------------------------------
# From a finished fit to its 3-step section

MAX_LEVELS = 50
# An outcome held by fewer households than this per class is not compared (an ML class variance
# or share of a handful of households is degenerate).
MIN_ROWS_PER_CLASS = 10
METHOD = (
    "3-step estimation (Vermunt 2010; Bakk, Tekle & Vermunt 2013): each household is assigned "
    "to its most likely {unit} (step 2), and the {units}' relation to the household features and "
    "outcomes is estimated from the assignments, corrected for their classification error "
    "(expected {error:.1%} misassigned) by {how}; the {units} themselves do not move. The "
    "features' slopes have a weak normal prior (sd 5 per standard deviation or level, as "
    "covariate LCA's Bayes constant 1) that keeps a feature separating the {units} finite. "
    "Standard errors: {se}."
)
HOW = {
    "BCH": "BCH (each household weighted by the inverse of the classification-error matrix)",
    "ML": "ML (a latent class model with the classification error fixed)",
}


@dataclass
class _Rows:
    """What step 3 reads, with identical rows merged (their weights summed)."""

    assigned: np.ndarray  # one-hot
    columns: np.ndarray
    w: np.ndarray


def _compress(assigned: np.ndarray, columns: np.ndarray, w: np.ndarray) -> _Rows:
    key = np.column_stack([assigned.argmax(axis=1), columns])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))
    K = assigned.shape[1]
    onehot = np.zeros((len(uniq), K))
    onehot[np.arange(len(uniq)), uniq[:, 0].astype(int)] = 1.0
    return _Rows(onehot, uniq[:, 1:], weights)


def relate(
    post: np.ndarray,
    classes: list[str],
    features: pd.DataFrame | None,
    outcomes: pd.DataFrame | None,
    corrections: list[str],
    w: np.ndarray | None = None,
    unit: str = "segment",
) -> ThreeStepResult:
    """The 3-step section of a result: `post` the step-1 posteriors of the households in the fit
    (rows of `features` and `outcomes` aligned with them), `corrections` BCH and/or ML."""
    w = np.ones(len(post)) if w is None else np.asarray(w, dtype=np.float64)
    D = classification_error(post, w)
    assigned = modal_onehot(post)
    sizes = (post * w[:, None]).sum(axis=0) / w.sum()
    error = float(1 - (sizes * np.diag(D)).sum())
    warnings: list[str] = []
    cond = float(np.linalg.cond(D))
    if cond > 1e6:
        warnings.append(
            f"The {unit}s are barely told apart (classification error {error:.0%}): the "
            "corrections are unstable; fewer classes or more products would help."
        )
    covs: list[CovariateEffects] = []
    if features is not None and features.shape[1]:
        from workers.models.lca.covariates import encode

        try:
            cov = encode(features.reset_index(drop=True), weights=w)
        except DataError as exc:
            warnings.append(f"Household features not related by 3-step estimation: {exc}")
        else:
            covs = [
                _covariate_effects(post, assigned, w, D, cov, classes, c, warnings)
                for c in corrections
            ]
            if cov.sparse_levels:
                warnings.append(
                    "Sparse levels (under 1% of households or fewer than 10): "
                    f"{', '.join(cov.sparse_levels[:10])}; their 3-step coefficients are "
                    "uncertain."
                )
    distal: list[DistalOutcome] = []
    if outcomes is not None:
        for name in outcomes.columns:
            distal += _distal(str(name), outcomes[name], post, assigned, w, D, classes,
                              corrections, warnings)  # fmt: skip
    se = "; ".join(
        {"BCH": "BCH, the sandwich of its weighted estimating equations",
         "ML": "ML, the observed information (Louis' formula)"}[c] for c in corrections
    )  # fmt: skip
    return ThreeStepResult(
        method=METHOD.format(
            unit=unit,
            units=f"{unit}s",
            error=error,
            how=" and by ".join(HOW[c] for c in corrections),
            se=se,
        ),
        corrections=corrections,
        classes=classes,
        classification_error=D.tolist(),
        error_rate=error,
        n_rows=len(post),
        weighted=bool(np.any(w != 1)),
        covariates=covs,
        distal=distal,
        warnings=warnings,
    )


def _covariate_effects(
    post: np.ndarray,
    assigned: np.ndarray,
    w: np.ndarray,
    D: np.ndarray,
    cov: object,
    classes: list[str],
    correction: str,
    warnings: list[str],
) -> CovariateEffects:
    from workers.models.lca.covariates import (
        SLOPE_PRIOR_SD,
        Covariates,
        _coefficients,
        wald_tests,
    )

    assert isinstance(cov, Covariates)
    kept = cov.kept
    rows = _compress(assigned[kept], cov.Z, w[kept])
    ridge = 1.0 / SLOPE_PRIOR_SD**2
    if correction == "BCH":
        est = _bch_logit(rows, D, ridge)
    else:
        est = ml_covariates(
            rows.assigned, rows.columns, rows.w, D=D, assigned=rows.assigned, ridge=ridge
        )
    coefficients = _coefficients(est.beta, est.cov, cov.terms, classes, 0)
    if not est.converged:
        warnings.append(f"3-step {correction}: the logit did not converge in {est.iterations} "
                        "steps (a feature may separate the classes).")  # fmt: skip
    return CovariateEffects(
        correction=correction,
        reference_class=classes[0],
        n_rows=int(kept.sum()),
        terms=[CovariateTerm.model_validate(t.model_dump()) for t in cov.terms],
        coefficients=coefficients,
        wald_tests=wald_tests(est.beta, est.cov, cov, 0),
        loglik=est.loglik if np.isfinite(est.loglik) else None,
        converged=est.converged,
        iterations=est.iterations,
    )


def _bch_logit(rows: _Rows, D: np.ndarray, ridge: float, max_iter: int = 200) -> LogitFit:
    """bch_covariates on compressed rows (the assignment one-hot given, D measured before)."""
    Z, w = rows.columns, rows.w
    K = rows.assigned.shape[1]
    A = rows.assigned @ np.linalg.pinv(D)
    beta = np.zeros((Z.shape[1], K))
    beta, it, ok = _newton_logit(Z, A, w, beta, max_iter, 1e-10, ridge)
    P = softmax_rows(Z @ beta)
    H = _logit_hessian(Z, w * A.sum(axis=1), P) + np.diag(slope_penalty(Z.shape[1], K, ridge))
    G = np.concatenate(
        [Z * (A[:, [c]] - A.sum(axis=1, keepdims=True) * P[:, [c]]) for c in range(1, K)], axis=1
    )
    Hinv = np.linalg.pinv(H)
    ll = float(w @ (A * np.log(np.clip(P, LOG_FLOOR, None))).sum(axis=1))
    return LogitFit(beta, Hinv @ ((G * w[:, None]).T @ G) @ Hinv, ll, it, ok)


def outcome_kind(column: pd.Series) -> tuple[str, np.ndarray, list[str]] | None:
    """(kind, values — codes for categories, NaN when missing —, levels) or None when the
    column cannot be an outcome (one value, or more than MAX_LEVELS categories)."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    present = column.dropna()
    if numeric:
        x = column.to_numpy(dtype=np.float64)
        values = np.unique(x[np.isfinite(x)])
        if len(values) < 2:
            return None
        if set(values.tolist()) <= {0.0, 1.0}:
            return "binary", x, ["1"]
        if len(values) > 2:
            return "numeric", x, []
    labels = present.astype(str).str.strip()
    counts = labels.value_counts()
    levels = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
    if len(levels) < 2 or len(levels) > MAX_LEVELS:
        return None
    codes = pd.Categorical(column.astype("string").str.strip(), categories=levels).codes
    return "categorical", np.where(codes >= 0, codes, np.nan).astype(np.float64), levels


def _distal(
    name: str,
    column: pd.Series,
    post: np.ndarray,
    assigned: np.ndarray,
    w: np.ndarray,
    D: np.ndarray,
    classes: list[str],
    corrections: list[str],
    warnings: list[str],
) -> list[DistalOutcome]:
    found = outcome_kind(column.reset_index(drop=True))
    if found is None:
        warnings.append(f'Outcome "{name}" was not compared: it has a single value or more '
                        f"than {MAX_LEVELS} categories.")  # fmt: skip
        return []
    kind, y, levels = found
    keep = np.isfinite(y)
    if keep.sum() < MIN_ROWS_PER_CLASS * len(classes):
        warnings.append(
            f'Outcome "{name}" was not compared: only {int(keep.sum())} households have it '
            f"(at least {MIN_ROWS_PER_CLASS} per class are needed)."
        )
        return []
    rows = _compress(assigned[keep], y[keep][:, None], w[keep])
    yy, L = rows.columns[:, 0], (len(levels) if kind == "categorical" else None)
    wk = w[keep]
    if kind == "numeric":
        overall = [float(np.average(y[keep], weights=wk))]
    else:
        codes = y[keep].astype(int)
        shares = np.bincount(codes, weights=wk, minlength=L or 2) / wk.sum()
        overall = [float(shares[1])] if kind == "binary" else [float(v) for v in shares]
    out = []
    for correction in corrections:
        if correction == "BCH":
            est = bch_distal(rows.assigned, yy, rows.w, kind if kind == "categorical" else
                             "numeric", L, D=D, assigned=rows.assigned)  # fmt: skip
        else:
            est = ml_distal(rows.assigned, yy, kind, rows.w, n_levels=L, D=D,
                            assigned=rows.assigned)  # fmt: skip
        out.append(_distal_outcome(name, kind, correction, int(keep.sum()), levels, overall,
                                   est, classes))  # fmt: skip
        if not est.converged:
            warnings.append(f'3-step ML for "{name}" stopped before converging '
                            f"({est.iterations} iterations).")  # fmt: skip
    return out


def _distal_outcome(
    name: str,
    kind: str,
    correction: str,
    n_rows: int,
    levels: list[str],
    overall: list[float],
    est: DistalFit,
    classes: list[str],
) -> DistalOutcome:
    K = len(classes)
    means = np.asarray(est.means, dtype=np.float64).reshape(K, -1)
    se = np.asarray(est.se, dtype=np.float64).reshape(K, -1)
    share = kind != "numeric"
    estimates = []
    for c in range(K):
        for j in range(means.shape[1]):
            m, s = float(means[c, j]), float(se[c, j])
            lo, hi = m - 1.96 * s, m + 1.96 * s
            if share:
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            estimates.append(
                DistalEstimate(
                    class_name=classes[c],
                    level=levels[j] if kind == "categorical" else None,
                    estimate=m,
                    se=s if math.isfinite(s) else None,
                    ci_low=lo if math.isfinite(lo) else None,
                    ci_high=hi if math.isfinite(hi) else None,
                    sd=float(est.sd[c]) if est.sd is not None else None,
                )
            )
    return DistalOutcome(
        outcome=name,
        kind=kind,
        correction=correction,
        n_rows=n_rows,
        levels=levels,
        overall=overall,
        estimates=estimates,
        test=_equality_test(means, est.cov, kind),
        converged=est.converged,
        note=None if correction == "BCH" or kind != "numeric" else
        "ML: a normal distribution with its own variance in each class (sd shown).",
    )  # fmt: skip


def _equality_test(means: np.ndarray, cov: np.ndarray | None, kind: str) -> DistalTest | None:
    """Wald χ² that every class has the same mean (or distribution): the differences from class
    1 of the means (or of the shares of every level but the first) are zero."""
    if cov is None:
        return None
    K, m = means.shape
    free = list(range(1, m)) if kind == "categorical" else list(range(m))
    rows = []
    for c in range(1, K):
        for j in free:
            r = np.zeros(K * m)
            r[c * m + j], r[j] = 1.0, -1.0
            rows.append(r)
    if not rows:
        return None
    C = np.asarray(rows)
    b = C @ means.ravel()
    V = C @ cov @ C.T
    try:
        stat = float(b @ np.linalg.solve(V, b))
    except np.linalg.LinAlgError:
        stat = float(b @ np.linalg.pinv(V) @ b)
    if not math.isfinite(stat) or stat < 0:
        return None
    df = len(rows)
    return DistalTest(statistic=stat, df=df, p_value=float(stats.chi2.sf(stat, df)))


def corrections_for(setting: str) -> list[str]:
    return {"both": ["BCH", "ML"], "BCH": ["BCH"], "ML": ["ML"]}.get(setting, [])


def attach_three_step(
    result: object, data: object, setting: str, with_features: bool = True
) -> None:
    """Sets `result.three_step` from the fit's per-household posteriors and the run's household
    features (when `with_features`) and outcomes. A failure is logged and said in the result's
    warnings, never fatal: the classes are kept."""
    from backend.schemas.lca import LCAResult
    from workers.models.base import BinaryMatrix

    assert isinstance(result, LCAResult) and isinstance(data, BinaryMatrix)
    corrections = corrections_for(setting)
    features = data.covariates if with_features else None
    outcomes = data.outcomes
    if not corrections or result.rows is None or result.n_classes < 2:
        return
    if (features is None or not features.shape[1]) and (outcomes is None or not outcomes.shape[1]):
        return
    if len(result.rows) != data.n_rows:
        log.warning("3-step skipped: %d result rows for %d rows", len(result.rows), data.n_rows)
        return
    columns = [f"p_class_{k + 1}" for k in range(result.n_classes)]
    post = result.rows[columns].to_numpy(dtype=np.float64)
    ok = np.isfinite(post).all(axis=1) & (post.sum(axis=1) > 0)
    w = data.row_weights()[ok]
    try:
        result.three_step = relate(
            post[ok],
            result.classes,
            None if features is None else features.loc[ok].reset_index(drop=True),
            None if outcomes is None else outcomes.loc[ok].reset_index(drop=True),
            corrections,
            w,
        )
    except Exception:
        log.exception("3-step estimation failed")
        result.provenance.warnings.append(
            "3-step estimation failed (an internal error, logged); the segments are unaffected."
        )
        return
    result.provenance.warnings += result.three_step.warnings
