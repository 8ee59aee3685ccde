"""Charts of continuous dimensions (factor models, Bayesian or not) and of every family's
products × units profile: loadings, variance explained, the scree plot with parallel analysis,
household scores and factor correlations."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from backend.presentation.charts.base import MAX_HOUSEHOLDS, ChartView
from backend.presentation.charts.common import AnyChart, matrix_heatmap
from backend.presentation.charts.palette import INK, MUTED, PRIMARY, unit_scale
from backend.presentation.profiles import profile

SCORE_COLUMN = re.compile(r"(factor|score|dim|weight|topic)_\d+")


def loadings(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Products × units, diverging around 0 (loadings, coordinates, effects)."""
    frame = profile(view.spec, view.result, view.units)
    assert frame is not None
    return matrix_heatmap(frame, "Loading", diverging=True, column_title=view.units.word)


def effects(view: ChartView, options: dict[str, Any]) -> AnyChart:
    frame = profile(view.spec, view.result, view.units)
    assert frame is not None
    return matrix_heatmap(frame, "Effect", diverging=True, column_title=view.units.word)


def shares(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Products × units as each unit's share of its total weight (each column sums to 100%)."""
    frame = profile(view.spec, view.result, view.units)
    assert frame is not None
    normalised = frame.div(np.maximum(frame.sum(axis=0).to_numpy(), 1e-12), axis=1)
    return matrix_heatmap(normalised, "Share", fmt=".0%", column_title=view.units.word)


def variance(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Share of the products' variance each factor accounts for."""
    rows = view.result.get("variance") or []
    word = view.units.word
    data = pd.DataFrame(
        {
            word: [view.units.name_of(k) for k in range(len(rows))],
            "Share": [float(r.get("proportion_var", 0.0)) for r in rows],
        }
    )
    base = alt.Chart(data).encode(
        y=alt.Y(f"{word}:N", sort=list(data[word]), title=None),
        x=alt.X("Share:Q", title="Share of variance explained", axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(cornerRadiusEnd=2).encode(
        color=alt.Color(f"{word}:N", scale=unit_scale(view.units.names), legend=None)
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("Share:Q", format=".0%"))
    return (bars + text).properties(height=alt.Step(30))


def scree_frame(result: Any) -> pd.DataFrame:
    """The data's eigenvalues and, when parallel analysis ran, the 95th percentile of the same
    eigenvalues from permuted data."""
    rows = []
    for row in result.get("scree") or []:
        rows.append(
            {"Number": row["number"], "Series": "Your data", "Eigenvalue": row["eigenvalue"]}
        )
        if row.get("random_p95") is not None:
            rows.append(
                {
                    "Number": row["number"],
                    "Series": "Random data (95th percentile)",
                    "Eigenvalue": row["random_p95"],
                }
            )
    if not rows:
        rows = [
            {"Number": i + 1, "Series": "Your data", "Eigenvalue": v}
            for i, v in enumerate(result.get("eigenvalues") or [])
        ]
    return pd.DataFrame(rows, columns=["Number", "Series", "Eigenvalue"])


def scree(view: ChartView, options: dict[str, Any], max_points: int = 15) -> alt.LayerChart:
    """Eigenvalues by number, with parallel analysis: keep the factors whose eigenvalue lies
    above the random-data line."""
    data = scree_frame(view.result)
    data = data[data["Number"] <= max_points]
    series = ["Your data", "Random data (95th percentile)"]
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("Number:O", title=f"{view.units.word} number", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("Eigenvalue:Q", title="Eigenvalue"),
            color=alt.Color(
                "Series:N",
                sort=series,
                scale=alt.Scale(domain=series, range=[PRIMARY, MUTED]),
                legend=alt.Legend(orient="top", title=None),
            ),
            strokeDash=alt.StrokeDash("Series:N", sort=series, legend=None),
            tooltip=["Number:O", "Series:N", alt.Tooltip("Eigenvalue:Q", format=".2f")],
        )
    )
    kept = pd.DataFrame({"Number": [len(view.units.keys) or 1]})
    rule = alt.Chart(kept).mark_rule(strokeDash=[4, 4], color=INK).encode(x="Number:O")
    suggested = view.result.get("n_factors_suggested")
    if isinstance(suggested, int) and suggested >= 1:
        # The one rule's number (eigenvalues above the random-data line), dotted, labelled.
        mark = pd.DataFrame({"Number": [suggested], "Label": [f"suggested: {suggested}"]})
        dotted = alt.Chart(mark).mark_rule(strokeDash=[1, 3], color=MUTED, strokeWidth=2)
        label = alt.Chart(mark).mark_text(align="left", dx=4, dy=-120, color=MUTED)
        return (
            lines + rule + dotted.encode(x="Number:O") + label.encode(x="Number:O", text="Label:N")
        ).properties(height=260, width=480)
    return (lines + rule).properties(height=260, width=480)


def score_columns(rows: pd.DataFrame) -> list[str]:
    """The per-household score columns (factor_1, …), not their sd or interval columns."""
    return [
        str(c)
        for c in rows.columns
        if SCORE_COLUMN.fullmatch(str(c)) and pd.api.types.is_numeric_dtype(rows[c])
    ]


def household_scores(view: ChartView, options: dict[str, Any]) -> alt.Chart:
    """The distribution of household scores on each unit (one density per unit), from up to
    MAX_HOUSEHOLDS households."""
    rows = view.rows()
    assert rows is not None
    columns = score_columns(rows)
    sample = rows[columns]
    if len(sample) > MAX_HOUSEHOLDS:
        sample = sample.sample(MAX_HOUSEHOLDS, random_state=0)
    names = [view.units.name_of(k) for k in range(len(columns))]
    word = view.units.word
    long = sample.set_axis(names, axis=1).melt(var_name=word, value_name="Score")
    return (
        alt.Chart(long)
        .transform_density("Score", groupby=[word], as_=["Score", "Density"])
        .mark_area(opacity=0.35, line=True)
        .encode(
            x=alt.X("Score:Q", title="Household score"),
            y=alt.Y("Density:Q", title="Households (density)", stack=None),
            color=alt.Color(
                f"{word}:N",
                scale=unit_scale(names),
                sort=names,
                legend=alt.Legend(orient="top", title=None),
            ),
        )
        .properties(height=240)
    )


def correlations(view: ChartView, options: dict[str, Any]) -> AnyChart:
    names = view.units.names
    frame = pd.DataFrame(view.result["factor_correlations"], index=names, columns=names)
    word = view.units.word
    return matrix_heatmap(
        frame, "Correlation", diverging=True, row_title=f"{word} ", column_title=word
    )
