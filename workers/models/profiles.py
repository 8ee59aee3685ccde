"""Profiles by household features, for every family with per-household outputs: who is in each
segment (shares of each category and means of numeric features, weighted by each household's
posterior probability of the segment and its case weight) or who scores high on each factor,
component or topic (the mean score per category). The features do not move the units.

Tests and marks (docs/profiles.md):

* segments × category: Pearson χ² of independence on the posterior-weighted table (df
  (K − 1)(L − 1)); each cell's adjusted residual (n − e) / √(e (1 − n_k/N)(1 − n_c/N));
* segments × numeric: the segment's weighted mean and median; a Wald test of equal means
  (df K − 1) and each segment's z against the whole base;
* scores × category (numeric features cut at their quartiles): a one-way ANOVA F per unit and
  each category's z of its mean against the whole base;
* a cell is marked when |residual| exceeds Φ⁻¹(1 − α/(2m)), α = 0.05, m the number of cells
  tested over all features (Bonferroni).

Case weights are rescaled to sum to the number of rows for the tests (a weight of 2 is not two
independent interviews); shares, means and indices use them as given. Posterior-weighted
counts are treated as counts: the tests are approximate (the 3-step corrections are exact).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from backend.schemas.profiles import FeatureProfile, FeatureTest, HouseholdProfiles, ProfileCell
from backend.schemas.results import FitResult, WeightsUsed
from workers.models.base import BinaryMatrix

log = logging.getLogger(__name__)

ALPHA = 0.05
MAX_LEVELS = 50
SPARSE_SHARE = 0.01
SPARSE_MIN = 10
MEMBERSHIP = re.compile(r"p_class_(\d+)")
SCORE = re.compile(r"(factor|weight|dim|topic)_(\d+)")
METHOD = (
    "Segments: shares and means weighted by each household's probability of the segment"
    "{weights}; χ² test of independence per categorical feature, Wald test of equal means per "
    "numeric one; a cell is marked when its adjusted residual (or z) passes the Bonferroni-"
    "corrected critical value over all {m} cells (α = 0.05)."
)
SCORE_METHOD = (
    "Mean score of the households in each category{weights} (numeric features cut at their "
    "quartiles); one-way ANOVA per unit and feature; a category is marked when its z against "
    "the whole base passes the Bonferroni-corrected critical value over all {m} cells "
    "(α = 0.05)."
)


def attach_profiles(result: FitResult, data: BinaryMatrix, units: list[str]) -> None:
    """Sets `result.profiles` (and `result.weights`) from the fit's per-household table and the
    run's household features. A failure is logged, never fatal: the fit is kept."""
    if data.weights is not None:
        w = data.row_weights()
        result.weights = WeightsUsed(
            column=str(data.meta.get("weight_column", "weight")),
            total=float(w.sum()),
            n_rows=data.n_rows,
            min=float(w.min()),
            max=float(w.max()),
        )
    if data.covariates is None or data.covariates.shape[1] == 0 or result.rows is None:
        return
    try:
        result.profiles = build_profiles(result.rows, data.covariates, units, data.weights)
    except Exception:
        log.exception("no profiles by household features for this result")
        return
    if result.profiles is not None:
        result.provenance.warnings += [
            w for w in result.profiles.warnings if w not in result.provenance.warnings
        ]


def unit_columns(rows: pd.DataFrame) -> tuple[str, list[str]] | None:
    """("membership", p_class columns) or ("score", score columns), in unit order."""
    member = sorted(
        (int(m.group(1)), str(c)) for c in rows.columns if (m := MEMBERSHIP.fullmatch(str(c)))
    )
    if member:
        return "membership", [c for _, c in member]
    scores = sorted(
        (int(m.group(2)), str(c)) for c in rows.columns if (m := SCORE.fullmatch(str(c)))
    )
    if scores:
        return "score", [c for _, c in scores]
    return None


@dataclass(frozen=True)
class _Units:
    """What each feature is profiled against: per household its membership of each unit or its
    score on it (`values`, households × units), its weight `w`, the `scale` that brings the
    weights to the number of households (for the tests), and the units' names."""

    values: np.ndarray
    w: np.ndarray
    scale: float
    names: list[str]


