"""Factor-model charts (tetrachoric and Bayesian factor models), pure."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd

from ui.charts import INK, MUTED, PRIMARY, unit_scale


def scree_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Long table for the scree plot: the data's eigenvalues and, when parallel analysis ran,
    the 95th percentile of the same eigenvalues from permuted data."""
    rows = []
    for row in result.get("scree") or []:
        rows.append({"Number": row["number"], "Series": "Your data",
                     "Eigenvalue": row["eigenvalue"]})
        if row.get("random_p95") is not None:
            rows.append({"Number": row["number"], "Series": "Random data (95th percentile)",
                         "Eigenvalue": row["random_p95"]})
    if not rows:  # a result with eigenvalues only
        rows = [{"Number": i + 1, "Series": "Your data", "Eigenvalue": v}
                for i, v in enumerate(result.get("eigenvalues") or [])]
    return pd.DataFrame(rows, columns=["Number", "Series", "Eigenvalue"])


def scree_chart(result: dict[str, Any], max_points: int = 15) -> alt.LayerChart:
    """Eigenvalues by number, with parallel analysis: keep the factors whose eigenvalue lies
    above the random-data line."""
    data = scree_frame(result)
    data = data[data["Number"] <= max_points]
    series = ["Your data", "Random data (95th percentile)"]
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("Number:O", title="Factor number", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("Eigenvalue:Q", title="Eigenvalue"),
        color=alt.Color("Series:N", sort=series, scale=alt.Scale(domain=series,
                                                                 range=[PRIMARY, MUTED]),
                        legend=alt.Legend(orient="top", title=None)),
        strokeDash=alt.StrokeDash("Series:N", sort=series, legend=None),
        tooltip=["Number:O", "Series:N", alt.Tooltip("Eigenvalue:Q", format=".2f")],
    )
    kept = pd.DataFrame({"Number": [result.get("n_factors") or 1]})
    rule = alt.Chart(kept).mark_rule(strokeDash=[4, 4], color=INK).encode(x="Number:O")
    return (lines + rule).properties(height=260, width=480)


def score_columns(rows: pd.DataFrame) -> list[str]:
    """The per-household score columns (factor_1, …), not their sd or interval columns."""
    return [c for c in rows.columns
            if re.fullmatch(r"(factor|score|dim|weight|topic)_\d+", str(c))
            and pd.api.types.is_numeric_dtype(rows[c])]


def score_distribution_chart(
    rows: pd.DataFrame, names: list[str], columns: list[str] | None = None
) -> alt.Chart:
    """The distribution of household scores on each factor (one density per factor)."""
    columns = columns or score_columns(rows)
    names = list(names)[: len(columns)] or columns
    rename = dict(zip(columns, names, strict=False))
    long = rows[columns].rename(columns=rename).melt(var_name="Factor", value_name="Score")
    return alt.Chart(long).transform_density(
        "Score", groupby=["Factor"], as_=["Score", "Density"]
    ).mark_area(opacity=0.35, line=True).encode(
        x=alt.X("Score:Q", title="Household score"),
        y=alt.Y("Density:Q", title="Households (density)", stack=None),
        color=alt.Color("Factor:N", scale=unit_scale(names), sort=names,
                        legend=alt.Legend(orient="top", title=None)),
    ).properties(height=240)


def variance_chart(result: dict[str, Any], names: list[str]) -> alt.LayerChart:
    """Share of the products' variance each factor accounts for."""
    rows = result.get("variance") or []
    data = pd.DataFrame({
        "Factor": names[: len(rows)],
        "Share": [float(r.get("proportion_var", 0.0)) for r in rows],
    })
    base = alt.Chart(data).encode(
        y=alt.Y("Factor:N", sort=list(data["Factor"]), title=None),
        x=alt.X("Share:Q", title="Share of variance explained", axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(cornerRadiusEnd=2).encode(
        color=alt.Color("Factor:N", scale=unit_scale(names), legend=None))
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("Share:Q", format=".0%"))
    return (bars + text).properties(height=alt.Step(30))
