"""Latent classes with covariates: class membership follows a multinomial logit of household
covariates (one-step maximum likelihood).

The measurement model is first fitted without covariates (`lca`: every random start, the best
kept); from that solution a one-step EM adds the covariates — E-step with per-household priors
π_ik = softmax(z_i β)_k, M-step for the item probabilities as in `lca` and one Newton step (with
step halving) for β. Standard errors come from the observed information of the full
log-likelihood (Louis' formula, all parameters; item probabilities at the bound held fixed).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

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
)
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.lca.engine import THETA_MIN, Design, log_params, prepare
from workers.models.lca.fit import (
    Reporter,
    check_data,
    fit_classes,
    n_final_for,
    ordered,
    seeds_for,
    summarise,
)

MAX_LEVELS = 50
# Standard errors from the information of all parameters up to this many item probabilities.
FULL_INFO_MAX = 1500


@dataclass
class Covariates:
    Z: np.ndarray  # rows kept × terms (intercept first)
    terms: list[CovariateTerm]
    kept: np.ndarray  # bool per input row


def encode(frame: pd.DataFrame | None, standardize: bool = True) -> Covariates:
    """Intercept; numeric columns standardised (0/1 columns kept as indicators); other columns
    one-hot against their most frequent level (missing is a level of its own). Rows with a missing
    numeric value are left out."""
    if frame is None or frame.shape[1] == 0:
        raise DataError(
            "lca_covariates needs covariate_columns: the household features that predict "
            "class membership."
        )
    n = len(frame)
    kept = np.ones(n, dtype=bool)
    for name in frame.columns:
        col = frame[name]
        if _numeric(col):
            kept &= col.notna().to_numpy()
    terms = [CovariateTerm(name="(intercept)", covariate="(intercept)", kind="intercept")]
    columns: list[np.ndarray] = [np.ones(int(kept.sum()))]
    for name in frame.columns:
        col = frame[name][kept]
        if _numeric(col):
            x = col.to_numpy(dtype=np.float64)
            values = np.unique(x)
            if len(values) < 2:
                raise DataError(f'covariate "{name}" has a single value; drop it.')
            if set(values.tolist()) <= {0.0, 1.0}:
                terms.append(CovariateTerm(name=str(name), covariate=str(name), kind="binary"))
                columns.append(x)
                continue
            mean, sd = float(x.mean()), float(x.std())
            if not standardize:
                mean, sd = 0.0, 1.0
            terms.append(
                CovariateTerm(name=str(name), covariate=str(name), kind="numeric", mean=mean, sd=sd)
            )
            columns.append((x - mean) / sd)
            continue
        labels = col.astype("string").fillna("(missing)")
        counts = labels.value_counts(sort=True)
        levels = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
        if len(levels) < 2:
            raise DataError(f'covariate "{name}" has a single value; drop it.')
        if len(levels) > MAX_LEVELS:
            raise DataError(
                f'covariate "{name}" has {len(levels)} categories (at most {MAX_LEVELS}); '
                "group them or use a numeric column."
            )
        for level in levels[1:]:
            terms.append(
                CovariateTerm(
                    name=f"{name}={level}", covariate=str(name), kind="category", level=str(level)
                )
            )
            columns.append((labels == level).to_numpy(dtype=np.float64))
    return Covariates(np.column_stack(columns), terms, kept)


def _numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


# ---------------------------------------------------------------------------------------------
# One-step EM


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


def theta_step(design: Design, R: np.ndarray, theta_prev: np.ndarray) -> np.ndarray:
    """θ_kj = Σ w r x / Σ w r o, clipped, from weighted posteriors R (design rows × K)."""
    Rw = R * design.weights[:, None]
    xr = np.zeros(theta_prev.shape[::-1])
    mr = np.zeros_like(xr)
    for b in _blocks(design):
        part = Rw[b.start : b.stop]
        xr += np.asarray(b.x[np.float64].T @ part)
        if b.miss is not None:
            mr += np.asarray(b.miss[np.float64].T @ part)
    denom = Rw.sum(axis=0)[None, :] - mr
    ok = denom > 1e-12
    theta = np.where(ok, xr / np.where(ok, denom, 1.0), theta_prev.T).T
    return np.clip(theta, THETA_MIN, 1 - THETA_MIN)


def softmax_rows(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_prior(Z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    eta = Z @ beta  # beta: terms × K (reference column zero)
    m = eta.max(axis=1, keepdims=True)
    return eta - (m + np.log(np.exp(eta - m).sum(axis=1, keepdims=True)))


def beta_step(
    Z: np.ndarray, w: np.ndarray, R: np.ndarray, beta: np.ndarray, ref: int
) -> np.ndarray:
    """One Newton step on Σ_i w_i Σ_k r_ik log π_ik(β), reference column fixed at 0, halving the
    step until the objective does not decrease."""
    K = R.shape[1]
    free = [c for c in range(K) if c != ref]
    q = Z.shape[1]

    def objective(b: np.ndarray) -> float:
        return float((w[:, None] * R * log_prior(Z, b)).sum())

    P = softmax_rows(Z @ beta)
    grad = np.concatenate([Z.T @ (w * (R[:, c] - P[:, c])) for c in free])
    H = np.zeros((len(free) * q, len(free) * q))
    for a, c in enumerate(free):
        for b_, d in enumerate(free):
            weight = w * P[:, c] * ((c == d) - P[:, d])
            H[a * q : (a + 1) * q, b_ * q : (b_ + 1) * q] = (Z * weight[:, None]).T @ Z
    H += 1e-9 * np.eye(H.shape[0])
    try:
        step = np.linalg.solve(H, grad)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(H, grad, rcond=None)[0]
    base = objective(beta)
    for _ in range(30):
        cand = beta.copy()
        for a, c in enumerate(free):
            cand[:, c] = beta[:, c] + step[a * q : (a + 1) * q]
        if objective(cand) >= base - 1e-12 * abs(base):
            return cand
        step /= 2
    return beta


def one_step_em(
    design: Design,
    Z: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    ref: int,
    max_iter: int,
    tol: float,
    progress: Progress,
    lo: float,
    hi: float,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    w = design.weights
    N = design.total_weight
    prev = -np.inf
    ll = -np.inf
    for it in range(1, max_iter + 1):
        joint = log_emission(design, theta) + log_prior(Z, beta)
        m = joint.max(axis=1, keepdims=True)
        s = np.exp(joint - m).sum(axis=1, keepdims=True)
        ll = float(w @ (np.log(s) + m)[:, 0])
        R = np.exp(joint - m) / s
        if abs(ll - prev) / N < tol:
            return theta, beta, ll, it, True
        prev = ll
        theta = theta_step(design, R, theta)
        beta = beta_step(Z, w, R, beta, ref)
        progress(
            lo + (hi - lo) * min(1.0, it / max_iter * 4),
            f"Covariate model, EM iteration {it}: log-likelihood {ll:,.2f}.",
            iteration=it,
            loglik=ll,
            details={"stage": "covariates"},
        )
    return theta, beta, ll, max_iter, False


# ---------------------------------------------------------------------------------------------
# Observed information (Louis' formula)


def information(
    design: Design,
    Z: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    ref: int,
    full: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed information (Louis' formula) of the free parameters: logit θ not at the bound,
    then β of the non-reference classes (term-major within a class). With `full=False` only the
    β block, holding θ fixed. Also answers the mask of free logit θ.

    I = complete-data information − Σ_i w_i Cov_{k|x_i}(g_ik), with g_ik the complete-data score
    of household i in class k: logit θ_k block o_i ∘ (x_i − θ_k), β_c block z_i (δ_kc − π_ic).
    Each g_ik has only its own class's θ block, which keeps the cost at
    n·(K(p² + pQ + Q²) + D²) for D parameters, Q of them β."""
    K, p = theta.shape
    q = Z.shape[1]
    free_c = [c for c in range(K) if c != ref]
    Q = len(free_c) * q
    lam_free = ((theta > THETA_MIN * 1.0001) & (theta < 1 - THETA_MIN * 1.0001)).ravel()
    n_lam = K * p if full else 0
    D = n_lam + Q
    bs = slice(n_lam, D)
    info = np.zeros((D, D))
    joint_all = log_emission(design, theta) + log_prior(Z, beta)
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
            S = np.zeros((hi - lo, D))
            for k in range(K):
                E = (np.arange(K) == k)[None, :] - P
                B = np.concatenate([Zs * E[:, c : c + 1] for c in free_c], axis=1)
                v = w * R[:, k]
                info[bs, bs] -= (B * v[:, None]).T @ B
                S[:, bs] += R[:, k : k + 1] * B
                if full:
                    lk = slice(k * p, (k + 1) * p)
                    U = obs * (X - theta[k])
                    Uv = U * v[:, None]
                    info[lk, lk] -= Uv.T @ U
                    cross = Uv.T @ B
                    info[lk, bs] -= cross
                    info[bs, lk] -= cross.T
                    S[:, lk] = R[:, k : k + 1] * U
                    # complete-data information of logit θ_k (diagonal)
                    idx = np.arange(k * p, (k + 1) * p)
                    info[idx, idx] += v @ (obs * (theta[k] * (1 - theta[k])))
            info += (S * w[:, None]).T @ S
            # complete-data information of β (multinomial logit)
            for a, c in enumerate(free_c):
                for a2, d_ in enumerate(free_c):
                    weight = w * P[:, c] * ((c == d_) - P[:, d_])
                    info[
                        n_lam + a * q : n_lam + (a + 1) * q, n_lam + a2 * q : n_lam + (a2 + 1) * q
                    ] += (Zs * weight[:, None]).T @ Zs
    keep = np.concatenate([lam_free if full else np.zeros(0, bool), np.ones(Q, dtype=bool)])
    return info[np.ix_(keep, keep)], lam_free


