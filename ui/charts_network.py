"""The co-purchase network, pure: a deterministic force layout (numpy) and the graph chart with
products coloured by community. Reads edges as [{source, target, weight}] (also a/b, product_a/
product_b; weight, lift, or value) and communities as a list of product lists, a
{product: community} mapping, or `community` on each node."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ui.charts import INK, UNIT_COLORS


def edges_frame(result: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for edge in result.get("edges") or []:
        if not isinstance(edge, dict):
            continue
        a = edge.get("source", edge.get("product_a", edge.get("a")))
        b = edge.get("target", edge.get("product_b", edge.get("b")))
        w = next((edge[k] for k in ("weight", "lift", "value", "strength") if k in edge), 1.0)
        if a is not None and b is not None:
            rows.append({"a": str(a), "b": str(b), "weight": float(w)})
    return pd.DataFrame(rows, columns=["a", "b", "weight"])


def communities(result: dict[str, Any]) -> dict[str, int]:
    """{product: community id} (ids as the result numbers them)."""
    raw = result.get("communities")
    out: dict[str, int] = {}
    if isinstance(raw, dict):
        out = {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float)}
    elif isinstance(raw, list):
        for k, group in enumerate(raw):
            if isinstance(group, dict):
                members = group.get("products", group.get("members", []))
                ident = int(group.get("community", k + 1))
            else:
                members, ident = group, k + 1
            for p in members or []:
                out[str(p)] = ident
    for node in result.get("nodes") or []:
        if isinstance(node, dict) and isinstance(node.get("community"), int):
            out[str(node.get("product", node.get("id")))] = int(node["community"])
    return out


def spring_layout(nodes: list[str], edges: pd.DataFrame, iterations: int = 200,
                  seed: int = 0) -> pd.DataFrame:
    """Fruchterman–Reingold in numpy: linked products pull together, all push apart."""
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


def network_chart(result: dict[str, Any], names: list[str] | None = None,
                  max_edges: int = 150) -> alt.LayerChart:
    edges = edges_frame(result).sort_values("weight", ascending=False).head(max_edges)
    nodes = [str(p) for p in result.get("products") or []] or sorted(
        set(edges["a"]) | set(edges["b"]))
    layout = spring_layout(nodes, edges)
    groups = communities(result)
    ids = sorted(set(groups.values()))
    labels = list(names or [])
    while len(labels) < len(ids):
        labels.append(f"Community {ids[len(labels)]}")
    label_of = dict(zip(ids, labels, strict=False))
    layout["Community"] = [label_of[groups[p]] if p in groups else "—"
                           for p in layout["Product"]]
    k_max = len(ids)
    at = layout.set_index("Product")
    edges = edges[edges["a"].isin(at.index) & edges["b"].isin(at.index)].copy()
    edges["x"], edges["y"] = at.loc[edges["a"], "x"].to_numpy(), at.loc[edges["a"], "y"].to_numpy()
    edges["x2"], edges["y2"] = (at.loc[edges["b"], "x"].to_numpy(),
                                at.loc[edges["b"], "y"].to_numpy())
    lines = alt.Chart(edges).mark_rule(color="#c5ccdb").encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), x2="x2:Q", y2="y2:Q",
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(range=[0.5, 4]), legend=None),
        tooltip=["a:N", "b:N", alt.Tooltip("weight:Q", format=".2f")],
    )
    domain = list(labels[:k_max])
    colors = [UNIT_COLORS[i % len(UNIT_COLORS)] for i in range(k_max)]
    if (layout["Community"] == "—").any():
        domain.append("—")
        colors.append("#adb5bd")
    dots = alt.Chart(layout).mark_circle(size=220, opacity=0.95).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
        color=alt.Color("Community:N", scale=alt.Scale(domain=domain, range=colors),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=["Product:N", "Community:N"],
    )
    text = alt.Chart(layout).mark_text(dy=-12, fontSize=11, color=INK).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), text="Product:N")
    return (lines + dots + text).properties(height=520)
