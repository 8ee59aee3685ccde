"""The colours every output shares (charts, report, slides): one colour per unit, by its
position (segment 1 is always this blue), and the sequential and diverging heatmap ranges."""

from __future__ import annotations

from typing import Any

PRIMARY = "#3b5bdb"
MUTED = "#9aa3b5"
INK = "#1f2937"
HEAT_RANGE = ["#f3f5ff", "#91a7ff", "#3b5bdb", "#1c2f7a"]
# Index vs average: below 100 orange, 100 white, above 100 blue.
INDEX_RANGE = ["#e8590c", "#ffd8a8", "#ffffff", "#a5b4fc", "#1c2f7a"]
DIVERGING_RANGE = ["#c92a2a", "#ffc9c9", "#ffffff", "#a5b4fc", "#1c2f7a"]
UNIT_COLORS = [
    "#3b5bdb",
    "#f08c00",
    "#2f9e44",
    "#e03131",
    "#7048e8",
    "#0c8599",
    "#d6336c",
    "#5c940d",
    "#862e9c",
    "#e8590c",
    "#1971c2",
    "#495057",
]
NO_GROUP = "#adb5bd"


def unit_color(position: int) -> str:
    return UNIT_COLORS[position % len(UNIT_COLORS)]


def unit_scale(names: list[str]) -> Any:
    """Fixed colours per unit, in order, so a unit has one colour across all charts."""
    import altair as alt

    return alt.Scale(domain=list(names), range=[unit_color(k) for k in range(len(names))])