def build_profiles(
    rows: pd.DataFrame,
    features: pd.DataFrame,
    units: list[str],
    weights: np.ndarray | None = None,
) -> HouseholdProfiles | None:
    found = unit_columns(rows)
    if found is None:
        return None
    measure, columns = found
    values = rows[columns].to_numpy(dtype=np.float64)
    names = [units[k] if k < len(units) else f"Unit {k + 1}" for k in range(len(columns))]
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(values).all(axis=1) & np.isfinite(w)
    if measure == "membership":
        ok &= values.sum(axis=1) > 0
    values, w = values[ok], w[ok]
    frame = features.loc[ok].reset_index(drop=True)
    scale = len(w) / w.sum()  # tests: weights rescaled to the number of rows
    by = _Units(values, w, scale, names)
    out: list[FeatureProfile] = []
    notes: list[str] = []
    for name in frame.columns:
        column = frame[name]
        kind = _kind(column)
        if kind is None:
            notes.append(f'"{name}" was not profiled: it has more than {MAX_LEVELS} categories.')
            continue
        if measure == "membership":
            profile = (
                _segments_categorical(str(name), column, by)
                if kind == "categorical"
                else _segments_numeric(str(name), column, by)
            )
        else:
            profile = _scores(str(name), column, kind, by)
        if profile is not None:
            out.append(profile)
    sparse = [f"{f.feature}={level}" for f in out for level in f.sparse_levels]
    if sparse:
        notes.append(
            f"Household feature levels held by under {SPARSE_SHARE:.0%} of households (or fewer "
            f"than {SPARSE_MIN}): {', '.join(sparse[:10])}{' …' if len(sparse) > 10 else ''}; "
            "their profiles rest on few households."
        )
    m = sum(len(f.cells) for f in out)
    crit = float(stats.norm.isf(ALPHA / (2 * max(m, 1))))
    for f in out:
        for cell in f.cells:
            cell.significant = cell.residual is not None and abs(cell.residual) > crit
    weighted = weights is not None
    template = METHOD if measure == "membership" else SCORE_METHOD
    return HouseholdProfiles(
        measure=measure,
        units=names,
        features=out,
        alpha=ALPHA,
        n_cells=m,
        critical_z=crit,
        method=template.format(weights=" and case weight" if weighted else "", m=m),
        weighted=weighted,
        warnings=notes,
    )


def _kind(column: pd.Series) -> str | None:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    present = column.dropna()
    if numeric and present.nunique() > 2:
        return "numeric"
    if present.astype(str).nunique() + int(column.isna().any()) > MAX_LEVELS:
        return None
    return "categorical"


def _labels(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column):
        text = column.map(lambda v: None if pd.isna(v) else f"{v:g}")
    else:
        text = column.astype("string")
    return text.fillna("(missing)").astype(str)


def _levels(labels: pd.Series, w: np.ndarray) -> tuple[list[str], np.ndarray]:
    totals = pd.Series(w).groupby(labels.to_numpy()).sum()
    levels = sorted(totals.index, key=lambda v: (-totals[v], str(v)))
    codes = pd.Categorical(labels, categories=levels).codes
    return [str(v) for v in levels], np.asarray(codes)


def _sparse(levels: list[str], counts: np.ndarray, rows: np.ndarray, total: float) -> list[str]:
    return [
        lv
        for lv, c, r in zip(levels, counts, rows, strict=True)
        if c < SPARSE_SHARE * total or r < SPARSE_MIN
    ]


def _segments_categorical(name: str, column: pd.Series, by: _Units) -> FeatureProfile:
    R, w, scale, units = by.values, by.w, by.scale, by.names
    levels, codes = _levels(_labels(column), w)
    L, K = len(levels), R.shape[1]
    onehot = np.zeros((len(codes), L))
    onehot[np.arange(len(codes)), codes] = 1.0
    table = (R * w[:, None]).T @ onehot  # K × L weighted counts
    n_k, n_c, N = table.sum(axis=1), table.sum(axis=0), table.sum()
    share = table / np.maximum(n_k[:, None], 1e-300)
    overall = n_c / N
    counts = table * scale
    e = np.outer(n_k, n_c) / N * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.where(e > 0, (counts - e) ** 2 / e, 0.0).sum())
        denom = np.sqrt(e * (1 - n_k[:, None] / N) * (1 - n_c[None, :] / N))
        residual = np.where(denom > 0, (counts - e) / denom, 0.0)
    df = (K - 1) * (L - 1)
    cells = [
        ProfileCell(
            unit=units[k],
            level=levels[c],
            share=float(share[k, c]),
            index=float(100 * share[k, c] / overall[c]) if overall[c] > 0 else None,
            residual=float(residual[k, c]),
        )
        for k in range(K)
        for c in range(L)
    ]
    rows_per = np.bincount(codes, minlength=L)
    return FeatureProfile(
        feature=name,
        kind="categorical",
        levels=levels,
        overall=[float(v) for v in overall],
        cells=cells,
        tests=[
            FeatureTest(
                method="chi2",
                statistic=chi2,
                df=df,
                p_value=float(stats.chi2.sf(chi2, df)) if df > 0 else 1.0,
            )
        ],
        sparse_levels=_sparse(levels, n_c, rows_per, N),
    )


def weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    if cum[-1] <= 0:
        return float("nan")
    return float(x[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _segments_numeric(name: str, column: pd.Series, by: _Units) -> FeatureProfile | None:
    R, w, scale, units = by.values, by.w, by.scale, by.names
    x = column.to_numpy(dtype=np.float64)
    keep = np.isfinite(x)
    if keep.sum() < 3:
        return None
    x, R, w = x[keep], R[keep], w[keep]
    W = R * w[:, None]
    n_k = W.sum(axis=0)
    N = n_k.sum()
    mean = (W.T @ x) / np.maximum(n_k, 1e-300)
    m_all = float(w @ x / w.sum())
    var_k = (W * (x[:, None] - mean[None, :]) ** 2).sum(axis=0) / np.maximum(n_k, 1e-300)
    se = np.sqrt(var_k / np.maximum(n_k * scale, 1e-300) * np.maximum(1 - n_k / N, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (mean - m_all) / se, 0.0)
        var_mean = var_k / np.maximum(n_k * scale, 1e-300)
        inv = np.where(var_mean > 0, 1 / var_mean, 0.0)
    pooled = float((inv * mean).sum() / max(inv.sum(), 1e-300))
    wald = float((inv * (mean - pooled) ** 2).sum())
    K = R.shape[1]
    cells = [
        ProfileCell(
            unit=units[k],
            mean=float(mean[k]),
            median=weighted_median(x, W[:, k]),
            index=float(100 * mean[k] / m_all) if m_all > 0 else None,
            residual=float(z[k]),
        )
        for k in range(K)
    ]
    return FeatureProfile(
        feature=name,
        kind="numeric",
        overall=[m_all, weighted_median(x, w)],
        cells=cells,
        tests=[
            FeatureTest(
                method="wald", statistic=wald, df=K - 1, p_value=float(stats.chi2.sf(wald, K - 1))
            )
        ],
    )


def _quartiles(column: pd.Series, w: np.ndarray) -> pd.Series:
    x = column.to_numpy(dtype=np.float64)
    keep = np.isfinite(x)
    cuts = [weighted_quantile(x[keep], w[keep], q) for q in (0.25, 0.5, 0.75)]
    cuts = sorted(set(cuts))
    bins = np.searchsorted(cuts, x, side="left")
    edges = [-np.inf, *cuts, np.inf]
    names = []
    for b in range(len(edges) - 1):
        lo, hi = edges[b], edges[b + 1]
        names.append(
            f"≤ {hi:g}" if lo == -np.inf else (f"> {lo:g}" if hi == np.inf else f"{lo:g}–{hi:g}")
        )
    labels = pd.Series([names[b] if k else "(missing)" for b, k in zip(bins, keep, strict=True)])
    return labels


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    return float(x[order][min(np.searchsorted(cum, q * cum[-1]), len(x) - 1)])


def _scores(name: str, column: pd.Series, kind: str, by: _Units) -> FeatureProfile | None:
    Y, w, scale, units = by.values, by.w, by.scale, by.names
    labels = _quartiles(column, w) if kind == "numeric" else _labels(column)
    levels, codes = _levels(labels, w)
    L = len(levels)
    if L < 2:
        return None
    onehot = np.zeros((len(codes), L))
    onehot[np.arange(len(codes)), codes] = 1.0
    n_c = w @ onehot
    N = n_c.sum()
    means = (onehot * w[:, None]).T @ Y / np.maximum(n_c[:, None], 1e-300)  # L × units
    m_all = w @ Y / N
    resid = Y - means[codes]
    within = (w[:, None] * resid**2).sum(axis=0)
    between = (n_c[:, None] * (means - m_all[None, :]) ** 2).sum(axis=0)
    n_eff = N * scale
    df1, df2 = L - 1, max(n_eff - L, 1.0)
    s2 = within / N * n_eff / df2
    cells, tests = [], []
    for u in range(Y.shape[1]):
        f = float((between[u] * scale / df1) / max(s2[u], 1e-300))
        tests.append(
            FeatureTest(
                unit=units[u],
                method="anova",
                statistic=f,
                df=float(df1),
                p_value=float(stats.f.sf(f, df1, df2)),
            )
        )
        for c in range(L):
            se = np.sqrt(s2[u] / max(n_c[c] * scale, 1e-300) * max(1 - n_c[c] / N, 0.0))
            cells.append(
                ProfileCell(
                    unit=units[u],
                    level=levels[c],
                    mean=float(means[c, u]),
                    residual=float((means[c, u] - m_all[u]) / se) if se > 0 else 0.0,
                )
            )
    return FeatureProfile(
        feature=name,
        kind="numeric" if kind == "numeric" else "categorical",
        levels=levels,
        overall=[float(v) for v in n_c / N],
        cells=cells,
        tests=tests,
        sparse_levels=_sparse(levels, n_c, np.bincount(codes, minlength=L), N),
    )


def unit_names(result: Any, units_field: str, word: str) -> list[str]:
    """The units' raw keys from the result's units field (names, or records)."""
    raw = getattr(result, units_field, None)
    if isinstance(raw, list) and all(isinstance(u, str) for u in raw):
        return [str(u) for u in raw]
    n = len(raw) if isinstance(raw, list) else 0
    return [f"{word} {k + 1}" for k in range(n)]
