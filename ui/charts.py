"""Chart builders: pure functions from a results dict (GET /runs/{id}/results) to Altair charts.

No Streamlit here, so each chart's spec is unit-tested alone (`chart.to_dict()`).
"""

from __future__ import annotations

from typing import Any

import altair as alt

from ui.tables import profile_long, segment_names, sizes_frame

PRIMARY = "#3b5bdb"
HEAT_RANGE = ["#f3f5ff", "#91a7ff", "#3b5bdb", "#1c2f7a"]


def class_sizes_chart(result: dict[str, Any]) -> alt.LayerChart:
    """Horizontal bars: the estimated share of households in each segment, labelled in %."""
    data = sizes_frame(result)
    order = segment_names(result)
    base = alt.Chart(data).encode(
        y=alt.Y("Segment:N", sort=order, title=None),
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
    bars = base.mark_bar(color=PRIMARY, cornerRadiusEnd=3, height={"band": 0.7})
    labels = base.mark_text(align="left", dx=4, fontSize=13).encode(
        text=alt.Text("Share:Q", format=".0%")
    )
    return (bars + labels).properties(height=alt.Step(36))


def profile_heatmap(result: dict[str, Any]) -> alt.LayerChart:
    """Segments × products: how likely a household of each segment is to buy each product."""
    data = profile_long(result)
    segments = segment_names(result)
    products = list(result["products"])
    base = alt.Chart(data).encode(
        x=alt.X("Segment:N", sort=segments, title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("Product:N", sort=products, title=None),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(
            "Probability:Q",
            title="Chance of buying",
            scale=alt.Scale(domain=[0, 1], range=HEAT_RANGE),
            legend=alt.Legend(format="%", orient="bottom", gradientLength=220),
        ),
        tooltip=[
            alt.Tooltip("Segment:N"),
            alt.Tooltip("Product:N"),
            alt.Tooltip("Probability:Q", title="Chance of buying", format=".0%"),
            alt.Tooltip("Index:Q", title="Index vs all households (100 = average)"),
        ],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("Probability:Q", format=".0%"),
        color=alt.condition(
            alt.datum.Probability > 0.55, alt.value("white"), alt.value("#1f2937")
        ),
    )
    return (cells + text).properties(height=alt.Step(32), width=alt.Step(110))
