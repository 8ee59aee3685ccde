"""Charts of parts-based baskets (components, missions): what each one holds, how large each
is, and the error by number of units when several were tried."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from backend.presentation.charts.base import ChartView
from backend.presentation.charts.common import AnyChart, bars_chart, line_chart
from backend.presentation.charts.palette import unit_color, unit_scale


def top_products_frame(view: ChartView, top: int = 6) -> pd.DataFrame:
    """Each unit's products with the largest share of it."""
    word = view.units.word
    rows = [
        {
            word: view.units.name_of(k),
            "Product": str(item.get("product", "")),
            "Share": float(item.get("share", item.get("probability", item.get("weight", 0)))),
            "Rank": rank,
        }
        for k, items in enumerate(view.result.get("top_products") or [])
        for rank, item in enumerate(items[:top], start=1)
    ]
    return pd.DataFrame(rows, columns=[word, "Product", "Share", "Rank"])


def top_products(view: ChartView, options: dict[str, Any]) -> alt.FacetChart:
    """One small panel per unit: its products with the largest share of its weight."""
    word, names = view.units.word, view.units.names
    bars = (
        alt.Chart(top_products_frame(view))
        .mark_bar(cornerRadiusEnd=2)
        .encode(
            y=alt.Y("Product:N", sort="-x", title=None, axis=alt.Axis(labelLimit=160)),
            x=alt.X("Share:Q", title=f"Share of the {word.lower()}", axis=alt.Axis(format="%")),
            color=alt.Color(f"{word}:N", scale=unit_scale(names), legend=None),
            tooltip=[f"{word}:N", "Product:N", alt.Tooltip("Share:Q", format=".1%")],
        )
        .properties(width=220, height=alt.Step(22))
    )
    return bars.facet(
        facet=alt.Facet(f"{word}:N", sort=names, title=None), columns=3
    ).resolve_scale(y="independent")


def unit_shares(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Share of all purchases each unit accounts for."""
    result = view.result
    values = result.get("component_share") or result.get("topic_share") or []
    word = view.units.word
    data = pd.DataFrame(
        {
            word: [view.units.name_of(k) for k in range(len(values))],
            "Share": [float(s) for s in values],
        }
    )
    return bars_chart(
        data,
        word,
        "Share",
        value_title="Share",
        fmt=".0%",
        sort=list(data[word]),
        colors=[unit_color(k) for k in range(len(data))],
    )


def error_curve(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Relative reconstruction error by number of units; the number kept is marked."""
    sweep = pd.DataFrame(view.result.get("sweep") or [])
    if sweep.empty:
        sweep = pd.DataFrame(columns=["n_components", "relative_error"])
    number = next((c for c in sweep.columns if str(c).startswith("n_")), "n_components")
    sweep = sweep.rename(columns={number: "Number", "relative_error": "Error"})
    return line_chart(
        sweep,
        "Number",
        "Error",
        x_title=f"Number of {view.units.plural.lower()}",
        y_title="Relative error (lower is better)",
        mark=len(view.units.keys),
    )
