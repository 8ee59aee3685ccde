"""A co-purchase graph: a deterministic force layout (NumPy) and the products, linked when
bought together more than chance, coloured by the unit (community) that lists them."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from backend.presentation.charts.base import ChartView
from backend.presentation.charts.palette import INK, NO_GROUP, unit_color
from backend.presentation.profiles import strongest_unit

MAX_EDGES = 150


def edges_frame(result: Any) -> pd.DataFrame:
    rows = [
        {"a": str(e["source"]), "b": str(e["target"]), "weight": float(e.get("weight", 1.0))}
        for e in result.get("edges") or []
        if isinstance(e, dict) and "source" in e and "target" in e
    ]
    return pd.DataFrame(rows, columns=["a", "b", "weight"])


def spring_layout(
    nodes: list[str], edges: pd.DataFrame, iterations: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Fruchterman–Reingold in NumPy: linked products pull together, all push apart."""
    n = len(nodes)
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 2)) - 0.5
    if n <= 1:
        return pd.DataFrame({"Product": nodes, "x": [0.0] * n, "y": [0.0] * n})
    where = {p: i for i, p in enumerate(nodes)}
    w = np.zeros((n, n))
    for a, b, weight in edges[["a", "b", "weight"]].itertuples(index=False, name=None):
        i, j = where.get(str(a)), where.get(str(b))
        if i is not None and j is not None:
            w[i, j] = w[j, i] = max(float(weight), 0.0)
    if w.max() > 0:
        w = w / w.max()
    k = 1.0 / np.sqrt(n)
    temperature = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=-1), 1e-3)
        force = (k * k / dist**2 - w * dist / k)[:, :, None] * delta
        move = force.sum(axis=1)
        length = np.maximum(np.linalg.norm(move, axis=1, keepdims=True), 1e-9)
        pos += move / length * np.minimum(length, temperature)
        temperature *= 0.98
    return pd.DataFrame({"Product": nodes, "x": pos[:, 0], "y": pos[:, 1]})


def graph(view: ChartView, options: dict[str, Any]) -> alt.LayerChart:
    """Products linked by their strongest MAX_EDGES co-purchase edges, coloured by unit."""
    edges = edges_frame(view.result).sort_values("weight", ascending=False).head(MAX_EDGES)
    nodes = [str(p) for p in view.result.get("products") or []]
    layout = spring_layout(nodes, edges)
    groups = strongest_unit(view.spec, view.result, view.units)
    word = view.units.word
    layout[word] = [groups.get(p, "—") for p in layout["Product"]]
    at = layout.set_index("Product")
    edges = edges[edges["a"].isin(at.index) & edges["b"].isin(at.index)].copy()
    edges["x"], edges["y"] = at.loc[edges["a"], "x"].to_numpy(), at.loc[edges["a"], "y"].to_numpy()
    edges["x2"] = at.loc[edges["b"], "x"].to_numpy()
    edges["y2"] = at.loc[edges["b"], "y"].to_numpy()
    lines = (
        alt.Chart(edges)
        .mark_rule(color="#c5ccdb")
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(range=[0.5, 4]), legend=None),
            tooltip=["a:N", "b:N", alt.Tooltip("weight:Q", format=".2f")],
        )
    )
    domain = list(view.units.names)
    colors = [unit_color(k) for k in range(len(domain))]
    if (layout[word] == "—").any():
        domain.append("—")
        colors.append(NO_GROUP)
    dots = (
        alt.Chart(layout)
        .mark_circle(size=220, opacity=0.95)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=alt.Color(
                f"{word}:N",
                scale=alt.Scale(domain=domain, range=colors),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["Product:N", f"{word}:N"],
        )
    )
    text = (
        alt.Chart(layout)
        .mark_text(dy=-12, fontSize=11, color=INK)
        .encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), text="Product:N")
    )
    return (lines + dots + text).properties(height=520, width=680)
