"""Charts every family can have: a products × units heatmap, simple lines and bars, and the
product views drawn from the product map the worker stored with the result — the map (its
coordinates), the dendrogram (its tree) and the closest competitors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from backend.presentation.charts.base import MAX_PRODUCTS, ChartView
from backend.presentation.charts.palette import (
    DIVERGING_RANGE,
    HEAT_RANGE,
    INK,
    MUTED,
    NO_GROUP,
    PRIMARY,
    unit_color,
)
from backend.presentation.layout import padded_domain, place_labels
from backend.presentation.profiles import strongest_unit

AnyChart = alt.Chart | alt.LayerChart | alt.FacetChart | alt.HConcatChart | alt.VConcatChart


def most_telling(frame: pd.DataFrame, limit: int = MAX_PRODUCTS) -> pd.DataFrame:
    """At most `limit` rows: those whose values spread most across the columns, in their order."""
    if len(frame) <= limit:
        return frame
    values = frame.to_numpy(dtype=float)
    spread = np.nanmax(np.abs(values), axis=1) + np.nanmax(values, axis=1) - np.nanmin(values, 1)
    keep = np.sort(np.argsort(-np.nan_to_num(spread), kind="stable")[:limit])
    return frame.iloc[keep]


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
    (red / white / blue around 0) for loadings and effects, sequential for weights."""
    long = most_telling(frame).copy()
    long.index = long.index.astype(str)
    long.index.name = row_title
    rows_order = list(long.index)
    cols_order = [str(c) for c in long.columns]
    long.columns = cols_order
    data = long.reset_index().melt(id_vars=row_title, var_name=column_title, value_name="Value")
    finite = data["Value"].replace([np.inf, -np.inf], np.nan).dropna()
    top = (float(finite.abs().max()) if len(finite) else 1.0) or 1.0
    if diverging:
        scale = alt.Scale(domain=[-top, -top / 2, 0, top / 2, top], range=DIVERGING_RANGE)
        dark = (alt.datum.Value > 0.6 * top) | (alt.datum.Value < -0.6 * top)
    else:
        low = float(finite.min()) if len(finite) else 0.0
        scale = alt.Scale(domain=[min(0.0, low), top], range=HEAT_RANGE)
        dark = alt.datum.Value > 0.6 * top
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{column_title}:N",
            sort=cols_order,
            title=None,
            axis=alt.Axis(
                labelAngle=label_angle,
                orient="top",
                labelOverlap=False,
                labelLimit=140 if label_angle else max(cell_width - 4, 40),
            ),
        ),
        y=alt.Y(f"{row_title}:N", sort=rows_order, title=None, axis=alt.Axis(labelLimit=200)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(
            "Value:Q",
            title=value_title,
            scale=scale,
            legend=alt.Legend(orient="bottom", gradientLength=220),
        ),
        tooltip=[
            f"{column_title}:N",
            f"{row_title}:N",
            alt.Tooltip("Value:Q", title=value_title, format=fmt),
        ],
    )
    text = base.mark_text(fontSize=font_size).encode(
        text=alt.Text("Value:Q", format=fmt),
        color=alt.condition(dark, alt.value("white"), alt.value(INK)),
    )
    return alt.layer(cells, text).properties(height=alt.Step(26), width=alt.Step(cell_width))