def beta_covariance(
    design: Design, Z: np.ndarray, theta: np.ndarray, beta: np.ndarray, ref: int
) -> tuple[np.ndarray | None, str | None]:
    """Covariance of β: from the full information when K·p ≤ FULL_INFO_MAX, else from the β
    block alone (θ held fixed; said in a warning)."""
    full = theta.size <= FULL_INFO_MAX
    info, _ = information(design, Z, theta, beta, ref, full=full)
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


def _fit(
    data: BinaryMatrix, params: LCACovariatesParams, progress: Progress
) -> LCACovariatesResult:
    k = params.n_classes
    check_data(data, k)
    if k < 2:
        raise DataError("lca_covariates needs n_classes of at least 2.")
    cov = encode(data.covariates, params.standardize)
    dropped = int((~cov.kept).sum())
    work = data
    if dropped:
        work = BinaryMatrix(
            values=data.values[cov.kept],
            products=data.products,
            row_ids=data.row_index()[cov.kept].reset_index(drop=True),
        )
        check_data(work, k)
    if params.reference_class is not None and params.reference_class > k:
        raise DataError(f"reference_class={params.reference_class} but there are only {k} classes.")
    seed, seeds = seeds_for(params)
    design = prepare(work.values, compress=False)
    reporter = Reporter(
        progress, params.n_init, n_final_for(params), params.max_iter, params.tol, hi=0.5
    )
    outcome = fit_classes(design, k, seeds, params, reporter)
    theta0, pi0 = ordered(outcome.theta, outcome.log_pi)
    fitted = design.row_of >= 0
    Z = np.zeros((design.n_rows, cov.Z.shape[1]))
    Z[design.row_of[fitted]] = cov.Z[fitted]
    ref0 = 0
    beta = np.zeros((Z.shape[1], k))
    beta[0] = np.log(pi0) - np.log(pi0[ref0])
    theta, beta, ll, iters, converged = one_step_em(
        design, Z, theta0, beta, ref0, params.max_iter, params.tol, progress, 0.5, 0.9
    )
    progress(
        0.9, "Standard errors of the covariate effects.", force=True, loglik=ll, iteration=iters
    )
    # Order classes by size (average posterior), then re-reference.
    joint = log_emission(design, theta) + log_prior(Z, beta)
    post = softmax_rows(joint)
    sizes = design.weights @ post / design.total_weight
    order = np.argsort(-sizes, kind="stable")
    theta, beta, post, sizes = theta[order], beta[:, order], post[:, order], sizes[order]
    ref = (params.reference_class or 1) - 1
    beta = beta - beta[:, [ref]]
    covariance, note = beta_covariance(design, Z, theta, beta, ref)
    classes = [f"Class {c + 1}" for c in range(k)]
    coefficients = _coefficients(beta, covariance, cov.terms, classes, ref)
    q = Z.shape[1]
    extra_npar = (k - 1) * (q - 1)
    lr = 2 * (ll - outcome.loglik)
    df = (k - 1) * (q - 1)
    prior_rows = softmax_rows(cov.Z @ beta)  # covariate-implied shares, rows of `work`
    warnings_extra = []
    if note:
        warnings_extra.append(note)
    if dropped:
        warnings_extra.append(
            f"{dropped} row(s) have a missing numeric covariate and were left out."
        )
    if not converged:
        warnings_extra.append(
            f"The covariate model did not converge within max_iter={params.max_iter}."
        )
    big = [c for c in coefficients if c.term != "(intercept)" and abs(c.coef) > 10]
    if big:
        warnings_extra.append(
            "Some coefficients are very large (|β| > 10): a covariate may separate a class "
            "perfectly; treat their standard errors with caution."
        )
    result: LCACovariatesResult = summarise(
        work,
        design,
        theta,
        sizes,
        ll,
        outcome,
        params,
        seed,
        model_type="lca_covariates",
        result_cls=LCACovariatesResult,
        extra=dict(
            reference_class=classes[ref],
            terms=cov.terms,
            coefficients=coefficients,
            n_rows_dropped=dropped,
            unconditional_loglik=outcome.loglik,
            covariate_lr=lr,
            covariate_df=df,
            covariate_p_value=float(stats.chi2.sf(max(lr, 0.0), df)) if df > 0 else 1.0,
        ),
        extra_npar=extra_npar,
        post=post,
        prior_rows=prior_rows,
    )
    result.provenance.warnings.extend(warnings_extra)
    result.iterations = iters
    result.converged = converged
    if dropped:
        result.attach_rows(_with_dropped(data, result.rows, cov.kept))
        result.n_obs = data.n_rows
        result.provenance.n_rows = data.n_rows
        result.provenance.data_hash = data.digest()
    progress(1.0, "Covariate model done.", force=True, loglik=ll, iteration=iters)
    return result


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
