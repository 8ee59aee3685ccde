"""ui/charts.py alone: each chart's Vega-Lite spec has the right marks, encodings and data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.results_fixture import lca_result
from ui.charts import class_sizes_chart, profile_heatmap


def rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The data rows of a (layered) chart: Altair hoists shared data into `datasets`."""
    name = spec["data"]["name"]
    return list(spec["datasets"][name])


def layer(spec: dict[str, Any], mark: str) -> dict[str, Any]:
    return next(lay for lay in spec["layer"] if lay["mark"]["type"] == mark)


def test_class_sizes_chart_draws_one_bar_per_segment_with_its_share() -> None:
    # Given a two-class result
    result = lca_result()
    # When the chart is built
    spec = class_sizes_chart(result).to_dict()
    # Then a bar per segment, share on x (as %), segments on y in their own order
    bars = layer(spec, "bar")
    assert bars["encoding"]["x"]["field"] == "Share"
    assert bars["encoding"]["x"]["type"] == "quantitative"
    assert bars["encoding"]["x"]["axis"]["format"] == "%"
    assert bars["encoding"]["y"]["field"] == "Segment"
    assert bars["encoding"]["y"]["sort"] == ["Segment 1", "Segment 2"]
    assert [(r["Segment"], r["Share"], r["Households"]) for r in rows(spec)] == [
        ("Segment 1", 0.6, 61),
        ("Segment 2", 0.4, 39),
    ]
    # and each bar is labelled with its percentage
    labels = layer(spec, "text")
    assert labels["encoding"]["text"] == {"field": "Share", "format": ".0%", "type": "quantitative"}


def test_class_sizes_axis_leaves_room_for_the_labels() -> None:
    spec = class_sizes_chart(lca_result()).to_dict()
    low, high = layer(spec, "bar")["encoding"]["x"]["scale"]["domain"]
    assert low == 0 and 0.6 < high <= 1.0


def test_profile_heatmap_has_a_cell_per_segment_and_product() -> None:
    # Given a result with 2 classes × 3 products
    result = lca_result()
    # When the heatmap is built
    spec = profile_heatmap(result).to_dict()
    # Then rectangles: segments across, products down in the result's order
    cells = layer(spec, "rect")
    assert cells["encoding"]["x"]["field"] == "Segment"
    assert cells["encoding"]["y"]["field"] == "Product"
    assert cells["encoding"]["y"]["sort"] == ["milk", "bread", "beer"]
    # coloured by probability on a fixed 0..1 scale, so runs compare by eye
    assert cells["encoding"]["color"]["field"] == "Probability"
    assert cells["encoding"]["color"]["scale"]["domain"] == [0, 1]
    data = rows(spec)
    assert len(data) == 2 * 3
    by_cell = {(r["Segment"], r["Product"]): r["Probability"] for r in data}
    assert by_cell[("Segment 1", "milk")] == pytest.approx(0.9)
    assert by_cell[("Segment 2", "beer")] == pytest.approx(0.7)
    # and each cell is written out in %
    text = layer(spec, "text")
    assert text["encoding"]["text"]["format"] == ".0%"


def test_profile_heatmap_indexes_each_cell_against_all_households() -> None:
    data = rows(profile_heatmap(lca_result()).to_dict())
    beer_overall = 0.6 * 0.1 + 0.4 * 0.7  # size-weighted penetration = 0.34
    beer_2 = next(r for r in data if r["Segment"] == "Segment 2" and r["Product"] == "beer")
    assert beer_2["Index"] == round(100 * 0.7 / beer_overall)
