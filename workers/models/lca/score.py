"""Scoring new households with a finished latent class model (`lca`, `lca_covariates`).

Posterior class probabilities by Bayes' rule at the stored parameters, over each household's
observed cells only (full information: a missing cell drops out of the likelihood, as in the
fit), and the modal class. A household with every product missing gets the prior (the class
sizes, or its features' shares) and no modal class, as the fit's table does. With household
features the prior is the multinomial logit of the stored coefficients on the features encoded
as in training (workers/models/lca/covariates.py's `encode`: numeric standardised by the
training mean and sd, categories one-hot against the training reference level); a category the
fit never saw is refused, naming it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backend.errors import DataError
from workers.models.base import BinaryMatrix, Progress
from workers.models.scoring import Scored, ScoreFunction, check_binary, chunks

MISSING_LEVEL = "(missing)"


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    check_binary(data)
    theta = np.asarray(result["item_probabilities"], dtype=np.float64)
    log_pi = np.log(np.asarray(result["class_sizes"], dtype=np.float64))
    log_prior, kept = None, None
    if result.get("terms"):
        Z, kept = design_matrix(data.covariates, result)
        log_prior = _log_softmax(Z @ coefficient_matrix(result))
    post, ll = posterior(data.values, theta, log_pi, log_prior, progress)
    return _scored(data, post, ll, kept, result)


def posterior(
    values: np.ndarray,
    theta: np.ndarray,
    log_pi: np.ndarray,
    log_prior: np.ndarray | None,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior class probabilities (rows × K) and each row's log-likelihood, chunk by chunk:
    log P(x, k) = log π_k + Σ_observed [x log θ + (1 − x) log(1 − θ)]. `log_prior` (rows × K)
    replaces log π per row (covariates)."""
    n = values.shape[0]
    log1m = np.log1p(-theta)
    logit = np.log(theta) - log1m
    W, V = np.ascontiguousarray(logit.T), np.ascontiguousarray(log1m.T)
    const = log1m.sum(axis=1)
    post = np.empty((n, theta.shape[0]))
    ll = np.empty(n)
    for start, stop in chunks(n):
        x = values[start:stop]
        missing = np.isnan(x)
        A = np.where(missing, 0.0, x) @ W + const
        if missing.any():
            A -= missing.astype(np.float64) @ V
        A += log_pi if log_prior is None else log_prior[start:stop]
        m = A.max(axis=1, keepdims=True)
        e = np.exp(A - m)
        s = e.sum(axis=1, keepdims=True)
        post[start:stop] = e / s
        ll[start:stop] = (np.log(s) + m)[:, 0]
        progress(stop / n, f"Scored {stop:,} of {n:,} households.")
    return post, ll


def _scored(
    data: BinaryMatrix,
    post: np.ndarray,
    ll: np.ndarray,
    kept: np.ndarray | None,
    result: dict[str, Any],
) -> Scored:
    """The fit's per-row table: p_class_1..K and modal_class (none for a household without
    data, or left out for a missing numeric feature: empty probabilities)."""
    k = post.shape[1]
    fitted = ~np.isnan(data.values).all(axis=1)
    rows = pd.DataFrame(post, columns=[f"p_class_{c + 1}" for c in range(k)])
    modal = pd.array(post.argmax(axis=1) + 1, dtype="Int64")
    modal[~fitted] = pd.NA
    ll = np.where(fitted, ll, np.nan)
    warnings_: list[str] = []
    if not fitted.all():
        warnings_.append(
            f"{int((~fitted).sum()):,} household(s) have every product missing: their "
            "probabilities are the prior and they have no modal class."
        )
    if kept is not None and not kept.all():
        dropped = ~kept
        rows.loc[dropped, rows.columns] = np.nan
        modal[dropped] = pd.NA
        ll = np.where(kept, ll, np.nan)
        warnings_.append(
            f"{int(dropped.sum()):,} household(s) miss a numeric household feature: left "
            "unscored (empty probabilities), as the fit left such households out."
        )
    rows["modal_class"] = modal
    return Scored(rows, loglik=ll, unit_column="modal_class", warnings=warnings_)


def coefficient_matrix(result: dict[str, Any]) -> np.ndarray:
    """β (terms × classes) from the stored coefficients; the reference class's column is 0."""
    terms = [t["name"] for t in result["terms"]]
    classes = list(result["classes"])
    beta = np.zeros((len(terms), len(classes)))
    for c in result["coefficients"]:
        beta[terms.index(c["term"]), classes.index(c["class_name"])] = c["coef"]
    return beta


def design_matrix(
    features: pd.DataFrame | None, result: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The training encoding applied to new households: (rows × terms, rows kept). Rows with a
    missing numeric feature are not kept (their rows of Z are 0)."""
    terms = result["terms"]
    levels: dict[str, list[str]] = (result.get("scoring") or {}).get("levels", {})
    names = list(dict.fromkeys(t["covariate"] for t in terms if t["kind"] != "intercept"))
    if features is None or any(name not in features.columns for name in names):
        absent = [n for n in names if features is None or n not in features.columns]
        raise DataError(
            f"the model needs the household feature(s) {', '.join(map(repr, absent))}; "
            "the data do not have them."
        )
    n = len(features)
    kept = np.ones(n, dtype=bool)
    encoded: dict[str, Any] = {}
    for name in names:
        kinds = {t["kind"] for t in terms if t["covariate"] == name}
        col = features[name]
        if kinds & {"numeric", "binary"}:
            x = _numbers(col, name)
            if "binary" in kinds:
                other = np.unique(x[~np.isnan(x) & (x != 0) & (x != 1)])
                if other.size:
                    raise DataError(
                        f'household feature "{name}" was 0/1 in training; these households '
                        f"have {', '.join(f'{v:g}' for v in other[:5])}."
                    )
            kept &= ~np.isnan(x)
            encoded[name] = x
        else:
            labels = col.astype("string").fillna(MISSING_LEVEL).to_numpy(dtype=object)
            seen = levels.get(name)
            if seen is not None:
                unseen = sorted(set(labels) - set(seen))
                if unseen:
                    raise DataError(unseen_sentence(name, unseen, seen))
            encoded[name] = labels
    Z = np.zeros((n, len(terms)))
    for t, term in enumerate(terms):
        kind = term["kind"]
        if kind == "intercept":
            Z[:, t] = 1.0
        elif kind == "numeric":
            Z[:, t] = (encoded[term["covariate"]] - term["mean"]) / term["sd"]
        elif kind == "binary":
            Z[:, t] = encoded[term["covariate"]]
        else:
            Z[:, t] = encoded[term["covariate"]] == term["level"]
    Z[~kept] = 0.0
    return Z, kept


def unseen_sentence(name: str, unseen: list[str], seen: list[str]) -> str:
    shown = ", ".join(f'"{v}"' for v in unseen[:5])
    more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
    known = ", ".join(f'"{v}"' for v in seen[:10])
    return (
        f'household feature "{name}" has categories the model never saw in training: '
        f"{shown}{more}; it knows {known}. Recode them to a known category (or blank)."
    )


def _numbers(col: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce")
    text = col.notna() & values.isna()
    if text.any():
        shown = ", ".join(f'"{v}"' for v in col[text].astype(str).unique()[:5])
        raise DataError(
            f'household feature "{name}" was numeric in training; these households have text: '
            f"{shown}."
        )
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _log_softmax(eta: np.ndarray) -> np.ndarray:
    m = eta.max(axis=1, keepdims=True)
    return eta - (m + np.log(np.exp(eta - m).sum(axis=1, keepdims=True)))


_checked: ScoreFunction = score