def line_chart(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    x_title: str,
    y_title: str,
    mark: Any | None = None,
) -> AnyChart:
    """A line with points (elbows, error curves); `mark` draws a dashed rule at that x."""
    line = (
        alt.Chart(data)
        .mark_line(point=True, color=PRIMARY)
        .encode(
            x=alt.X(f"{x}:O", title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
            tooltip=[f"{x}:O", alt.Tooltip(f"{y}:Q", format=",.3f")],
        )
    )
    if mark is None:
        return alt.layer(line).properties(height=260, width=480)
    rule = (
        alt.Chart(pd.DataFrame({x: [mark]}))
        .mark_rule(strokeDash=[4, 4], color=INK)
        .encode(x=f"{x}:O")
    )
    return alt.layer(line, rule).properties(height=260, width=480)


def bars_chart(
    data: pd.DataFrame,
    category: str,
    value: str,
    *,
    value_title: str,
    fmt: str = ".2f",
    sort: list[str] | str | None = "-x",
    horizontal: bool = True,
    colors: list[str] | None = None,
) -> AnyChart:
    """Labelled bars (shares, inertia per dimension); `colors` gives each category its own."""
    if horizontal:
        enc: dict[str, Any] = {
            "y": alt.Y(f"{category}:N", sort=sort, title=None, axis=alt.Axis(labelLimit=220)),
            "x": alt.X(
                f"{value}:Q",
                title=value_title,
                axis=alt.Axis(format="%") if fmt.endswith("%") else alt.Axis(),
            ),
        }
        text_mark: dict[str, Any] = {"align": "left", "dx": 3}
    else:
        enc = {
            "x": alt.X(
                f"{category}:N",
                sort=sort if sort != "-x" else "-y",
                title=None,
                axis=alt.Axis(labelAngle=0),
            ),
            "y": alt.Y(f"{value}:Q", title=value_title),
        }
        text_mark = {"baseline": "bottom", "dy": -2}
    base = alt.Chart(data).encode(
        **enc, tooltip=[f"{category}:N", alt.Tooltip(f"{value}:Q", format=fmt)]
    )
    if colors:
        domain = list(data[category])
        bars = base.mark_bar(cornerRadiusEnd=2).encode(
            color=alt.Color(
                f"{category}:N", scale=alt.Scale(domain=domain, range=colors), legend=None
            )
        )
    else:
        bars = base.mark_bar(color=PRIMARY, cornerRadiusEnd=2)
    text = base.mark_text(fontSize=11, color=INK, **text_mark).encode(
        text=alt.Text(f"{value}:Q", format=fmt)
    )
    chart = bars + text
    return chart.properties(height=alt.Step(22)) if horizontal else chart.properties(height=260)


MAP_WIDTH, MAP_HEIGHT = 640, 460


def labelled_points(
    data: pd.DataFrame, *, width: int = MAP_WIDTH, height: int = MAP_HEIGHT
) -> tuple[pd.DataFrame, tuple[float, float], tuple[float, float]]:
    """`data` (Label, x, y) with where each label goes (lx, ly, align, leader) so that no two
    overlap, and the x and y domains the placement assumed (the chart must use them)."""
    xs, ys = data["x"].to_numpy(dtype=float), data["y"].to_numpy(dtype=float)
    x_domain, y_domain = padded_domain(xs, 0.16), padded_domain(ys, 0.1)
    placed = place_labels(
        xs, ys, [str(t) for t in data["Label"]], width=width, height=height,
        x_domain=x_domain, y_domain=y_domain,
    )  # fmt: skip
    out = data.copy()
    out["lx"] = [p.x for p in placed]
    out["ly"] = [p.y for p in placed]
    out["align"] = [p.align for p in placed]
    out["leader"] = [p.leader for p in placed]
    return out, x_domain, y_domain


def label_layers(
    data: pd.DataFrame,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    *,
    weight: Literal["normal", "bold"] = "normal",
    color: str = INK,
    size: int = 12,
) -> list[alt.Chart]:
    """The labels where `labelled_points` put them, with a leader line to a far point."""
    lx = alt.X("lx:Q", scale=alt.Scale(domain=list(x_domain), nice=False))
    ly = alt.Y("ly:Q", scale=alt.Scale(domain=list(y_domain), nice=False))
    layers: list[alt.Chart] = []
    leaders = data[data["leader"]]
    if len(leaders):
        layers.append(
            alt.Chart(leaders)
            .mark_rule(color=MUTED, strokeWidth=0.8)
            .encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), x2="lx:Q", y2="ly:Q")
        )
    for align in ("left", "right", "center"):
        part = data[data["align"] == align]
        if len(part):
            layers.append(
                alt.Chart(part)
                .mark_text(align=align, baseline="middle", fontSize=size, fontWeight=weight,
                           color=color)
                .encode(x=lx, y=ly, text="Label:N")
            )  # fmt: skip
    return layers


