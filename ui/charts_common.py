"""Charts every model gets, pure: a products × units heatmap, the product map, the product
dendrogram, and simple curves (elbows, scree-like lines)."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ui.charts import DIVERGING_RANGE, HEAT_RANGE, INK, MUTED, PRIMARY, UNIT_COLORS, AnyChart


def matrix_heatmap(
    frame: pd.DataFrame,
    value_title: str,
    *,
    diverging: bool = False,
    fmt: str = ".2f",
    row_title: str = "Product",
    column_title: str = "Unit",
    cell_width: int = 100,
    label_angle: int = 0,
    font_size: int = 11,
) -> AnyChart:
    """Rows × columns of a table as coloured cells with their values written in. Diverging
    (red / white / blue around 0) for loadings, sequential for weights and probabilities."""
    long = frame.copy()
    long.index = long.index.astype(str)
    long.index.name = row_title
    rows_order = list(long.index)
    cols_order = [str(c) for c in long.columns]
    long.columns = cols_order
    data = long.reset_index().melt(id_vars=row_title, var_name=column_title, value_name="Value")
    finite = data["Value"].replace([np.inf, -np.inf], np.nan).dropna()
    top = float(finite.abs().max()) if len(finite) else 1.0
    top = top or 1.0
    if diverging:
        scale = alt.Scale(domain=[-top, -top / 2, 0, top / 2, top], range=DIVERGING_RANGE)
        dark = (alt.datum.Value > 0.6 * top) | (alt.datum.Value < -0.6 * top)
    else:
        low = float(finite.min()) if len(finite) else 0.0
        scale = alt.Scale(domain=[min(0.0, low), top], range=HEAT_RANGE[:2] + HEAT_RANGE[2:])
        dark = alt.datum.Value > 0.6 * top
    base = alt.Chart(data).encode(
        x=alt.X(f"{column_title}:N", sort=cols_order, title=None,
                axis=alt.Axis(labelAngle=label_angle, orient="top", labelOverlap=False,
                              labelLimit=140 if label_angle else max(cell_width - 4, 40))),
        y=alt.Y(f"{row_title}:N", sort=rows_order, title=None, axis=alt.Axis(labelLimit=200)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("Value:Q", title=value_title, scale=scale,
                        legend=alt.Legend(orient="bottom", gradientLength=220)),
        tooltip=[f"{column_title}:N", f"{row_title}:N",
                 alt.Tooltip("Value:Q", title=value_title, format=fmt)],
    )
    text = base.mark_text(fontSize=font_size).encode(
        text=alt.Text("Value:Q", format=fmt),
        color=alt.condition(dark, alt.value("white"), alt.value(INK)),
    )
    return alt.layer(cells, text).properties(height=alt.Step(26), width=alt.Step(cell_width))


def product_map_chart(
    coords: pd.DataFrame,
    *,
    groups: dict[str, str] | None = None,
    households: pd.DataFrame | None = None,
    x_title: str = "Axis 1",
    y_title: str = "Axis 2",
    group_title: str = "Group",
) -> AnyChart:
    """Products as labelled points (`coords`: Product, x, y); products close together are bought
    by the same households. `groups` colours products (clusters, communities, strongest unit);
    `households` (x, y) adds the households as faint points behind."""
    data = coords.copy()
    data["Group"] = [groups.get(p, "—") if groups else "Products" for p in data["Product"]]
    order = sorted(set(data["Group"]), key=str)
    color = alt.Color(
        "Group:N", title=group_title, sort=order,
        scale=alt.Scale(domain=order, range=[UNIT_COLORS[k % len(UNIT_COLORS)]
                                             for k in range(len(order))]),
        legend=alt.Legend(orient="top") if groups else None,
    )
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False, padding=30))
    y = alt.Y("y:Q", title=y_title, scale=alt.Scale(zero=False, padding=20))
    points = alt.Chart(data).mark_circle(size=120, opacity=0.9).encode(
        x=x, y=y, color=color, tooltip=["Product:N", alt.Tooltip("Group:N", title=group_title)]
    )
    labels = alt.Chart(data).mark_text(align="left", dx=8, fontSize=12, color=INK).encode(
        x=x, y=y, text="Product:N"
    )
    layers: list[alt.Chart] = []
    if households is not None and len(households):
        layers.append(
            alt.Chart(households.head(3000)).mark_circle(size=12, opacity=0.18,
                                                         color=MUTED).encode(x=x, y=y)
        )
    layers += [points, labels]
    return alt.layer(*layers).properties(height=460, width=640)


def dendrogram_data(emb: pd.DataFrame, method: str = "average") -> tuple[pd.DataFrame,
                                                                           pd.DataFrame]:
    """The segments of a product dendrogram (x, x2 = heights; y, y2 = leaf positions) and the
    leaves in drawing order. Distance: 1 − correlation of the products' embedding rows (or
    Euclidean when there are fewer than three dimensions)."""
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import pdist

    x = emb.to_numpy(dtype=float)
    names = [str(i) for i in emb.index]
    if len(names) < 2:
        return (pd.DataFrame(columns=["x", "x2", "y", "y2"]),
                pd.DataFrame({"Product": names, "y": [5.0] * len(names)}))
    metric = "correlation" if x.shape[1] >= 3 else "euclidean"
    dist = np.nan_to_num(pdist(x, metric=metric), nan=1.0)
    tree = linkage(dist, method=method)
    drawn = dendrogram(tree, no_plot=True, labels=names)
    segments = []
    for ic, dc in zip(drawn["icoord"], drawn["dcoord"], strict=True):
        # each link is a ⊓ shape: three segments
        segments.append({"x": dc[0], "x2": dc[1], "y": ic[0], "y2": ic[1]})
        segments.append({"x": dc[1], "x2": dc[2], "y": ic[1], "y2": ic[2]})
        segments.append({"x": dc[2], "x2": dc[3], "y": ic[2], "y2": ic[3]})
    leaves = pd.DataFrame(
        {"Product": drawn["ivl"], "y": [5.0 + 10.0 * i for i in range(len(drawn["ivl"]))]}
    )
    return pd.DataFrame(segments), leaves


def dendrogram_chart(emb: pd.DataFrame, groups: dict[str, str] | None = None) -> AnyChart:
    """Products joined from the most alike (right) to the least (left): products that join early
    compete for, or complement, the same households."""
    segments, leaves = dendrogram_data(emb)
    n = max(len(leaves), 1)
    y_scale = alt.Scale(domain=[0, 10 * n], reverse=True)
    top = float(segments["x"].max()) if len(segments) else 1.0
    ticks = [round(float(v), 2) for v in np.linspace(0, top, 5)]
    links = alt.Chart(segments).mark_rule(color=PRIMARY, strokeWidth=1.5).encode(
        x=alt.X("x:Q", title="Distance (lower = more alike)",
                scale=alt.Scale(domain=[top * 1.02, -top * 0.45]),
                axis=alt.Axis(values=ticks, grid=False)),
        x2="x2:Q",
        y=alt.Y("y:Q", scale=y_scale, axis=None),
        y2="y2:Q",
    )
    leaves = leaves.assign(x=0.0, Group=[(groups or {}).get(p, "") for p in leaves["Product"]])
    labels = alt.Chart(leaves).mark_text(align="left", dx=4, fontSize=12, color=INK).encode(
        x="x:Q", y=alt.Y("y:Q", scale=y_scale, axis=None), text="Product:N",
        tooltip=["Product:N"],
    )
    return alt.layer(links, labels).properties(height=max(160, 22 * n), width=520)


def line_chart(
    data: pd.DataFrame, x: str, y: str, *, x_title: str, y_title: str, mark: Any | None = None,
    series: str | None = None,
) -> AnyChart:
    """A simple line with points (elbows, error curves); `mark` draws a dashed rule at that x."""
    enc: dict[str, Any] = {
        "x": alt.X(f"{x}:O", title=x_title, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
        "tooltip": [f"{x}:O", alt.Tooltip(f"{y}:Q", format=",.3f")],
    }
    if series:
        enc["color"] = alt.Color(f"{series}:N", legend=alt.Legend(orient="top", title=None))
        enc["strokeDash"] = alt.StrokeDash(f"{series}:N", legend=None)
    line = alt.Chart(data).mark_line(point=True, color=PRIMARY).encode(**enc)
    if mark is None:
        return alt.layer(line).properties(height=260, width=480)
    rule = alt.Chart(pd.DataFrame({x: [mark]})).mark_rule(strokeDash=[4, 4], color=INK).encode(
        x=f"{x}:O")
    return alt.layer(line, rule).properties(height=260, width=480)


def bars_chart(
    data: pd.DataFrame, category: str, value: str, *, value_title: str, fmt: str = ".2f",
    color: str = PRIMARY, sort: list[str] | str | None = "-x", horizontal: bool = True,
) -> alt.LayerChart:
    """Labelled bars (inertia per dimension, top products, shares)."""
    enc: dict[str, Any]
    text_mark: dict[str, Any]
    if horizontal:
        enc = {
            "y": alt.Y(f"{category}:N", sort=sort, title=None, axis=alt.Axis(labelLimit=220)),
            "x": alt.X(f"{value}:Q", title=value_title,
                       axis=alt.Axis(format="%") if fmt.endswith("%") else alt.Axis()),
        }
        text_mark = {"align": "left", "dx": 3}
    else:
        enc = {
            "x": alt.X(f"{category}:N", sort=sort if sort != "-x" else "-y", title=None,
                       axis=alt.Axis(labelAngle=0)),
            "y": alt.Y(f"{value}:Q", title=value_title),
        }
        text_mark = {"baseline": "bottom", "dy": -2}
    base = alt.Chart(data).encode(
        **enc, tooltip=[f"{category}:N", alt.Tooltip(f"{value}:Q", format=fmt)]
    )
    bars = base.mark_bar(color=color, cornerRadiusEnd=2)
    text = base.mark_text(fontSize=11, color=INK, **text_mark).encode(
        text=alt.Text(f"{value}:Q", format=fmt))
    chart = bars + text
    return chart.properties(height=alt.Step(22)) if horizontal else chart.properties(height=260)
