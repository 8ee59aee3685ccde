"""MCA charts, pure: inertia per dimension and the product map (biplot)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ui.charts import AnyChart
from ui.charts_common import bars_chart, product_map_chart


def inertia_frame(result: dict[str, Any], names: list[str] | None = None) -> pd.DataFrame:
    rows = result.get("summary") or []
    names = list(names or [r.get("dimension") for r in rows])
    return pd.DataFrame({
        "Dimension": names[: len(rows)],
        "Inertia %": [float(r.get("percent_inertia", 0.0)) for r in rows],
        "Adjusted % (Benzécri)": [float(r.get("benzecri_percent", 0.0)) for r in rows],
        "Cumulative %": [float(r.get("cumulative_percent", 0.0)) for r in rows],
    })


def inertia_chart(result: dict[str, Any], names: list[str] | None = None,
                  adjusted: bool = False) -> alt.LayerChart:
    """How much of the products' variation each dimension of the map shows."""
    data = inertia_frame(result, names)
    column = "Adjusted % (Benzécri)" if adjusted else "Inertia %"
    data = data.rename(columns={column: "Percent"})
    return bars_chart(data, "Dimension", "Percent", value_title=f"{column}", fmt=".1f",
                      sort=list(data["Dimension"]), horizontal=False)


def biplot_frame(result: dict[str, Any], dims: tuple[int, int] = (0, 1)) -> pd.DataFrame:
    """Products at their 'bought' coordinates on two dimensions."""
    coords = result.get("product_coordinates") or []
    a, b = dims
    return pd.DataFrame({
        "Product": list(result.get("products") or [])[: len(coords)],
        "x": [float(c[a]) if len(c) > a else 0.0 for c in coords],
        "y": [float(c[b]) if len(c) > b else 0.0 for c in coords],
    })


def biplot_chart(
    result: dict[str, Any],
    names: list[str] | None = None,
    dims: tuple[int, int] = (0, 1),
    households: pd.DataFrame | None = None,
    groups: dict[str, str] | None = None,
) -> AnyChart:
    """The product map: each product at its 'bought' category; optionally the households."""
    data = biplot_frame(result, dims)
    pct = [float(r.get("percent_inertia", 0.0)) for r in result.get("summary") or []]
    labels = list(names or result.get("dimensions") or [])

    def title(k: int) -> str:
        name = labels[k] if k < len(labels) else f"Dimension {k + 1}"
        return f"{name} ({pct[k]:.1f}%)" if k < len(pct) else name

    homes = None
    if households is not None:
        cols = [c for c in households.columns if str(c).startswith("dim_")]
        if len(cols) > max(dims):
            homes = pd.DataFrame({"x": households[cols[dims[0]]], "y": households[cols[dims[1]]]})
    return product_map_chart(data, groups=groups, households=homes, x_title=title(dims[0]),
                             y_title=title(dims[1]))
