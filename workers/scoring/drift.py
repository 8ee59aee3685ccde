"""The drift report of a scoring run: the new households against the training data, in
numbers and in plain words.

- penetration per product (share buying it among households with the cell observed), now and
  in training, in percentage points;
- the share of households per unit (modal segment, dominant component or topic), now and in
  training (the fit's own per-household table);
- the mean log-likelihood per household under the model, now and in training (families with a
  likelihood: latent classes): a drop says the segments describe the new households worse."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backend.schemas.scoring import DriftReport, ProductDrift, UnitShare
from workers.models.base import BinaryMatrix
from workers.models.scoring import Scored

# A product whose penetration moved by at least this many points is named in the summary.
PENETRATION_POINTS = 5.0
# A unit whose share moved by at least this many points is named in the summary.
SHARE_POINTS = 5.0
# Mean log-likelihood per household this much lower (relative) than in training: worse fit.
LOGLIK_DROP = 0.05


def penetration(values: np.ndarray) -> np.ndarray:
    observed = (~np.isnan(values)).sum(axis=0)
    bought = np.nansum(values, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observed > 0, bought / np.maximum(observed, 1), np.nan)


def shares(units: np.ndarray, k: int) -> np.ndarray:
    """Share of households (those with a unit) per unit."""
    known = units[units >= 0]
    if known.size == 0:
        return np.zeros(k)
    return np.bincount(known, minlength=k)[:k] / known.size


def drift_report(
    data: BinaryMatrix,
    scored: Scored,
    result: dict[str, Any],
    training: BinaryMatrix | None,
    training_rows: pd.DataFrame | None,
    units_field: str,
    unit_word: str = "Unit",
) -> DriftReport:
    products = list(result["products"])
    now = penetration(data.values)
    then = penetration(training.values) if training is not None else np.full(len(products), np.nan)
    rows = [
        ProductDrift(
            product=p,
            penetration_now=_num(now[j]),
            penetration_training=_num(then[j]),
            change_points=_num(100.0 * (now[j] - then[j])),
        )
        for j, p in enumerate(products)
    ]
    summary: list[str] = []
    units: list[str] = list(result.get(units_field) or [])
    unit_shares: list[UnitShare] = []
    if scored.unit_column is not None and units:
        k = len(units)
        share_now = shares(_units(scored.rows, scored.unit_column), k)
        share_then = None
        if training_rows is not None and scored.unit_column in training_rows.columns:
            share_then = shares(_units(training_rows, scored.unit_column), k)
        unit_shares = [
            UnitShare(
                unit=u,
                share_now=float(share_now[c]),
                share_training=None if share_then is None else float(share_then[c]),
            )
            for c, u in enumerate(units)
        ]
        summary += _share_sentences(unit_shares, [f"{unit_word} {c + 1}" for c in range(k)])
    ll_now = ll_then = None
    if scored.loglik is not None and np.isfinite(scored.loglik).any():
        ll_now = float(np.nanmean(scored.loglik))
        total = result.get("total_weight") or result.get("n_obs")
        if result.get("loglik") is not None and total:
            ll_then = float(result["loglik"]) / float(total)
        summary.insert(0, _loglik_sentence(ll_now, ll_then))
    summary += _penetration_sentences(rows)
    return DriftReport(
        products=rows,
        shares=unit_shares,
        mean_loglik_now=ll_now,
        mean_loglik_training=ll_then,
        summary=summary,
    )


def _units(rows: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(rows[column], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    return values - 1


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _loglik_sentence(now: float, then: float | None) -> str:
    if then is None:
        return f"Mean log-likelihood per household: {now:.3f}."
    change = (now - then) / abs(then) if then else 0.0
    numbers = f"Mean log-likelihood per household {now:.3f}, against {then:.3f} in training"
    if change < -LOGLIK_DROP:
        return (
            f"{numbers}: {-change:.0%} lower, so the segments describe these households worse. "
            "Their buying has changed; consider refitting on recent data."
        )
    if change > LOGLIK_DROP:
        return f"{numbers}: {change:.0%} higher, so the model fits these households well."
    return f"{numbers}: about the same, so the segments fit these households as well."


def _share_sentences(unit_shares: list[UnitShare], names: list[str]) -> list[str]:
    named = dict(zip((s.unit for s in unit_shares), names, strict=True))
    moved = [
        s
        for s in unit_shares
        if s.share_training is not None
        and abs(s.share_now - s.share_training) * 100 >= SHARE_POINTS
    ]
    if not any(s.share_training is not None for s in unit_shares):
        return []
    if not moved:
        return [f"Every share is within {SHARE_POINTS:g} points of its share in training."]
    return [
        f"{named[s.unit]}: {s.share_now:.0%} of these households against "
        f"{s.share_training:.0%} in "
        f"training ({'up' if s.share_now > (s.share_training or 0) else 'down'} "
        f"{abs(s.share_now - (s.share_training or 0)) * 100:.1f} points)."
        for s in sorted(moved, key=lambda s: -abs(s.share_now - (s.share_training or 0)))
    ]


def _penetration_sentences(rows: list[ProductDrift]) -> list[str]:
    known = [r for r in rows if r.change_points is not None]
    if not known:
        return ["The training data are no longer stored: penetration cannot be compared."]
    moved = sorted(
        (r for r in known if abs(r.change_points or 0.0) >= PENETRATION_POINTS),
        key=lambda r: -abs(r.change_points or 0.0),
    )
    if not moved:
        top = max(known, key=lambda r: abs(r.change_points or 0.0))
        return [
            f"Penetration is within {PENETRATION_POINTS:g} points of training for every product "
            f"(largest move: {top.product}, {top.change_points:+.1f} points)."
        ]
    listed = "; ".join(
        f"{r.product} {100 * (r.penetration_now or 0):.0f}% against "
        f"{100 * (r.penetration_training or 0):.0f}%"
        for r in moved[:5]
    )
    more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
    return [
        f"{len(moved)} product(s) moved by {PENETRATION_POINTS:g} points or more: {listed}{more}."
    ]
