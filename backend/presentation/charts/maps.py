"""Charts of a correspondence-analysis map: the products on two of its dimensions (optionally
with the households) and the inertia each dimension shows."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from backend.presentation.charts.base import MAX_HOUSEHOLDS, ChartView
from backend.presentation.charts.common import (
    MAP_HEIGHT,
    MAP_WIDTH,
    AnyChart,
    bars_chart,
    label_layers,
    labelled_points,
    scatter_map,
)
from backend.presentation.charts.palette import MUTED, unit_scale
from backend.presentation.segment_map import axis_title, joint_map


def inertia_frame(view: ChartView) -> pd.DataFrame:
    rows = view.result.get("summary") or []
    return pd.DataFrame(
        {
            view.units.word: [view.units.name_of(k) for k in range(len(rows))],
            "Inertia %": [float(r.get("percent_inertia", 0.0)) for r in rows],
            "Adjusted % (Benzécri)": [float(r.get("benzecri_percent", 0.0)) for r in rows],
        }
    )


def inertia(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """How much of the products' variation each dimension of the map shows."""
    data = inertia_frame(view)
    column = "Adjusted % (Benzécri)" if options.get("adjusted", True) else "Inertia %"
    data = data.rename(columns={column: "Percent"})
    word = view.units.word
    return bars_chart(
        data,
        word,
        "Percent",
        value_title=column,
        fmt=".1f",
        sort=list(data[word]),
        horizontal=False,
    )


def biplot(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Each product at its 'bought' category on dimensions `x` and `y`; the households too when
    asked (up to MAX_HOUSEHOLDS)."""
    a, b = int(options.get("x", 0)), int(options.get("y", 1))
    coords = view.result.get("product_coordinates") or []
    data = pd.DataFrame(
        {
            "Product": [str(p) for p in view.result.get("products") or []][: len(coords)],
            "x": [float(c[a]) if len(c) > a else 0.0 for c in coords],
            "y": [float(c[b]) if len(c) > b else 0.0 for c in coords],
        }
    )
    pct = [float(r.get("percent_inertia", 0.0)) for r in view.result.get("summary") or []]

    names = list(data["Product"])

    def title(k: int) -> str:
        """The dimension's name, what it separates and the share it shows."""
        values = [float(c[k]) if len(c) > k else 0.0 for c in coords]
        ends = axis_title(k + 1, None, names, values)
        shown = f"{pct[k]:.0f}%" if k < len(pct) else ""
        return f"{view.units.name_of(k)}: {ends}" + (f" ({shown})" if shown else "")

    homes = None
    rows = view.rows() if options.get("households") else None
    if rows is not None:
        columns = [c for c in rows.columns if str(c).startswith("dim_")]
        if len(columns) > max(a, b):
            homes = pd.DataFrame({"x": rows[columns[a]], "y": rows[columns[b]]}).head(
                MAX_HOUSEHOLDS
            )
    # Products are not coloured by a "strongest dimension": on a map that says nothing.
    return scatter_map(data, households=homes, x_title=title(a), y_title=title(b))


def joint(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Segments and products on one map (correspondence analysis of the segment × product
    table): each segment a large coloured square with its name in bold, products as small
    points; labels placed where they are free."""
    found = joint_map(view.result, view.units)
    if found is None:
        return alt.Chart(pd.DataFrame({"x": []})).mark_point()
    units = pd.DataFrame(
        {"Label": found.units, "x": found.unit_xy[:, 0], "y": found.unit_xy[:, 1], "Kind": "unit"}
    )
    items = pd.DataFrame(
        {"Label": found.products, "x": found.product_xy[:, 0], "y": found.product_xy[:, 1],
         "Kind": "product"}
    )  # fmt: skip
    data, x_domain, y_domain = labelled_points(pd.concat([units, items], ignore_index=True))
    x = alt.X("x:Q", title=found.axis_titles[0], scale=alt.Scale(domain=list(x_domain), nice=False))
    y = alt.Y("y:Q", title=found.axis_titles[1], scale=alt.Scale(domain=list(y_domain), nice=False))
    word = view.units.word
    shown_units = data[data["Kind"] == "unit"].rename(columns={"Label": word})
    shown_items = data[data["Kind"] == "product"].rename(columns={"Label": "Product"})
    unit_points = (
        alt.Chart(shown_units)
        .mark_square(size=260, opacity=0.95)
        .encode(
            x=x, y=y,
            color=alt.Color(f"{word}:N", scale=unit_scale(view.units.names), legend=None),
            tooltip=[f"{word}:N"],
        )
    )  # fmt: skip
    product_points = (
        alt.Chart(shown_items)
        .mark_circle(size=60, color=MUTED, opacity=0.9)
        .encode(x=x, y=y, tooltip=["Product:N"])
    )
    labels = label_layers(data[data["Kind"] == "product"], x_domain, y_domain, color="#4b5563")
    for k, name in enumerate(view.units.names):
        own = data[(data["Kind"] == "unit") & (data["Label"] == name)]
        labels += label_layers(
            own, x_domain, y_domain, weight="bold", color=view.units.color_of(k), size=13
        )
    return alt.layer(product_points, unit_points, *labels).properties(
        width=MAP_WIDTH, height=MAP_HEIGHT
    )
