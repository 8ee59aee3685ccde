"""Chart builders: pure functions from a results dict (GET /runs/{id}/results) to Altair charts.

No Streamlit here, so each chart's spec is unit-tested alone (`chart.to_dict()`). This module
holds the shared palette and the segment (LCA) charts; the other families' charts are in
`charts_<family>.py` and the every-model charts (map, dendrogram, heatmaps) in
`charts_common.py`. Unit names come in as `names` (the person's labels, else "Segment 1", …).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ui.tables import ALL_HOUSEHOLDS, overall_penetration, profile_long, segment_names, sizes_frame

# What a builder answers: any top-level Altair chart (st.altair_chart draws them all).
AnyChart = alt.Chart | alt.LayerChart | alt.FacetChart | alt.HConcatChart | alt.VConcatChart

PRIMARY = "#3b5bdb"
MUTED = "#9aa3b5"
INK = "#1f2937"
HEAT_RANGE = ["#f3f5ff", "#91a7ff", "#3b5bdb", "#1c2f7a"]
# Index vs average: below 100 orange, 100 white, above 100 blue.
INDEX_RANGE = ["#e8590c", "#ffd8a8", "#ffffff", "#a5b4fc", "#1c2f7a"]
DIVERGING_RANGE = ["#c92a2a", "#ffc9c9", "#ffffff", "#a5b4fc", "#1c2f7a"]
# One colour per unit, the same in every chart (segment 1 is always this blue, …).
UNIT_COLORS = [
    "#3b5bdb", "#f08c00", "#2f9e44", "#e03131", "#7048e8", "#0c8599", "#d6336c", "#5c940d",
    "#862e9c", "#e8590c", "#1971c2", "#495057",
]


def unit_scale(names: list[str]) -> alt.Scale:
    """Fixed colours per unit, in order, so a segment has one colour across all charts."""
    colors = [UNIT_COLORS[k % len(UNIT_COLORS)] for k in range(len(names))]
    return alt.Scale(domain=list(names), range=colors)


def _names(result: dict[str, Any], names: list[str] | None) -> list[str]:
    return list(names) if names else segment_names(result)


def class_sizes_chart(result: dict[str, Any], names: list[str] | None = None) -> alt.LayerChart:
    """Horizontal bars: the estimated share of households in each segment, labelled in %."""
    order = _names(result, names)
    data = sizes_frame(result, order)
    base = alt.Chart(data).encode(
        y=alt.Y("Segment:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X(
            "Share:Q",
            title="Share of households",
            axis=alt.Axis(format="%", grid=False, tickCount=5),
            scale=alt.Scale(domain=[0, max(0.05, min(1.0, float(data["Share"].max()) * 1.15))]),
        ),
        tooltip=[
            alt.Tooltip("Segment:N"),
            alt.Tooltip("Share:Q", title="Share of households", format=".1%"),
            alt.Tooltip("Households:Q", title="Households assigned", format=","),
        ],
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.7}).encode(
        color=alt.Color("Segment:N", scale=unit_scale(order), legend=None)
    )
    labels = base.mark_text(align="left", dx=4, fontSize=13).encode(
        text=alt.Text("Share:Q", format=".0%")
    )
    return (bars + labels).properties(height=alt.Step(36))


def profile_heatmap(
    result: dict[str, Any], names: list[str] | None = None, measure: str = "probability"
) -> alt.LayerChart:
    """Segments × products. `measure="probability"`: the chance that a household of each segment
    buys each product; `"index"`: that chance against all households (100 = average)."""
    segments = _names(result, names)
    data = profile_long(result, segments)
    products = list(result["products"])
    base = alt.Chart(data).encode(
        x=alt.X("Segment:N", sort=segments, title=None,
                axis=alt.Axis(labelAngle=0, orient="top", labelLimit=118, labelOverlap=False)),
        y=alt.Y("Product:N", sort=products, title=None, axis=alt.Axis(labelLimit=200)),
    )
    tooltip = [
        alt.Tooltip("Segment:N"),
        alt.Tooltip("Product:N"),
        alt.Tooltip("Probability:Q", title="Chance of buying", format=".0%"),
        alt.Tooltip("Index:Q", title="Index vs all households (100 = average)"),
    ]
    if measure == "index":
        top = max(200.0, float(data["Index"].max() or 200))
        color = alt.Color(
            "Index:Q",
            title="Index (100 = average)",
            scale=alt.Scale(domain=[0, 50, 100, 150, top], range=INDEX_RANGE, clamp=True),
            legend=alt.Legend(orient="bottom", gradientLength=220),
        )
        text = alt.Text("Index:Q", format=".0f")
        dark = (alt.datum.Index > 170) | (alt.datum.Index < 25)
    else:
        color = alt.Color(
            "Probability:Q",
            title="Chance of buying",
            scale=alt.Scale(domain=[0, 1], range=HEAT_RANGE),
            legend=alt.Legend(format="%", orient="bottom", gradientLength=220),
        )
        text = alt.Text("Probability:Q", format=".0%")
        dark = alt.datum.Probability > 0.55
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(color=color, tooltip=tooltip)
    labels = base.mark_text(fontSize=12).encode(
        text=text, color=alt.condition(dark, alt.value("white"), alt.value(INK))
    )
    return (cells + labels).properties(height=alt.Step(28), width=alt.Step(120))


def segment_comparison_chart(
    result: dict[str, Any], names: list[str] | None = None, chosen: list[str] | None = None
) -> alt.LayerChart:
    """Products down the side; a dot per chosen segment at its chance of buying, and a grey tick
    for all households: where a segment's dot sits far from the tick, it stands out."""
    segments = _names(result, names)
    chosen = [s for s in (chosen or segments) if s in segments] or segments
    long = profile_long(result, segments)
    long = long[long["Segment"].isin(chosen)]
    overall = pd.DataFrame(
        {"Product": result["products"], "Penetration": overall_penetration(result)}
    )
    # Sort by the largest gap between the chosen segments, so the differences come first.
    spread = long.groupby("Product")["Probability"].agg(lambda s: s.max() - s.min())
    if len(chosen) == 1:
        spread = (long.set_index("Product")["Probability"]
                  - overall.set_index("Product")["Penetration"]).abs()
    order = list(spread.sort_values(ascending=False).index)
    y = alt.Y("Product:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    rules = alt.Chart(long).mark_rule(color="#d0d5e0").encode(
        y=y, x="min(Probability):Q", x2="max(Probability):Q"
    )
    ticks = alt.Chart(overall).mark_tick(color=MUTED, thickness=3, size=18).encode(
        y=y,
        x=alt.X("Penetration:Q"),
        tooltip=[alt.Tooltip("Product:N"),
                 alt.Tooltip("Penetration:Q", title=ALL_HOUSEHOLDS, format=".0%")],
    )
    dots = alt.Chart(long).mark_circle(size=110, opacity=0.95).encode(
        y=y,
        x=alt.X("Probability:Q", title="Chance of buying (grey tick: all households)",
                axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("Segment:N", scale=unit_scale(segments),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("Segment:N"), alt.Tooltip("Product:N"),
                 alt.Tooltip("Probability:Q", title="Chance of buying", format=".0%"),
                 alt.Tooltip("Index:Q", title="Index (100 = average)")],
    )
    return (rules + ticks + dots).properties(height=alt.Step(24))


def ic_elbow_chart(sweep: dict[str, Any]) -> alt.LayerChart:
    """Information criteria by number of segments (lower is better); the recommended number is
    marked. The elbow, where the curve flattens, is the usual choice."""
    param = str(sweep.get("param", "n_classes"))
    rows = []
    for row in sweep.get("table", []):
        for key, label in (("bic", "BIC"), ("aic", "AIC"), ("sabic", "SABIC"), ("caic", "CAIC")):
            value = row.get(key)
            if isinstance(value, int | float):
                rows.append({"Segments": row.get(param), "Criterion": label, "Value": value})
    data = pd.DataFrame(rows, columns=["Segments", "Criterion", "Value"])
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("Segments:O", title="Number of segments", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("Value:Q", title="Criterion (lower is better)", scale=alt.Scale(zero=False)),
        color=alt.Color("Criterion:N", sort=["BIC", "AIC", "SABIC", "CAIC"],
                        scale=alt.Scale(range=[PRIMARY, "#f08c00", "#2f9e44", "#868e96"]),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=["Segments:O", "Criterion:N", alt.Tooltip("Value:Q", format=",.1f")],
    )
    best = pd.DataFrame({"Segments": [sweep.get("recommended")]})
    rule = alt.Chart(best).mark_rule(strokeDash=[4, 4], color=INK).encode(x="Segments:O")
    return (lines + rule).properties(height=280, width=480)


def starts_chart(result: dict[str, Any]) -> alt.Chart:
    """Each random start's final log-likelihood, best first: many starts at the top means the
    best solution is found reliably."""
    starts = pd.DataFrame(result.get("starts") or [])
    if starts.empty:
        starts = pd.DataFrame(columns=["start", "loglik", "converged", "finished"])
    if "finished" not in starts:
        starts["finished"] = True
    starts = starts.sort_values("loglik", ascending=False, kind="stable").reset_index(drop=True)
    starts["Rank"] = range(1, len(starts) + 1)
    best = float(starts["loglik"].max()) if len(starts) else 0.0
    starts["Reached the best"] = (best - starts["loglik"]).abs() < 1e-3
    return alt.Chart(starts).mark_circle(size=70).encode(
        x=alt.X("Rank:Q", title="Start (best first)"),
        y=alt.Y("loglik:Q", title="Log-likelihood", scale=alt.Scale(zero=False)),
        color=alt.Color("Reached the best:N", scale=alt.Scale(domain=[True, False],
                                                              range=[PRIMARY, MUTED]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("start:Q", title="Start"),
                 alt.Tooltip("loglik:Q", title="Log-likelihood", format=",.2f"),
                 alt.Tooltip("converged:N", title="Converged"),
                 alt.Tooltip("finished:N", title="Carried to the end")],
    ).properties(height=220)


def bvr_chart(result: dict[str, Any], top: int = 15) -> alt.LayerChart:
    """The product pairs the segments explain worst (bivariate residuals); above the line the
    pair is bought together (or apart) more than the segments say."""
    pairs = pd.DataFrame(result.get("bivariate_residuals") or [])
    if pairs.empty:
        pairs = pd.DataFrame(columns=["product_a", "product_b", "bvr", "flagged"])
    pairs = pairs.sort_values("bvr", ascending=False).head(top)
    pairs["Pair"] = pairs["product_a"].astype(str) + " + " + pairs["product_b"].astype(str)
    threshold = float(result.get("bvr_threshold", 3.84))
    bars = alt.Chart(pairs).mark_bar(cornerRadiusEnd=2).encode(
        y=alt.Y("Pair:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("bvr:Q", title="Bivariate residual (χ², 1 df)"),
        color=alt.condition(alt.datum.flagged, alt.value("#e8590c"), alt.value(MUTED)),
        tooltip=["Pair:N", alt.Tooltip("bvr:Q", format=".2f")],
    )
    line = alt.Chart(pd.DataFrame({"t": [threshold]})).mark_rule(
        strokeDash=[4, 4], color=INK).encode(x="t:Q")
    return (bars + line).properties(height=alt.Step(20))


def odds_ratio_chart(result: dict[str, Any], names: list[str] | None = None) -> alt.FacetChart:
    """Household features × segments: odds ratios with 95% intervals on a log scale (1 = no
    effect), one panel per segment against the reference segment."""
    classes = [str(c) for c in result.get("classes", [])]
    segments = _names(result, names)
    rename = dict(zip(classes, segments, strict=False))
    data = pd.DataFrame(result.get("coefficients") or [])
    if data.empty:
        data = pd.DataFrame(columns=["class_name", "term", "odds_ratio", "ci_low", "ci_high",
                                     "p_value"])
    data = data[data["term"] != "(intercept)"].copy()
    data["Segment"] = data["class_name"].map(lambda c: rename.get(str(c), str(c)))
    data["low"] = data["ci_low"].fillna(data["odds_ratio"])
    data["high"] = data["ci_high"].fillna(data["odds_ratio"])
    base = alt.Chart().encode(
        y=alt.Y("term:N", title=None, axis=alt.Axis(labelLimit=220)),
    )
    x_scale = alt.Scale(type="log")
    whiskers = base.mark_rule(color=MUTED).encode(
        x=alt.X("low:Q", scale=x_scale, title="Odds ratio (log scale; 1 = no effect)"),
        x2="high:Q",
    )
    points = base.mark_circle(size=80).encode(
        x=alt.X("odds_ratio:Q", scale=x_scale),
        color=alt.Color("Segment:N", scale=unit_scale(segments), legend=None),
        tooltip=["Segment:N", alt.Tooltip("term:N", title="Feature"),
                 alt.Tooltip("odds_ratio:Q", title="Odds ratio", format=".2f"),
                 alt.Tooltip("low:Q", title="95% low", format=".2f"),
                 alt.Tooltip("high:Q", title="95% high", format=".2f"),
                 alt.Tooltip("p_value:Q", title="p-value", format=".3g")],
    )
    one = alt.Chart().mark_rule(strokeDash=[4, 4], color=INK).encode(x=alt.datum(1.0))
    layered = alt.layer(one, whiskers, points, data=data).properties(width=300,
                                                                    height=alt.Step(20))
    return layered.facet(
        facet=alt.Facet("Segment:N", title=None,
                        sort=[s for s in segments if s in set(data["Segment"])]),
        columns=2,
    )
