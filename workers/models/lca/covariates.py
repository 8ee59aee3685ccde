"""Latent classes with covariates: class membership follows a multinomial logit of household
features (one-step estimation, many starts, posterior-mode priors).

1. The measurement model is fitted without covariates (`lca`: every random start, the best
   kept) and refined with an intercept-only logit under the same priors: the model without
   covariates, whose log-likelihood the joint likelihood-ratio test compares against.
2. The covariate model's own starts: the first from that solution (intercepts log π, slopes
   0), the others random (item probabilities scattered around the overall rates, equal shares,
   slopes 0). All run `stage1_iter` EM iterations; the best `n_final` go on to convergence
   (as `lca`), and every start is listed with its log-likelihood (the replication check).
3. EM: E-step with per-household priors π_ik = softmax(z_i β)_k; M-step for the item
   probabilities in closed form and one Newton step (with step halving) for β. With a Bayes
   constant c > 0 it maximises the penalised log-likelihood (LatentGOLD's posterior mode):

       ℓ(θ, β) + Σ_kj (c r_j / K) log θ_kj + (c (1 − r_j) / K) log(1 − θ_kj)
               + (c / (K N)) Σ_i w_i Σ_k log π_ik − Σ_slopes β² / (2 (5/√c)²)

   (r_j the overall rate of product j, N the total weight): a Dirichlet on the item
   probabilities worth c households per product, one on each household's class
   probabilities worth c households in all, and a weak normal prior on the slopes. Every
   step never decreases the objective.
4. Standard errors: the inverse observed information of every free parameter (logit θ not at
   the bound, β), exact by Louis' formula, the priors' curvature added; or the outer product of
   the per-household scores (`se_method="outer_product"`, as poLCA). Wald tests per feature.

Rows identical in their purchases and features are fitted once with their count (or summed
case weights) as weight: categorical features compress a survey a lot.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.lca import (
    CovariateTerm,
    LCACovariatesParams,
    LCACovariatesResult,
    LogitCoefficient,
    StartRecord,
    WaldTest,
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.lca.engine import (
    THETA_MIN,
    Design,
    StartsOutcome,
    StartState,
    log_params,
    prepare,
    random_start,
)
from workers.models.lca.fit import (
    Reporter,
    check_data,
    fit_classes,
    n_final_for,
    ordered,
    seeds_for,
    start_records,
    summarise,
)
from workers.models.lca.work import SerialStarts
from workers.models.progress import Span

MAX_LEVELS = 50
# The covariate model's own starts on the bar; the plain LCA before them and the standard errors
# after them share the rest. Measured at 100,000 households × 8 products, 2 covariates: the
# plain LCA 0.6 s, the covariate starts 9.9 s, the standard errors and summary 0.2 s.
COVARIATES = Span(0.06, 0.97)
# A category level under this share of households, or held by fewer than SPARSE_LEVEL_MIN,
# is kept (merging would change what it means) and named in a warning.
SPARSE_LEVEL_SHARE = 0.01
SPARSE_LEVEL_MIN = 10
# A text feature with a different value on every row (this many rows or more) is an ID.
ID_LIKE_MIN_ROWS = 20
# The normal prior on the slopes has sd SLOPE_PRIOR_SD / sqrt(bayes_constant).
SLOPE_PRIOR_SD = 5.0
# |β| above this is flagged (odds ratio beyond about 150 per unit or level).
LARGE_COEF = 5.0
# Standard errors from the information of all parameters up to this many item probabilities.
FULL_INFO_MAX = 1500
# A start within this of the best penalised log-likelihood reached the best.
SAME_OPTIMUM = 1e-3


@dataclass
class Covariates:
    Z: np.ndarray  # rows kept × terms (intercept first)
    terms: list[CovariateTerm]
    kept: np.ndarray  # bool per input row
    sparse_levels: list[str] = field(default_factory=list)
    # Every level of each category feature, the reference first: what scoring checks against.
    levels: dict[str, list[str]] = field(default_factory=dict)

    def groups(self) -> dict[str, list[int]]:
        """Feature → its term positions (the intercept left out)."""
        out: dict[str, list[int]] = {}
        for t, term in enumerate(self.terms):
            if term.kind != "intercept":
                out.setdefault(term.covariate, []).append(t)
        return out


def encode(
    frame: pd.DataFrame | None, standardize: bool = True, weights: np.ndarray | None = None
) -> Covariates:
    """Intercept; numeric columns standardised (weighted mean and sd; 0/1 columns kept as
    indicators); other columns one-hot against their most frequent level (missing is a level of
    its own). Rows with a missing numeric value are left out. A feature that is empty,
    constant, an ID or mostly numbers with some text is refused naming it."""
    if frame is None or frame.shape[1] == 0:
        raise DataError(
            "lca_covariates needs covariate_columns: the household features that predict "
            "class membership."
        )
    n = len(frame)
    kept = np.ones(n, dtype=bool)
    for name in frame.columns:
        col = frame[name]
        if col.isna().all():
            raise DataError(f'household feature "{name}" is empty: every value is missing.')
        if _numeric(col):
            kept &= col.notna().to_numpy()
    w_all = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w_all[kept]
    terms = [CovariateTerm(name="(intercept)", covariate="(intercept)", kind="intercept")]
    columns: list[np.ndarray] = [np.ones(int(kept.sum()))]
    sparse: list[str] = []
    seen: dict[str, list[str]] = {}
    for name in frame.columns:
        col = frame[name][kept]
        if _numeric(col):
            x = col.to_numpy(dtype=np.float64)
            values = np.unique(x)
            if len(values) < 2:
                raise DataError(f'household feature "{name}" has a single value; drop it.')
            if set(values.tolist()) <= {0.0, 1.0}:
                terms.append(CovariateTerm(name=str(name), covariate=str(name), kind="binary"))
                columns.append(x)
                continue
            mean = float(np.average(x, weights=w))
            sd = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
            if not standardize:
                mean, sd = 0.0, 1.0
            terms.append(
                CovariateTerm(name=str(name), covariate=str(name), kind="numeric", mean=mean, sd=sd)
            )
            columns.append((x - mean) / sd)
            continue
        labels = col.astype("string").fillna("(missing)")
        present = col.dropna().astype(str).str.strip()
        if len(present) >= ID_LIKE_MIN_ROWS and present.nunique() == len(present):
            raise DataError(
                f'household feature "{name}" has a different value on every row: it is an ID, '
                "not a feature."
            )
        numbers = present.str.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
        if len(present) and 0.5 <= numbers.mean() < 1:
            shown = ", ".join(sorted(set(present[~numbers]))[:5])
            raise DataError(
                f'household feature "{name}" is numeric but some rows hold text ({shown}); '
                "recode them as numbers or blanks."
            )
        counts = pd.Series(w, index=labels.index).groupby(labels.to_numpy()).sum()
        levels = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
        if len(levels) < 2:
            raise DataError(f'household feature "{name}" has a single value; drop it.')
        if len(levels) > MAX_LEVELS:
            raise DataError(
                f'household feature "{name}" has {len(levels)} categories (at most '
                f"{MAX_LEVELS}); group them or use a numeric column."
            )
        seen[str(name)] = [str(level) for level in levels]
        rows_per_level = labels.value_counts()
        total = float(w.sum())
        for level in levels:
            if counts[level] < SPARSE_LEVEL_SHARE * total or rows_per_level[level] < (
                SPARSE_LEVEL_MIN
            ):
                sparse.append(f"{name}={level}")
        for level in levels[1:]:
            terms.append(
                CovariateTerm(
                    name=f"{name}={level}", covariate=str(name), kind="category", level=str(level)
                )
            )
            columns.append((labels == level).to_numpy(dtype=np.float64))
    return Covariates(np.column_stack(columns), terms, kept, sparse, seen)


def _numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


# ---------------------------------------------------------------------------------------------
# The penalised objective and one EM iteration


@dataclass(frozen=True)
class Prior:
    """LatentGOLD-style Bayes constants (all zero when c = 0: maximum likelihood)."""

    c: float
    rate: np.ndarray  # overall purchase rate per product
    n: float  # total weight
    k: int
    slopes: np.ndarray  # bool per term: a slope (not the intercept)

    @property
    def per_household(self) -> float:  # Dirichlet mass on each household's class probabilities
        return self.c / (self.k * self.n) if self.n > 0 else 0.0

    @property
    def ridge(self) -> float:  # 1 / sd² of the slopes' normal prior
        return self.c / SLOPE_PRIOR_SD**2

    def theta_term(self, theta: np.ndarray) -> float:
        if self.c == 0:
            return 0.0
        a = self.c * self.rate / self.k
        b = self.c * (1 - self.rate) / self.k
        return float((a * np.log(theta) + b * np.log1p(-theta)).sum())

    def beta_term(self, beta: np.ndarray, logp: np.ndarray, w: np.ndarray) -> float:
        if self.c == 0:
            return 0.0
        return float(self.per_household * (w @ logp.sum(axis=1))) - 0.5 * self.ridge * float(
            (beta[self.slopes] ** 2).sum()
        )


def _blocks(design: Design) -> list:
    return design.blocks(8, np.float64)


def log_emission(design: Design, theta: np.ndarray) -> np.ndarray:
    """log P(x_i | class k) over the observed cells: design rows × K."""
    logit, log1m = log_params(theta[None])
    W, V = logit[0].T, log1m[0].T
    const = log1m[0].sum(axis=1)
    out = np.empty((design.n_rows, theta.shape[0]))
    for b in _blocks(design):
        A = np.asarray(b.x[np.float64] @ W) + const
        if b.miss is not None:
            A -= b.miss[np.float64] @ V
        out[b.start : b.stop] = A
    return out


def theta_step(
    design: Design, R: np.ndarray, theta_prev: np.ndarray, prior: Prior | None = None
) -> np.ndarray:
    """θ_kj = (Σ w r x + c r_j/K) / (Σ w r o + c/K), clipped, from posteriors R (rows × K)."""
    Rw = R * design.weights[:, None]
    xr = np.zeros(theta_prev.shape[::-1])
    mr = np.zeros_like(xr)
    for b in _blocks(design):
        part = Rw[b.start : b.stop]
        xr += np.asarray(b.x[np.float64].T @ part)
        if b.miss is not None:
            mr += np.asarray(b.miss[np.float64].T @ part)
    denom = Rw.sum(axis=0)[None, :] - mr
    if prior is not None and prior.c > 0:
        xr = xr + (prior.c * prior.rate / prior.k)[:, None]
        denom = denom + prior.c / prior.k
    ok = denom > 1e-12
    theta = np.where(ok, xr / np.where(ok, denom, 1.0), theta_prev.T).T
    return np.clip(theta, THETA_MIN, 1 - THETA_MIN)


def softmax_rows(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_prior(Z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """log π_ik = log softmax(z_i β)_k (beta: terms × K, the reference column zero)."""
    eta = Z @ beta
    m = eta.max(axis=1, keepdims=True)
    return eta - (m + np.log(np.exp(eta - m).sum(axis=1, keepdims=True)))


def beta_step(
    Z: np.ndarray,
    w: np.ndarray,
    R: np.ndarray,
    beta: np.ndarray,
    ref: int,
    prior: Prior | None = None,
) -> np.ndarray:
    """One Newton step on Σ_i w_i Σ_k (r_ik + a) log π_ik(β) − ridge·Σ slopes²/2 (a and the
    ridge from the prior; 0 without), reference column fixed at 0, the step halved until the
    objective does not decrease."""
    K = R.shape[1]
    free = [c for c in range(K) if c != ref]
    q = Z.shape[1]
    a = prior.per_household if prior is not None else 0.0
    ridge = np.zeros(q)
    if prior is not None:
        ridge[prior.slopes] = prior.ridge
    A = R + a  # pseudo-counts per household and class
    mass = A.sum(axis=1)

    def objective(b: np.ndarray) -> float:
        return float((w[:, None] * A * log_prior(Z, b)).sum()) - 0.5 * float(
            (ridge[:, None] * b * b).sum()
        )

    P = softmax_rows(Z @ beta)
    grad = np.concatenate(
        [Z.T @ (w * (A[:, c] - mass * P[:, c])) - ridge * beta[:, c] for c in free]
    )
    H = np.zeros((len(free) * q, len(free) * q))
    for i, c in enumerate(free):
        for j, d in enumerate(free):
            weight = w * mass * P[:, c] * ((c == d) - P[:, d])
            H[i * q : (i + 1) * q, j * q : (j + 1) * q] = (Z * weight[:, None]).T @ Z
        H[i * q : (i + 1) * q, i * q : (i + 1) * q] += np.diag(ridge)
    H += 1e-9 * np.eye(H.shape[0])
    try:
        step = np.linalg.solve(H, grad)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(H, grad, rcond=None)[0]
    base = objective(beta)
    for _ in range(30):
        cand = beta.copy()
        for i, c in enumerate(free):
            cand[:, c] = beta[:, c] + step[i * q : (i + 1) * q]
        if objective(cand) >= base - 1e-12 * abs(base):
            return cand
        step /= 2
    return beta


@dataclass
class CovStart:
    """One start of the covariate model."""

    seed: int
    theta: np.ndarray
    beta: np.ndarray
    loglik: float = -np.inf
    objective: float = -np.inf  # penalised log-likelihood
    iterations: int = 0
    converged: bool = False
    finished: bool = False
    from_measurement: bool = False


def evaluate(
    design: Design, Z: np.ndarray, theta: np.ndarray, beta: np.ndarray, prior: Prior
) -> tuple[float, float, np.ndarray]:
    """(log-likelihood, penalised log-likelihood, posteriors) at (θ, β)."""
    w = design.weights
    logp = log_prior(Z, beta)
    joint = log_emission(design, theta) + logp
    m = joint.max(axis=1, keepdims=True)
    e = np.exp(joint - m)
    s = e.sum(axis=1, keepdims=True)
    ll = float(w @ (np.log(s) + m)[:, 0])
    pen = ll + prior.theta_term(theta) + prior.beta_term(beta, logp, w)
    return ll, pen, e / s


def run_start(
    design: Design,
    Z: np.ndarray,
    start: CovStart,
    ref: int,
    prior: Prior,
    budget: int,
    max_iter: int,
    tol: float,
    tick: Progress | None = None,
) -> None:
    """Advances one start by at most `budget` EM iterations (its total capped at max_iter), until
    one iteration changes the penalised log-likelihood per household by less than `tol`."""
    N = design.total_weight
    w = design.weights
    ll, pen, R = evaluate(design, Z, start.theta, start.beta, prior)
    start.loglik, start.objective = ll, pen
    spent = 0
    while spent < budget and start.iterations < max_iter and not start.converged:
        theta = theta_step(design, R, start.theta, prior)
        beta = beta_step(Z, w, R, start.beta, ref, prior)
        ll, new, R = evaluate(design, Z, theta, beta, prior)
        start.iterations += 1
        spent += 1
        change = (new - start.objective) / N
        if new >= start.objective - 1e-9 * abs(start.objective):
            start.theta, start.beta, start.loglik, start.objective = theta, beta, ll, new
        if abs(change) < tol:
            start.converged = True
        if tick is not None:
            tick(0.0, "", iteration=start.iterations, loglik=start.loglik)


def one_step_em(
    design: Design,
    Z: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    ref: int,
    max_iter: int,
    tol: float,
    prior: Prior | None = None,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """EM from (θ, β) to convergence: (θ, β, log-likelihood, iterations, converged)."""
    prior = prior or no_prior(design, theta.shape[0], Z.shape[1])
    start = CovStart(seed=0, theta=theta, beta=beta)
    run_start(design, Z, start, ref, prior, max_iter, max_iter, tol)
    return start.theta, start.beta, start.loglik, start.iterations, start.converged


def no_prior(design: Design, k: int, q: int) -> Prior:
    slopes = np.ones(q, dtype=bool)
    slopes[0] = False
    return Prior(0.0, design.observed_rate, design.total_weight, k, slopes)


# ---------------------------------------------------------------------------------------------
# Information: observed (Louis' formula) or the outer product of scores


def information(
    design: Design,
    Z: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    ref: int,
    full: bool = True,
    method: str = "observed",
    prior: Prior | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Information of the free parameters: logit θ not at the bound, then β of the
    non-reference classes (term-major within a class). With `full=False` only the β block,
    holding θ fixed. Also answers the mask of free logit θ.

    observed: I = complete-data information − Σ_i w_i Cov_{k|x_i}(g_ik) + Σ_i w_i s_i s_i'
    (Louis), g_ik the complete-data score of household i in class k (logit θ_k block
    o_i ∘ (x_i − θ_k), β_c block z_i (δ_kc − π_ic)) and s_i = E_{k|x_i} g_ik its observed-data
    score; outer_product: Σ_i w_i s_i s_i' (BHHH, poLCA). A prior adds its curvature to either.
    """
    K, p = theta.shape
    q = Z.shape[1]
    free_c = [c for c in range(K) if c != ref]
    Q = len(free_c) * q
    lam_free = ((theta > THETA_MIN * 1.0001) & (theta < 1 - THETA_MIN * 1.0001)).ravel()
    n_lam = K * p if full else 0
    D = n_lam + Q
    bs = slice(n_lam, D)
    observed = method == "observed"
    info = np.zeros((D, D))
    joint_all = log_emission(design, theta) + log_prior(Z, beta)
    boost = 1.0 + (prior.c / prior.n if prior is not None and prior.n > 0 else 0.0)
    step = max(16, (1 << 22) // max(D, 1))
    for b in _blocks(design):
        x = b.x[np.float64]
        Xb = x.toarray() if isinstance(x, sp.csr_matrix) else np.asarray(x)
        Ob = None if b.miss is None else 1.0 - b.miss[np.float64].toarray()
        for lo in range(0, b.rows, step):
            hi = min(lo + step, b.rows)
            sl = slice(b.start + lo, b.start + hi)
            X = Xb[lo:hi]
            obs = np.ones_like(X) if Ob is None else Ob[lo:hi]
            w = b.w[lo:hi]
            Zs = Z[sl]
            R = softmax_rows(joint_all[sl])
            P = softmax_rows(Zs @ beta)
            Sc = np.zeros((hi - lo, D))
            for k in range(K):
                E = (np.arange(K) == k)[None, :] - P
                B = np.concatenate([Zs * E[:, c : c + 1] for c in free_c], axis=1)
                v = w * R[:, k]
                Sc[:, bs] += R[:, k : k + 1] * B
                if observed:
                    info[bs, bs] -= (B * v[:, None]).T @ B
                if full:
                    lk = slice(k * p, (k + 1) * p)
                    U = obs * (X - theta[k])
                    Sc[:, lk] = R[:, k : k + 1] * U
                    if observed:
                        Uv = U * v[:, None]
                        info[lk, lk] -= Uv.T @ U
                        cross = Uv.T @ B
                        info[lk, bs] -= cross
                        info[bs, lk] -= cross.T
                        # complete-data information of logit θ_k (diagonal)
                        idx = np.arange(k * p, (k + 1) * p)
                        info[idx, idx] += v @ (obs * (theta[k] * (1 - theta[k])))
            info += (Sc * w[:, None]).T @ Sc
            if observed or prior is not None:
                # complete-data information of β (multinomial logit); the prior's share
                factor = boost if observed else boost - 1.0
                for i, c in enumerate(free_c):
                    for j, d_ in enumerate(free_c):
                        weight = factor * w * P[:, c] * ((c == d_) - P[:, d_])
                        info[
                            n_lam + i * q : n_lam + (i + 1) * q,
                            n_lam + j * q : n_lam + (j + 1) * q,
                        ] += (Zs * weight[:, None]).T @ Zs
    if prior is not None and prior.c > 0:
        if full:
            idx = np.arange(K * p)
            info[idx, idx] += (prior.c / prior.k) * (theta * (1 - theta)).ravel()
        for i in range(len(free_c)):
            at = n_lam + i * q + np.flatnonzero(prior.slopes)
            info[at, at] += prior.ridge
    keep = np.concatenate([lam_free if full else np.zeros(0, bool), np.ones(Q, dtype=bool)])
    return info[np.ix_(keep, keep)], lam_free


def beta_covariance(
    design: Design,
    Z: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    ref: int,
    method: str = "observed",
    prior: Prior | None = None,
) -> tuple[np.ndarray | None, str | None]:
    """Covariance of β: from the full information when K·p ≤ FULL_INFO_MAX, else from the β
    block alone (θ held fixed; said in a warning)."""
    full = theta.size <= FULL_INFO_MAX
    info, _ = information(design, Z, theta, beta, ref, full=full, method=method, prior=prior)
    n_beta = (theta.shape[0] - 1) * Z.shape[1]
    note = None
    if not full:
        note = (
            f"With {theta.shape[0]} classes × {theta.shape[1]} products the standard errors hold "
            "the item probabilities fixed (they ignore their uncertainty, so are slightly small)."
        )
    try:
        cov = np.linalg.inv(info)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
        note = (note + " " if note else "") + (
            "The information matrix is singular (a covariate or class is not identified); "
            "standard errors use its pseudo-inverse and may be unreliable."
        )
    return cov[-n_beta:, -n_beta:], note


# ---------------------------------------------------------------------------------------------


def fit(data: BinaryMatrix, params: LCACovariatesParams, progress: Progress) -> LCACovariatesResult:
    with threadpool_limits(1, user_api="blas"):
        return _fit(data, params, progress)


@dataclass
class Compressed:
    """The rows EM fits: distinct (purchases, features) rows with summed weights."""

    design: Design
    Z: np.ndarray  # design rows × terms
    row_of: np.ndarray  # per input row (of the rows kept): its design row, −1 if all missing


def compress(values: np.ndarray, Z: np.ndarray, weights: np.ndarray | None) -> Compressed:
    codes = np.where(np.isnan(values), 2.0, values)
    key = np.ascontiguousarray(np.column_stack([codes, Z]))
    _, first, inverse = np.unique(
        key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel(),
        return_index=True,
        return_inverse=True,
    )
    inverse = inverse.ravel()
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    summed = np.bincount(inverse, weights=w, minlength=len(first))
    design = prepare(values[first], compress=False, weights=summed)
    fitted = design.row_of >= 0
    Zd = Z[first][fitted]
    return Compressed(design, Zd, design.row_of[inverse])


def _fit(
    data: BinaryMatrix, params: LCACovariatesParams, progress: Progress
) -> LCACovariatesResult:
    k = params.n_classes
    check_data(data, k)
    if k < 2:
        raise DataError("lca_covariates needs n_classes of at least 2.")
    if params.reference_class is not None and params.reference_class > k:
        raise DataError(f"reference_class={params.reference_class} but there are only {k} classes.")
    cov = encode(data.covariates, params.standardize, data.weights)
    dropped = int((~cov.kept).sum())
    work = data.subset(cov.kept) if dropped else data
    if dropped:
        check_data(work, k)
    seed, seeds = seeds_for(params)
    progress(0.0, f"Preparing {work.n_rows:,} rows × {work.n_products} products.", iteration=0)

    # 1. The measurement model without covariates (every start of `lca`).
    plain_design = prepare(work.values, weights=work.weights)
    reporter = Reporter(
        progress,
        params.n_init,
        n_final_for(params),
        params.max_iter,
        params.tol,
        hi=COVARIATES.start,
    )
    reporter.label = "Without covariates: "
    outcome = fit_classes(plain_design, k, seeds, params, reporter)
    theta0, pi0 = ordered(outcome.theta, outcome.log_pi)

    packed = compress(work.values, cov.Z, work.weights)
    design, Z = packed.design, packed.Z
    q = Z.shape[1]
    slopes = np.array([t.kind != "intercept" for t in cov.terms])
    prior = Prior(params.bayes_constant, design.observed_rate, design.total_weight, k, slopes)
    ref0 = 0
    # The model without covariates under the same priors (intercept-only logit).
    b0 = np.log(pi0) - np.log(pi0[ref0])
    null_prior = _only(prior, 1)
    null_theta, null_beta, _, _, _ = one_step_em(
        design, Z[:, :1], theta0, b0[None, :].copy(), ref0, params.max_iter, params.tol, null_prior
    )
    null_ll, _, _ = evaluate(design, Z[:, :1], null_theta, null_beta, null_prior)
    progress(COVARIATES.start, "Covariate model: random starts.", force=True, loglik=null_ll)

    # 2. The covariate model's own starts.
    starts = _covariate_starts(design, k, q, seeds[: params.n_init], null_theta, null_beta[0])
    n_final = n_final_for(params)
    two_stage = n_final < len(starts)
    tally = SerialStarts(
        starts,
        n_final,
        params.stage1_iter if two_stage else 0,
        params.max_iter,
        params.tol,
        design.total_weight,
    )
    current = [0]  # the start running

    def tick(fraction: float, message: str, **fields: Any) -> None:
        tally.record(current[0])
        best = max(s.loglik for s in starts)
        progress(
            COVARIATES.at(tally.fraction()),
            f"Covariate model: {sum(s.finished or s.converged for s in starts)} of "
            f"{len(starts)} starts done; best log-likelihood {best:,.2f}.",
            iteration=int(fields.get("iteration", 0) or 0),
            loglik=best if np.isfinite(best) else None,
            details={"stage": "covariates"},
        )

    for i, s in enumerate(starts):
        current[0] = i
        run_start(
            design,
            Z,
            s,
            ref0,
            prior,
            params.stage1_iter if two_stage else params.max_iter,
            params.max_iter,
            params.tol,
            tick,
        )
    ranked = sorted(range(len(starts)), key=lambda i: -starts[i].objective)
    finalists = ranked[:n_final]
    tally.finalists = set(finalists)
    for i in finalists:
        current[0] = i
        starts[i].finished = True
        run_start(
            design, Z, starts[i], ref0, prior, params.max_iter, params.max_iter, params.tol, tick
        )
    for s in starts:
        s.finished = s.finished or s.converged
    best = max(
        (i for i in range(len(starts)) if starts[i].finished), key=lambda i: starts[i].objective
    )
    theta, beta = starts[best].theta, starts[best].beta
    ll, penalized, post = evaluate(design, Z, theta, beta, prior)
    converged = starts[best].converged
    iters = starts[best].iterations
    progress(COVARIATES.end, "Standard errors of the covariate effects.", force=True, loglik=ll)

    # Order classes by size (average posterior), then re-reference.
    sizes = design.weights @ post / design.total_weight
    order = np.argsort(-sizes, kind="stable")
    theta, beta, post, sizes = theta[order], beta[:, order], post[:, order], sizes[order]
    ref = (params.reference_class or 1) - 1
    beta = beta - beta[:, [ref]]
    covariance, note = beta_covariance(
        design, Z, theta, beta, ref, params.se_method, prior if params.bayes_constant else None
    )
    classes = [f"Class {c + 1}" for c in range(k)]
    coefficients = _coefficients(beta, covariance, cov.terms, classes, ref)
    walds = wald_tests(beta, covariance, cov, ref)
    df = (k - 1) * (q - 1)
    lr = 2 * (ll - null_ll)
    prior_rows = softmax_rows(cov.Z @ beta)  # covariate-implied shares, rows of `work`
    records = [
        StartRecord(
            start=i + 1,
            seed=s.seed,
            loglik=float(s.objective),
            iterations=s.iterations,
            converged=s.converged,
            finished=s.finished,
        )
        for i, s in enumerate(starts)
    ]
    warnings_extra = _warnings(params, note, dropped, converged, coefficients, cov, records)
    result: LCACovariatesResult = summarise(
        work,
        _ByRow(design, packed.row_of),  # type: ignore[arg-type]
        theta,
        sizes,
        ll,
        _Outcome(outcome, records),  # type: ignore[arg-type]
        params,
        seed,
        model_type="lca_covariates",
        result_cls=LCACovariatesResult,
        extra=dict(
            reference_class=classes[ref],
            terms=cov.terms,
            coefficients=coefficients,
            n_rows_dropped=dropped,
            unconditional_loglik=null_ll,
            covariate_lr=lr,
            covariate_df=df,
            covariate_p_value=float(stats.chi2.sf(max(lr, 0.0), df)) if df > 0 else 1.0,
            wald_tests=walds,
            bayes_constant=params.bayes_constant,
            penalized_loglik=penalized,
            se_method=params.se_method,
            measurement_starts=start_records(outcome),
            sparse_levels=cov.sparse_levels,
        ),
        extra_npar=df,
        post=post,
        prior_rows=prior_rows,
    )
    result.scoring = {"levels": cov.levels}
    result.starts = records
    result.n_starts_at_best = _at_best(records)
    result.n_starts_finished = sum(r.finished for r in records)
    result.provenance.warnings = [
        w for w in result.provenance.warnings if not w.startswith("Only one random start")
    ] + warnings_extra
    result.iterations = iters
    result.converged = converged
    if dropped:
        result.attach_rows(_with_dropped(data, result.rows, cov.kept))
        result.n_obs = data.n_rows
        result.provenance.n_rows = data.n_rows
        result.provenance.data_hash = data.digest()
    if params.three_step != "off" and data.outcomes is not None:  # distal outcomes (3-step)
        from workers.models.lca.three_step import attach_three_step

        attach_three_step(result, data, params.three_step, with_features=False)
    progress(1.0, "Covariate model done.", force=True, loglik=ll, iteration=iters)
    return result


def _only(prior: Prior, q: int) -> Prior:
    return Prior(prior.c, prior.rate, prior.n, prior.k, prior.slopes[:q])


def _covariate_starts(
    design: Design, k: int, q: int, seeds: list[int], theta0: np.ndarray, intercepts: np.ndarray
) -> list[CovStart]:
    """The first start from the model without covariates, the others random."""
    first = np.zeros((q, k))
    first[0] = intercepts
    starts = [CovStart(seed=seeds[0], theta=theta0.copy(), beta=first, from_measurement=True)]
    for seed in seeds[1:]:
        rng = np.random.default_rng([seed, 13])
        theta, _ = random_start(rng, k, design.observed_rate)
        starts.append(CovStart(seed=seed, theta=theta, beta=np.zeros((q, k))))
    return starts


def _at_best(records: list[StartRecord]) -> int:
    finished = [r.loglik for r in records if r.finished]
    top = max(finished)
    return sum(abs(v - top) <= max(SAME_OPTIMUM, 1e-6 * abs(top)) for v in finished)


class _ByRow:
    """A design whose `row_of` maps the input rows (not the distinct rows) to design rows, for
    the summary's per-household table."""

    def __init__(self, design: Design, row_of: np.ndarray) -> None:
        self._design = design
        self.row_of = row_of

    def __getattr__(self, name: str) -> object:
        return getattr(self._design, name)


class _Outcome:
    """The summary's view of the starts: the covariate model's (the best one's convergence)."""

    def __init__(self, measurement: StartsOutcome, records: list[StartRecord]) -> None:
        self.starts = [
            StartState(
                seed=r.seed,
                theta=measurement.theta,
                log_pi=measurement.log_pi,
                loglik=r.loglik,
                iterations=r.iterations,
                converged=r.converged,
                finished=r.finished,
            )
            for r in records
        ]
        self.best = max(
            (i for i, r in enumerate(records) if r.finished), key=lambda i: records[i].loglik
        )
        self._measurement = measurement

    def __getattr__(self, name: str) -> object:
        return getattr(self._measurement, name)


def _warnings(
    params: LCACovariatesParams,
    note: str | None,
    dropped: int,
    converged: bool,
    coefficients: list[LogitCoefficient],
    cov: Covariates,
    records: list[StartRecord],
) -> list[str]:
    out = [note] if note else []
    if dropped:
        out.append(f"{dropped} row(s) have a missing numeric covariate and were left out.")
    if not converged:
        out.append(f"The covariate model did not converge within max_iter={params.max_iter}.")
    if params.n_init > 1 and _at_best(records) == 1:
        out.append(
            "Only one start of the covariate model reached its best log-likelihood; it may be a "
            "local optimum. Increase n_init."
        )
    if cov.sparse_levels:
        out.append(
            f"Sparse levels (under {SPARSE_LEVEL_SHARE:.0%} of households or fewer than "
            f"{SPARSE_LEVEL_MIN}): {', '.join(cov.sparse_levels)}. They are kept; their "
            "coefficients are uncertain. Merge them with a similar level if that makes sense."
        )
    flagged = [f"{c.term} ({c.class_name})" for c in coefficients if c.flagged]
    if flagged:
        how = (
            "the Bayes constant keeps them finite"
            if params.bayes_constant > 0
            else "with bayes_constant 0 they may be drifting to infinity"
        )
        out.append(
            f"Very large coefficients (|β| > {LARGE_COEF:g}): {', '.join(flagged[:10])}. The "
            f"feature all but separates the classes; {how}."
        )
    return out


def wald_tests(
    beta: np.ndarray, covariance: np.ndarray | None, cov: Covariates, ref: int
) -> list[WaldTest]:
    """Per feature: W = b' V⁻¹ b over its coefficients of every non-reference class."""
    if covariance is None:
        return []
    q, K = beta.shape
    free = [c for c in range(K) if c != ref]
    out = []
    for name, terms in cov.groups().items():
        idx = [a * q + t for a in range(len(free)) for t in terms]
        b = np.array([beta[t, c] for c in free for t in terms])
        V = covariance[np.ix_(idx, idx)]
        try:
            stat = float(b @ np.linalg.solve(V, b))
        except np.linalg.LinAlgError:
            stat = float(b @ np.linalg.pinv(V) @ b)
        stat = max(stat, 0.0) if np.isfinite(stat) else 0.0
        out.append(
            WaldTest(
                covariate=name,
                statistic=stat,
                df=len(idx),
                p_value=float(stats.chi2.sf(stat, len(idx))),
            )
        )
    return out


def _coefficients(
    beta: np.ndarray,
    covariance: np.ndarray | None,
    terms: list[CovariateTerm],
    classes: list[str],
    ref: int,
) -> list[LogitCoefficient]:
    q, K = beta.shape
    out = []
    free = [c for c in range(K) if c != ref]
    for a, c in enumerate(free):
        for t in range(q):
            coef = float(beta[t, c])
            se = z = pv = lo = hi = None
            if covariance is not None:
                var = covariance[a * q + t, a * q + t]
                if var > 0 and np.isfinite(var):
                    se = float(math.sqrt(var))
                    z = coef / se
                    pv = float(math.erfc(abs(z) / math.sqrt(2)))
                    lo, hi = odds_interval(coef, se)
            out.append(
                LogitCoefficient(
                    class_name=classes[c],
                    term=terms[t].name,
                    coef=coef,
                    se=se,
                    z=z,
                    p_value=pv,
                    odds_ratio=math.exp(min(coef, 700.0)),
                    ci_low=lo,
                    ci_high=hi,
                    flagged=terms[t].kind != "intercept" and abs(coef) > LARGE_COEF,
                )
            )
    return out


# exp() of more than this is not a float (about 1.8e308).
LOG_FLOAT_MAX = math.log(sys.float_info.max)


def odds_interval(coef: float, se: float) -> tuple[float | None, float | None]:
    """The odds ratio's 95% interval, computed in log space: a bound below the smallest float
    is 0.0, and one past the largest float is None (unbounded: the feature all but separates
    the classes, or barely varies among some of them)."""
    return _odds(coef - 1.96 * se), _odds(coef + 1.96 * se)


def _odds(log_odds: float) -> float | None:
    return math.exp(log_odds) if log_odds < LOG_FLOAT_MAX else None


def _with_dropped(data: BinaryMatrix, rows: pd.DataFrame | None, kept: np.ndarray) -> pd.DataFrame:
    """Per-household table over all input rows; rows left out have empty probabilities."""
    assert rows is not None
    index = data.row_index()
    full = pd.DataFrame({index.name or "row": index.to_numpy()})
    for col in rows.columns[1:]:
        values = pd.Series(np.nan, index=range(data.n_rows), dtype=rows[col].dtype)
        values[kept] = rows[col].to_numpy()
        full[col] = values
    return full


_checked: FitFunction[LCACovariatesParams, LCACovariatesResult] = fit
