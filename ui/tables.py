"""Pure helpers from API JSON to the small tables the pages show: the dataset's column
profile and the column roles to start from, a run's fit statistics, a sweep's comparison and
a Bayesian run's diagnostics, in a marketer's words. Everything the exports hold comes from
the API (`GET /runs/{id}/export`), not from here.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

KIND_LABELS = {
    "binary": "0/1 purchase",
    "numeric": "Number",
    "categorical": "Text / category",
    "empty": "Empty",
}

_ID_NAME = re.compile(r"(^|_|\b)(id|key|hh|household|customer|panelist|member)(_|\b|$)", re.I)


def _pct(share: float | None) -> float | None:
    return None if share is None else 100 * float(share)


# -- data page ---------------------------------------------------------------------------


def column_profile_frame(columns: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per column: name, type in plain words, penetration (in %), missing, distinct
    values and a few values that are not 0/1."""
    rows = [
        {
            "Column": c["name"],
            "Type": KIND_LABELS.get(c.get("kind", ""), c.get("kind", "")),
            "Usable as product": bool(c.get("is_binary")),
            "Penetration": _pct(c.get("prevalence")) if c.get("is_binary") else None,
            "Missing": int(c.get("n_missing", 0)),
            "Distinct values": int(c.get("n_unique", 0)),
            "Other values": ", ".join(str(v) for v in c.get("examples", [])[:5]),
        }
        for c in columns
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "Column", "Type", "Usable as product", "Penetration", "Missing", "Distinct values",
            "Other values",
        ],
    )


def guess_id_column(columns: list[dict[str, Any]], n_rows: int | None = None) -> str | None:
    """The column that looks like a household ID: not 0/1, unique per row, ID-like name first."""
    candidates = [c for c in columns if not c.get("is_binary") and c.get("kind") != "empty"]
    if n_rows:
        unique = [c for c in candidates if c.get("n_unique") == n_rows and not c.get("n_missing")]
    else:
        unique = candidates
    named = [c for c in unique if _ID_NAME.search(c["name"])]
    for group in (named, unique, [c for c in candidates if _ID_NAME.search(c["name"])]):
        if group:
            return str(group[0]["name"])
    return None


def default_products(columns: list[dict[str, Any]], id_column: str | None) -> list[str]:
    """Every 0/1 column except the ID: the sensible first choice of products."""
    return [c["name"] for c in columns if c.get("is_binary") and c["name"] != id_column]


def default_covariates(
    columns: list[dict[str, Any]], id_column: str | None, n_rows: int | None = None
) -> list[str]:
    """Household features: numeric or text columns with a few values, not the ID."""
    out = []
    for c in columns:
        if c.get("is_binary") or c["name"] == id_column or c.get("kind") == "empty":
            continue
        if c.get("kind") == "categorical" and int(c.get("n_unique", 0)) > 30:
            continue
        if n_rows and c.get("n_unique") == n_rows:
            continue
        out.append(str(c["name"]))
    return out


# -- results -----------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fit_table(result: dict[str, Any]) -> pd.DataFrame:
    """The fit statistics, named plainly, for the details expander."""
    items = [
        ("Log-likelihood", result.get("loglik")),
        ("Parameters", result.get("npar")),
        ("AIC", result.get("aic")),
        ("BIC", result.get("bic")),
        ("Sample-size adjusted BIC", result.get("sabic")),
        ("CAIC", result.get("caic")),
        ("Entropy (1 = clear-cut segments)", result.get("entropy")),
        ("Households", result.get("n_obs")),
        ("Missing cells", result.get("n_missing_cells")),
        ("Converged", result.get("converged")),
        ("EM iterations (best start)", result.get("iterations")),
        ("Starts reaching the best fit", result.get("n_starts_at_best")),
    ]
    return pd.DataFrame(
        [(k, _fmt(v)) for k, v in items if k in ("Log-likelihood", "Households") or v is not None],
        columns=["Statistic", "Value"],
    )


def sweep_frame(sweep: dict[str, Any]) -> pd.DataFrame:
    """A class-number sweep's comparison: one row per number of segments, plainly named."""
    param = str(sweep.get("param", "n_classes"))
    columns = {
        "Segments": param,
        "Log-likelihood": "loglik",
        "Parameters": "npar",
        "L²": "l_squared",
        "df": "l_squared_df",
        "L² p": "l_squared_p_value",
        "L² p (bootstrap)": "l_squared_bootstrap_p_value",
        "BIC": "bic",
        "AIC": "aic",
        "SABIC": "sabic",
        "CAIC": "caic",
        "Entropy": "entropy",
        "Classification error %": "classification_error",
        "Smallest segment %": "smallest_class_share",
        "Starts at best": "n_starts_at_best",
        "Starts": "n_starts",
        "BLRT p": "blrt_p_value",
        "Stability (ARI)": "stability_ari",
        "Status": "status",
    }
    percent = {"Classification error %", "Smallest segment %"}
    rows = [
        {
            **{
                name: _pct(row.get(key)) if name in percent else row.get(key)
                for name, key in columns.items()
            },
            "Best": row.get(param) == sweep.get("recommended"),
        }
        for row in sweep.get("table", [])
    ]
    return pd.DataFrame(rows, columns=[*columns, "Best"])


def diagnostics_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Sampler diagnostics in plain words, each with a verdict."""
    d = result.get("diagnostics") or {}
    rows: list[tuple[str, Any, str]] = []

    def add(label: str, value: Any, verdict: str = "") -> None:
        if value is not None:
            rows.append((label, value, verdict))

    add("Method", d.get("method"))
    add("Sampler", d.get("sampler"))
    add("Chains × draws", f"{d.get('chains')} × {d.get('draws')}" if d.get("draws") else None)
    div = d.get("divergences")
    add("Divergent transitions", div, "" if div is None else ("ok" if div == 0 else
                                                              "raise target_accept"))
    r = d.get("max_r_hat")
    add("Largest R-hat", None if r is None else round(float(r), 3),
        "" if r is None else ("ok" if r < 1.01 else "chains disagree: sample longer"))
    ess = d.get("min_ess_bulk")
    # As the run's verdict: 100 effective draws per chain (workers/models/bayes/convergence.py).
    ess_needed = 100 * max(1, int(d.get("chains") or 1))
    add("Smallest bulk ESS", None if ess is None else round(float(ess)),
        "" if ess is None else ("ok" if ess >= ess_needed else "few effective draws"))
    bfmi = d.get("min_bfmi")
    add("Smallest E-BFMI", None if bfmi is None else round(float(bfmi), 2),
        "" if bfmi is None else ("ok" if bfmi >= 0.3 else "poor exploration"))
    add("Sampling time (s)", None if d.get("sampling_seconds") is None
        else round(float(d["sampling_seconds"]), 1))
    vi = result.get("vi") or {}
    if vi:
        add("VI iterations", vi.get("iterations"),
            "converged" if vi.get("converged") else "stopped at the limit")
        add("Final loss", None if vi.get("final_loss") is None
            else round(float(vi["final_loss"]), 2))
    comparison = result.get("comparison") or {}
    if comparison:
        add("ELPD (LOO)", round(float(comparison.get("elpd_loo", 0.0)), 1))
        k = comparison.get("n_pareto_k_high")
        add("Households with Pareto k > 0.7", k, "" if k is None else ("ok" if k == 0 else
                                                                       "LOO unreliable"))
    return pd.DataFrame([(a, str(b), c) for a, b, c in rows],
                        columns=["Diagnostic", "Value", "Verdict"])
