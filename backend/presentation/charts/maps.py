"""Charts of a correspondence-analysis map: the products on two of its dimensions (optionally
with the households) and the inertia each dimension shows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from backend.presentation.charts.base import MAX_HOUSEHOLDS, ChartView
from backend.presentation.charts.common import AnyChart, bars_chart, scatter_map
from backend.presentation.profiles import strongest_unit


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

    def title(k: int) -> str:
        name = view.units.name_of(k)
        return f"{name} ({pct[k]:.1f}%)" if k < len(pct) else name

    homes = None
    rows = view.rows() if options.get("households") else None
    if rows is not None:
        columns = [c for c in rows.columns if str(c).startswith("dim_")]
        if len(columns) > max(a, b):
            homes = pd.DataFrame({"x": rows[columns[a]], "y": rows[columns[b]]}).head(
                MAX_HOUSEHOLDS
            )
    return scatter_map(
        data,
        groups=strongest_unit(view.spec, view.result, view.units),
        group_order=view.units.names,
        households=homes,
        x_title=title(a),
        y_title=title(b),
        group_title=view.units.word,
    )
