"""A run's charts: the catalogue of its sections (`catalog`) and their Vega-Lite specifications,
drawn with Altair from the stored result and the units' names. Clients draw what they are
served; the HTML report embeds the same specifications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.errors import Conflict
from backend.presentation.charts.base import ChartView, Option, Section
from backend.presentation.charts.catalog import section, sections

__all__ = [
    "ChartView", "Option", "Section", "draw", "listing", "section", "sections", "spec", "vega",
]  # fmt: skip


def listing(view: ChartView) -> dict[str, Any]:
    """What GET /runs/{id}/charts answers: the units with their names, and the sections."""
    return {
        "unit": view.units.word,
        "units": view.units.as_json(),
        "sections": [s.as_json() for s in sections(view)],
    }


def draw(view: ChartView, chart: Section, options: Mapping[str, Any]) -> Any:
    """The Altair chart of a section with parsed options."""
    try:
        return chart.builder()(view, dict(options))
    except (KeyError, IndexError, TypeError, ValueError, AssertionError) as exc:
        raise Conflict(
            f"The chart {chart.id} cannot be drawn from this run's result "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def spec(view: ChartView, chart: Section, options: Mapping[str, Any]) -> dict[str, Any]:
    """A section's Vega-Lite specification with its data inline. Altair's own 5,000-row guard
    is off: every builder bounds its data itself (MAX_PRODUCTS, MAX_HOUSEHOLDS, …), and a long
    table of 3,000 households × a few factors is within those bounds."""
    import altair as alt

    with alt.data_transformers.disable_max_rows():
        drawn: dict[str, Any] = draw(view, chart, options).to_dict()
    return drawn


def vega(view: ChartView, chart_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    """One chart as a Vega-Lite specification (data inline), options from a query string."""
    chart = section(view, chart_id)
    return spec(view, chart, chart.parse_options(query, view))