def scatter_map(
    coords: pd.DataFrame,
    *,
    groups: Mapping[str, str] | None = None,
    group_order: list[str] | None = None,
    households: pd.DataFrame | None = None,
    x_title: str = "Axis 1",
    y_title: str = "Axis 2",
    group_title: str = "Group",
) -> AnyChart:
    """Products as labelled points (`coords`: Product, x, y): close products are bought by the
    same households. `groups` colours them (in `group_order`, units keeping their colour);
    `households` (x, y) adds households as faint points behind. Labels never overlap: each is
    placed where it is free, with a leader line when it had to move away."""
    data = coords.copy()
    data["Group"] = [groups.get(p, "—") if groups else "Products" for p in data["Product"]]
    data["Label"] = data["Product"]
    present = set(data["Group"])
    order = [g for g in (group_order or sorted(present, key=str)) if g in present]
    order += sorted(present - set(order), key=str)
    palette = {g: unit_color(k) for k, g in enumerate(group_order or order)}
    color = alt.Color(
        "Group:N",
        title=group_title,
        sort=order,
        scale=alt.Scale(domain=order, range=[palette.get(g, NO_GROUP) for g in order]),
        legend=alt.Legend(orient="top") if groups else None,
    )
    if not len(data):
        return alt.Chart(data).mark_circle()
    data, x_domain, y_domain = labelled_points(data)
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(domain=list(x_domain), nice=False))
    y = alt.Y("y:Q", title=y_title, scale=alt.Scale(domain=list(y_domain), nice=False))
    tooltip: list[Any] = ["Product:N"]
    if groups:
        tooltip.append(alt.Tooltip("Group:N", title=group_title))
    points = (
        alt.Chart(data)
        .mark_circle(size=120, opacity=0.9)
        .encode(x=x, y=y, color=color if groups else alt.value(PRIMARY), tooltip=tooltip)
    )
    layers: list[alt.Chart] = []
    if households is not None and len(households):
        inside = households[households["x"].between(*x_domain) & households["y"].between(*y_domain)]
        layers.append(
            alt.Chart(inside).mark_circle(size=12, opacity=0.18, color=MUTED).encode(x=x, y=y)
        )
    layers += [points, *label_layers(data, x_domain, y_domain)]
    return alt.layer(*layers).properties(height=MAP_HEIGHT, width=MAP_WIDTH)


def axis_names(products: list[str], coordinates: Any) -> tuple[str, str]:
    """The map's two axes named by what they separate: the products at either end."""
    from backend.presentation.segment_map import axis_title

    coords = np.asarray(coordinates, dtype=float)
    if coords.ndim != 2 or coords.shape[0] != len(products) or coords.shape[1] < 2:
        return "Axis 1", "Axis 2"
    return (
        axis_title(1, None, products, coords[:, 0]),
        axis_title(2, None, products, coords[:, 1]),
    )


# -- the product views, from the stored product map ------------------------------------------


def clusters_of(product_map: Mapping[str, Any]) -> dict[str, str]:
    """{product: "Cluster k"} of the stored default clustering (k-means, k by silhouette)."""
    labels = (product_map.get("clusters") or {}).get("labels") or {}
    return {str(p): f"Cluster {int(k) + 1}" for p, k in labels.items()}


def product_groups(view: ChartView, colour: str = "units") -> tuple[dict[str, str], list[str], str]:
    """(groups, their order, title) the product views colour products by."""
    product_map = view.product_map or {}
    if colour == "clusters":
        groups = clusters_of(product_map)
        order = sorted(set(groups.values()), key=lambda g: int(g.split()[-1]))
        return groups, order, "Cluster"
    return strongest_unit(view.spec, view.result, view.units), view.units.names, view.units.word


def product_map(view: ChartView, options: dict[str, Any]) -> AnyChart:
    stored = view.product_map or {}
    coords = pd.DataFrame(
        {
            "Product": stored.get("products", []),
            "x": [c[0] for c in stored.get("coordinates", [])],
            "y": [c[1] for c in stored.get("coordinates", [])],
        }
    )
    groups, order, title = product_groups(view, options.get("colour", "units"))
    x_title, y_title = axis_names(list(coords["Product"]), stored.get("coordinates", []))
    return scatter_map(
        coords, groups=groups, group_order=order, group_title=title,
        x_title=x_title, y_title=y_title,
    )  # fmt: skip


