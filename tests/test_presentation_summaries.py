"""Plain-language summaries, numbers for people, the segments-and-products map and labels that
do not overlap, on every family's real stored result (tests/ui/fixtures)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from backend.families import FamilySpec, families
from backend.presentation.layout import Canvas, overlaps, padded_domain, place_labels
from backend.presentation.numbers import index, percent, sig
from backend.presentation.segment_map import joint_map
from backend.presentation.summaries import key_findings, summaries
from tests.test_presentation_charts import LABELS, view
from tests.ui.fixtures import result


def test_numbers_read_as_people_write_them() -> None:
    assert percent(0.277) == "28%" and percent(0.001) == "under 1%" and percent(None) == "—"
    assert index(63.3) == "63" and index(143.49) == "143"
    assert sig(0.01234) == "0.012" and sig(8403) == "8,400" and sig(2.71828) == "2.7"
    assert sig(0) == "0" and sig(float("nan")) == "—"


def test_each_segment_is_described_by_its_size_and_its_products() -> None:
    # Given a three-segment run with two segments named
    found = summaries(view("lca", LABELS))
    # Then each summary names the segment, its share and what it over- and under-indexes on
    assert [s.name for s in found] == ["Busy families", "Segment 2", "Foodies"]
    res = result("lca")
    for k, s in enumerate(found):
        assert s.headline.startswith(f"{s.name} is {percent(res['class_sizes'][k])}")
        row = np.asarray(res["item_index"][k])
        best = res["products"][int(np.argmax(row))]
        assert s.over and s.over[0][0] == best, s.text
        assert all(v >= 120 for _, v in s.over) and all(v <= 80 for _, v in s.under)
        assert f"{best} (index {index(row.max())})" in s.text
    # and the same numbers always give the same words
    assert [s.text for s in summaries(view("lca", LABELS))] == [s.text for s in found]
    # and the findings name the largest and the smallest
    findings = key_findings(view("lca", LABELS), found)
    assert "Busy families" in findings[0] and "3 segments" in findings[0]


def test_who_they_are_and_stability_enter_the_summary_when_the_run_has_them() -> None:
    res = copy.deepcopy(result("lca"))
    res["profiles"] = {
        "measure": "membership",
        "units": ["Class 1", "Class 2", "Class 3"],
        "features": [
            {
                "feature": "age",
                "kind": "categorical",
                "levels": ["18-34", "35+"],
                "overall": [0.3, 0.7],
                "cells": [
                    {"unit": "Class 3", "level": "18-34", "share": 0.61, "index": 203,
                     "residual": 5.1, "significant": True},
                    {"unit": "Class 1", "level": "18-34", "share": 0.2, "index": 66,
                     "residual": -3.0, "significant": True},
                ],
                "tests": [],
            }
        ],
        "critical_z": 2.9,
    }  # fmt: skip
    res["stability"] = {
        "n_samples": 20,
        "ari_mean": 0.8,
        "segments": [{"reappears": 0.95, "stable": True}, {"reappears": 0.5, "stable": False},
                     {"reappears": 0.9, "stable": True}],
    }  # fmt: skip
    found = summaries(view("lca", LABELS, res))
    assert "age 18-34: 61% of them (everyone: 30%)" in found[2].text
    assert found[0].who == []  # under-represented is not "who they are"
    assert "95% of the time: a stable segment" in found[0].text
    assert "not stable" in found[1].text


def test_factors_are_described_by_the_products_that_define_them() -> None:
    found = summaries(view("factor_tetrachoric"))
    res = result("factor_tetrachoric")
    loadings = np.asarray(res["loadings"])
    for k, s in enumerate(found):
        top = res["products"][int(np.argmax(loadings[:, k]))]
        assert f"defined by {top}" in s.text, s.text
        assert s.headline.endswith("of the variation in what households buy.")


@pytest.mark.parametrize("spec", list(families().values()), ids=lambda s: s.model_type)
def test_every_family_gets_a_summary_per_unit(spec: FamilySpec) -> None:
    v = view(spec.model_type)
    found = summaries(v)
    assert [s.name for s in found] == v.units.names
    assert all(s.text and s.color.startswith("#") for s in found)
    assert key_findings(v, found)


def test_segments_sit_near_the_products_they_over_index_on() -> None:
    # Given the segment × product map of a three-segment run
    v = view("lca", LABELS)
    found = joint_map(v.result, v.units)
    assert found is not None and found.units == v.units.names
    # Then each segment is closer to its most over-indexed product than to its least
    res = v.result
    for k in range(3):
        row = np.asarray(res["item_index"][k])
        best, worst = int(np.argmax(row)), int(np.argmin(row))
        near = np.linalg.norm(found.unit_xy[k] - found.product_xy[best])
        far = np.linalg.norm(found.unit_xy[k] - found.product_xy[worst])
        assert near < far
    # and the axes are named by what they separate, not "Axis 1"
    assert all("↔" in t and "%" in t for t in found.axis_titles)
    assert sum(found.inertia) == pytest.approx(1.0)  # three segments: two axes hold it all


def test_labels_do_not_overlap_even_when_points_do() -> None:
    # Given twelve points in a tight cluster and a few spread out
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(0, 0.01, 12), [1.0, -1.0, 0.5]]
    y = np.r_[rng.normal(0, 0.01, 12), [1.0, -1.0, -0.5]]
    texts = [f"Product number {k}" for k in range(len(x))]
    xd, yd = padded_domain(x, 0.16), padded_domain(y, 0.1)
    placed = place_labels(x, y, texts, width=640, height=460, x_domain=xd, y_domain=yd)
    # Then no two labels overlap and the ones pushed away get a leader line
    assert overlaps(placed, texts, Canvas(640, 460, xd, yd)) == 0
    assert any(p.leader for p in placed)
    # while the naive placement (every label right of its point) overlaps
    from backend.presentation.layout import Placed

    naive = [Placed(float(a) + 0.01, float(b), "left", False) for a, b in zip(x, y, strict=True)]
    assert overlaps(naive, texts, Canvas(640, 460, xd, yd)) > 0


def test_the_starts_chart_marks_as_many_starts_at_the_best_as_the_text_says() -> None:
    # Given a fit whose start search counted 3 of 4 starts at its optimum, with a tolerance
    # looser than 0.001 (the chart used to recount with its own and marked 1)
    import copy

    from backend.presentation.charts import vega
    from tests.test_presentation_charts import data_rows

    res = copy.deepcopy(result("lca"))
    lls = [-5383.184, -5383.186, -5383.187, -5390.0]
    for start, loglik in zip(res["starts"], lls, strict=True):
        start["loglik"] = loglik
    res["n_starts_at_best"] = 3
    rows = data_rows(vega(view("lca", res=res), "starts", {}))
    # Then the chart marks three
    assert sum(r["Reached the best"] for r in rows) == 3


def test_warnings_use_the_forms_words_for_settings() -> None:
    from backend.presentation.wording import plain_warning

    said = plain_warning("Only one start reached its best. Increase n_init.")
    assert said == "Only one start reached its best. Increase “Random starts”."
    said = plain_warning("The best start did not converge within max_iter=1000; increase max_iter.")
    assert "n_init" not in said and "max_iter" not in said
    assert "“Maximum iterations per start” (1000)" in said


def color_scales(node: object) -> list[tuple[list[str], list[str]]]:
    """Every (domain, range) of a colour scale in a Vega-Lite specification."""
    found: list[tuple[list[str], list[str]]] = []
    if isinstance(node, dict):
        color = node.get("color")
        if isinstance(color, dict) and isinstance(color.get("scale"), dict):
            scale = color["scale"]
            if isinstance(scale.get("domain"), list) and isinstance(scale.get("range"), list):
                found.append(([str(d) for d in scale["domain"]], [str(r) for r in scale["range"]]))
        for value in node.values():
            found += color_scales(value)
    elif isinstance(node, list):
        for value in node:
            found += color_scales(value)
    return found


@pytest.mark.parametrize("spec", list(families().values()), ids=lambda s: s.model_type)
def test_a_unit_has_one_colour_in_every_chart(spec: FamilySpec) -> None:
    # Given a family's run with its units named
    from backend.presentation.charts import sections, vega

    v = view(spec.model_type, LABELS)
    colour = v.units.colors
    # Then wherever a chart colours by unit, each unit gets its own colour, the one the report,
    # the slides and the app's listing use
    checked = 0
    for section in sections(v):
        for domain, range_ in color_scales(vega(v, section.id, {})):
            for name, drawn in zip(domain, range_, strict=False):
                if name in colour:
                    assert drawn == colour[name], (section.id, name)
                    checked += 1
    assert checked or spec.kind.value == "choice"
