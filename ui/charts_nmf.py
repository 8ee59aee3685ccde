"""NMF / LDA charts, pure: component weights, top products, the error curve."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ui.charts import AnyChart, unit_scale
from ui.charts_common import line_chart


def top_products_frame(result: dict[str, Any], names: list[str], top: int = 6) -> pd.DataFrame:
    rows = []
    tops = result.get("top_products") or result.get("top_words") or []
    for k, items in enumerate(tops):
        name = names[k] if k < len(names) else f"Component {k + 1}"
        for rank, item in enumerate(items[:top], start=1):
            rows.append({
                "Component": name,
                "Product": str(item.get("product", item.get("word", ""))),
                "Share": float(item.get("share", item.get("probability", item.get("weight", 0)))),
                "Rank": rank,
            })
    return pd.DataFrame(rows, columns=["Component", "Product", "Share", "Rank"])


def top_products_chart(result: dict[str, Any], names: list[str], top: int = 6,
                       unit: str = "component") -> alt.FacetChart:
    """One small panel per component: its products with the largest share of its weight."""
    data = top_products_frame(result, names, top)
    bars = alt.Chart(data).mark_bar(cornerRadiusEnd=2).encode(
        y=alt.Y("Product:N", sort="-x", title=None, axis=alt.Axis(labelLimit=160)),
        x=alt.X("Share:Q", title=f"Share of the {unit}", axis=alt.Axis(format="%")),
        color=alt.Color("Component:N", scale=unit_scale(names), legend=None),
        tooltip=["Component:N", "Product:N", alt.Tooltip("Share:Q", format=".1%")],
    ).properties(width=220, height=alt.Step(22))
    return bars.facet(
        facet=alt.Facet("Component:N", sort=names, title=None), columns=3
    ).resolve_scale(y="independent")


def component_share_frame(result: dict[str, Any], names: list[str]) -> pd.DataFrame:
    shares = result.get("component_share") or result.get("topic_share") or []
    return pd.DataFrame({"Component": names[: len(shares)], "Share": [float(s) for s in shares]})


def error_curve_chart(result: dict[str, Any]) -> AnyChart:
    """Relative reconstruction error by number of components; the chosen number is marked."""
    sweep = pd.DataFrame(result.get("sweep") or [])
    if sweep.empty:
        sweep = pd.DataFrame(columns=["n_components", "relative_error"])
    sweep = sweep.rename(columns={"n_components": "Components", "relative_error": "Error"})
    return line_chart(sweep, "Components", "Error", x_title="Number of components",
                      y_title="Relative error (lower is better)",
                      mark=result.get("n_components"))