def dendrogram_layout(tree: Any, products: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The links of a dendrogram drawn from linkage rows (the two merged nodes, leaves 0..n-1
    and merge i as node n + i, distance, size): segments (x, x2 = heights; y, y2 = positions)
    and the leaves in drawing order."""
    n = len(products)
    rows = np.asarray(tree, dtype=float).reshape(-1, 4)
    if n < 2 or len(rows) != n - 1:
        leaves = pd.DataFrame({"Product": products, "y": [5.0] * n})
        return pd.DataFrame(columns=["x", "x2", "y", "y2"]), leaves
    children = {n + i: (int(a), int(b)) for i, (a, b, _, _) in enumerate(rows)}
    order: list[int] = []
    stack = [2 * n - 2]
    while stack:  # depth first, left before right (no recursion: trees can be deep)
        node = stack.pop()
        if node < n:
            order.append(node)
        else:
            left, right = children[node]
            stack += [right, left]
    position = {leaf: 5.0 + 10.0 * i for i, leaf in enumerate(order)}
    height = dict.fromkeys(range(n), 0.0)
    segments = []
    for i, (a, b, distance, _) in enumerate(rows):
        left, right = int(a), int(b)
        node = n + i
        position[node] = (position[left] + position[right]) / 2
        height[node] = float(distance)
        segments += [
            {"x": height[left], "x2": distance, "y": position[left], "y2": position[left]},
            {"x": distance, "x2": distance, "y": position[left], "y2": position[right]},
            {"x": distance, "x2": height[right], "y": position[right], "y2": position[right]},
        ]
    leaves = pd.DataFrame(
        {"Product": [products[i] for i in order], "y": [position[i] for i in order]}
    )
    return pd.DataFrame(segments), leaves


def dendrogram(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """Products joined from the most alike (right) to the least (left), coloured like the map."""
    stored = view.product_map or {}
    segments, leaves = dendrogram_layout(stored.get("dendrogram") or [], stored.get("products", []))
    groups, order, title = product_groups(view, options.get("colour", "units"))
    n = max(len(leaves), 1)
    y_scale = alt.Scale(domain=[0, 10 * n], reverse=True)
    top = float(segments["x2"].max()) if len(segments) else 1.0
    ticks = [round(float(v), 2) for v in np.linspace(0, top, 5)]
    links = (
        alt.Chart(segments)
        .mark_rule(color=PRIMARY, strokeWidth=1.5)
        .encode(
            x=alt.X(
                "x:Q",
                title="Distance (1 − cosine similarity; lower = more alike)",
                scale=alt.Scale(domain=[top * 1.02, -top * 0.45]),
                axis=alt.Axis(values=ticks, grid=False),
            ),
            x2="x2:Q",
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            y2="y2:Q",
        )
    )
    leaves = leaves.assign(x=0.0, Group=[groups.get(p, "—") for p in leaves["Product"]])
    present = [g for g in order if g in set(leaves["Group"])]
    domain, colors = present, [unit_color(order.index(g)) for g in present]
    if (leaves["Group"] == "—").any():
        domain, colors = [*domain, "—"], [*colors, INK]
    labels = (
        alt.Chart(leaves)
        .mark_text(align="left", dx=4, fontSize=12)
        .encode(
            x="x:Q",
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            text="Product:N",
            color=alt.Color(
                "Group:N",
                title=title,
                sort=domain,
                scale=alt.Scale(domain=domain, range=colors),
                legend=alt.Legend(orient="top") if present else None,
            ),
            tooltip=["Product:N", alt.Tooltip("Group:N", title=title)],
        )
    )
    return alt.layer(links, labels).properties(height=max(160, 22 * n), width=520)


def closest_competitors(view: ChartView, options: dict[str, Any]) -> AnyChart:
    """For each product, its most similar products in the model, best first; the colour is the
    cosine similarity."""
    stored = view.product_map or {}
    products = list(stored.get("products", []))[:MAX_PRODUCTS]
    rows = [
        {
            "Product": product,
            "Rank": rank + 1,
            "Competitor": c["product"],
            "Similarity": float(c["similarity"]),
        }
        for product in products
        for rank, c in enumerate(stored.get("closest_competitors", {}).get(product, []))
    ]
    data = pd.DataFrame(rows, columns=["Product", "Rank", "Competitor", "Similarity"])
    lowest = min(float(data["Similarity"].min()), 0.9) if len(data) else 0.0
    base = alt.Chart(data).encode(
        x=alt.X(
            "Rank:O",
            title="Closest competitors (1 = most alike)",
            axis=alt.Axis(labelAngle=0, orient="top"),
        ),
        y=alt.Y("Product:N", sort=products, title=None, axis=alt.Axis(labelLimit=200)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "Similarity:Q",
            scale=alt.Scale(domain=[lowest, 1], range=["#f3f5ff", "#748ffc"]),
            legend=alt.Legend(orient="bottom", gradientLength=220),
        ),
        tooltip=[
            "Product:N",
            "Rank:O",
            "Competitor:N",
            alt.Tooltip("Similarity:Q", format=".2f"),
        ],
    )
    text = base.mark_text(fontSize=11, color=INK, limit=130).encode(text="Competitor:N")
    return alt.layer(cells, text).properties(height=alt.Step(24), width=alt.Step(140))
