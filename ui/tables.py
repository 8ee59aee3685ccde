"""Pure helpers from API JSON to the tables the pages show (and the charts draw).

A marketer's words: "segments" for latent classes, "penetration" for the share of households
that bought a product. Unit names (segments, factors, …) come from `ui.families.display_names`
so a person's labels appear everywhere; without them the plain defaults are used.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

ALL_HOUSEHOLDS = "All households"

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


def segment_names(result: dict[str, Any]) -> list[str]:
    n = len(result.get("classes") or result.get("class_sizes") or [])
    return [f"Segment {k + 1}" for k in range(n)]


def _names(result: dict[str, Any], names: list[str] | None) -> list[str]:
    return list(names) if names else segment_names(result)


def sizes_frame(result: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    """Segment, share of households (model estimate) and households assigned to it."""
    names = _names(result, names)
    counts = result.get("class_counts") or [None] * len(names)
    return pd.DataFrame(
        {"Segment": names, "Share": [float(s) for s in result["class_sizes"]], "Households": counts}
    )


def overall_penetration(result: dict[str, Any]) -> list[float]:
    """Share of all households buying each product: the observed rates when the result has
    them, else the model-implied, size-weighted average of the segments."""
    observed = result.get("overall_rates")
    if isinstance(observed, list) and len(observed) == len(result["products"]):
        return [float(x) for x in observed]
    sizes = result["class_sizes"]
    probs = result["item_probabilities"]
    return [
        float(sum(sizes[k] * probs[k][j] for k in range(len(sizes))))
        for j in range(len(result["products"]))
    ]


def profile_wide(result: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    """Products × segments: the chance that a household of each segment buys each product,
    with the all-households penetration as the last column."""
    names = _names(result, names)
    frame = pd.DataFrame(
        {name: [float(p) for p in result["item_probabilities"][k]] for k, name in enumerate(names)},
        index=pd.Index(result["products"], name="Product"),
    )
    frame[ALL_HOUSEHOLDS] = overall_penetration(result)
    return frame


def index_wide(result: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    """Products × segments: index vs all households (100 = average)."""
    names = _names(result, names)
    given = result.get("item_index")
    if isinstance(given, list) and len(given) == len(names):
        values = {name: [float(v) for v in given[k]] for k, name in enumerate(names)}
    else:
        overall = overall_penetration(result)
        values = {
            name: [
                100 * float(p) / overall[j] if overall[j] > 0 else float("nan")
                for j, p in enumerate(result["item_probabilities"][k])
            ]
            for k, name in enumerate(names)
        }
    return pd.DataFrame(values, index=pd.Index(result["products"], name="Product"))


def profile_long(result: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    """One row per segment and product, for the heatmap."""
    names = _names(result, names)
    sizes = result["class_sizes"]
    index = index_wide(result, names).to_numpy(dtype=float)
    rows = []
    for k, name in enumerate(names):
        for j, product in enumerate(result["products"]):
            p = float(result["item_probabilities"][k][j])
            idx = float(index[j, k])
            rows.append(
                {
                    "Segment": name,
                    "Segment share": float(sizes[k]),
                    "Product": product,
                    "Probability": p,
                    "Index": None if idx != idx else round(idx),
                }
            )
    return pd.DataFrame(
        rows, columns=["Segment", "Segment share", "Product", "Probability", "Index"]
    )


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


def starts_frame(result: dict[str, Any]) -> pd.DataFrame:
    """One row per random start, best log-likelihood first."""
    frame = pd.DataFrame(
        result.get("starts") or [],
        columns=["start", "seed", "loglik", "iterations", "converged"],
    ).rename(
        columns={
            "start": "Start", "seed": "Seed", "loglik": "Log-likelihood",
            "iterations": "Iterations", "converged": "Converged",
        }
    )
    return frame.sort_values("Log-likelihood", ascending=False, kind="stable")


def sweep_frame(sweep: dict[str, Any]) -> pd.DataFrame:
    """A class-number sweep's comparison: one row per number of segments, plainly named."""
    param = str(sweep.get("param", "n_classes"))
    rows = [
        {
            "Segments": row.get(param),
            "BIC": row.get("bic"),
            "AIC": row.get("aic"),
            "SABIC": row.get("sabic"),
            "Entropy": row.get("entropy"),
            "Smallest segment %": _pct(row.get("smallest_class_share")),
            "Status": row.get("status"),
            "Best": row.get(param) == sweep.get("recommended"),
        }
        for row in sweep.get("table", [])
    ]
    return pd.DataFrame(
        rows,
        columns=["Segments", "BIC", "AIC", "SABIC", "Entropy", "Smallest segment %", "Status",
                 "Best"],
    )


def flatten(value: Any) -> pd.DataFrame | None:
    """Any list of records (or a matrix) from a result as a table; None if it is not tabular."""
    if isinstance(value, list) and value:
        if all(isinstance(v, dict) for v in value):
            return pd.json_normalize(value)
        if all(isinstance(v, list) for v in value):
            return pd.DataFrame(value)
        if all(not isinstance(v, dict | list) for v in value):
            return pd.DataFrame({"value": value})
    if isinstance(value, dict) and value and all(not isinstance(v, dict | list)
                                                  for v in value.values()):
        return pd.DataFrame({"name": list(value), "value": list(value.values())})
    return None


def scalars(result: dict[str, Any]) -> pd.DataFrame:
    """Every number, text and flag at the top level of a result, as a two-column table."""
    rows = [(k, _fmt(v)) for k, v in result.items() if not isinstance(v, dict | list)]
    return pd.DataFrame(rows, columns=["Field", "Value"])
