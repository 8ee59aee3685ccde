"""The server's chart builders (backend/presentation/charts) on every family's real stored
result (tests/ui/fixtures): the catalogue each family gets, the right marks, fields and data,
the person's names in the data, fixed colours per unit, bounded data for big results, and the
product views drawn from the stored product map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from backend.errors import InvalidInput, NotFound
from backend.families import FamilySpec, families, family
from backend.presentation.charts import ChartView, listing, section, sections, vega
from backend.presentation.charts.base import MAX_PRODUCTS
from backend.presentation.charts.common import dendrogram_layout
from backend.presentation.charts.graph import edges_frame, spring_layout
from backend.presentation.charts.palette import UNIT_COLORS
from backend.presentation.names import units
from tests.ui.fixtures import result, rows

SPECS = list(families().values())
LABELS = {"Class 1": "Busy families", "Class 3": "Foodies"}


def view(
    model_type: str, labels: dict[str, str] | None = None, res: dict[str, Any] | None = None
) -> ChartView:
    spec = family(model_type)
    res = result(model_type) if res is None else res
    try:
        household_rows: pd.DataFrame | None = rows(model_type)
    except FileNotFoundError:
        household_rows = None
    return ChartView(
        spec,
        res,
        units(spec, res, labels),
        load_rows=lambda: household_rows,
        has_rows=household_rows is not None,
    )


def data_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for data in spec.get("datasets", {}).values() for row in data]


def marks(spec: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            mark = node.get("mark")
            if isinstance(mark, dict):
                found.append(mark["type"])
            elif isinstance(mark, str):
                found.append(mark)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def layer(spec: dict[str, Any], mark: str) -> dict[str, Any]:
    return next(lay for lay in spec["layer"] if lay["mark"]["type"] == mark)


EXPECTED = {
    "segments": {"sizes", "profile", "comparison", "starts"},
    "dimensions": {"loadings"},
    "map": {"map", "inertia"},
    "baskets": {"top_products", "shares", "weights"},
    "graph": {"graph"},
    "choice": {"effects", "predictive_check"},
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_every_family_lists_its_own_charts_then_the_product_views(spec: FamilySpec) -> None:
    # Given a family's stored result
    listed = [s.id for s in sections(view(spec.model_type))]
    # Then its own charts come first, then the product views of its stored product map
    assert EXPECTED[spec.kind.value] <= set(listed), listed
    assert listed[-2:] == ["dendrogram", "competitors"]
    assert ("product_map" in listed) is (spec.kind.value != "map")
    # and every listed chart draws, with the options it lists
    for chart in sections(view(spec.model_type)):
        drawn = vega(view(spec.model_type), chart.id, {})
        assert drawn["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert data_rows(drawn) or "data" in drawn, chart.id


def test_the_listing_names_the_units() -> None:
    served = listing(view("lca", LABELS))
    assert served["unit"] == "Segment"
    assert served["units"][0] == {
        "key": "Class 1",
        "default": "Segment 1",
        "name": "Busy families",
        "color": "#3b5bdb",
    }
    profile = next(s for s in served["sections"] if s["id"] == "profile")
    assert [o["name"] for o in profile["options"]] == ["measure"]
    assert "profile" in profile["tags"]


# -- segments -------------------------------------------------------------------------------


def test_labels_replace_default_names_and_stay_distinct() -> None:
    lca = result("lca")
    assert units(family("lca"), lca).names == ["Segment 1", "Segment 2", "Segment 3"]
    assert units(family("lca"), lca, LABELS).names == ["Busy families", "Segment 2", "Foodies"]
    same = {"Class 1": "Families", "Class 2": "Families"}
    assert units(family("lca"), lca, same).names == [
        "Families",
        "Families (Segment 2)",
        "Segment 3",
    ]


def test_every_segment_chart_shows_the_persons_names() -> None:
    for chart_id in ("sizes", "profile", "comparison"):
        shown = vega(
            view("lca", LABELS),
            chart_id,
            {"units": "Class 1,Class 3"} if chart_id == "comparison" else {},
        )
        segments = {r["Segment"] for r in data_rows(shown) if "Segment" in r}
        assert {"Busy families", "Foodies"} <= segments, chart_id
        assert "Segment 1" not in segments


def test_segment_colours_are_fixed_per_segment() -> None:
    sizes = vega(view("lca", LABELS), "sizes", {})
    scale = layer(sizes, "bar")["encoding"]["color"]["scale"]
    assert scale["domain"] == ["Busy families", "Segment 2", "Foodies"]
    assert scale["range"] == UNIT_COLORS[:3]


def test_index_heatmap_colours_by_index_around_100() -> None:
    lca = result("lca")
    shown = vega(view("lca"), "profile", {"measure": "index"})
    cells = layer(shown, "rect")
    assert cells["encoding"]["color"]["field"] == "Index"
    assert 100 in cells["encoding"]["color"]["scale"]["domain"]
    first = next(
        r
        for r in data_rows(shown)
        if r["Segment"] == "Segment 1" and r["Product"] == lca["products"][0]
    )
    assert first["Index"] == round(lca["item_index"][0][0])


def test_segment_comparison_puts_the_biggest_differences_first() -> None:
    lca = result("lca")
    shown = vega(view("lca"), "comparison", {"units": "Class 1,Class 2"})
    assert set(marks(shown)) == {"rule", "tick", "circle"}
    order = layer(shown, "circle")["encoding"]["y"]["sort"]
    probs = pd.DataFrame(lca["item_probabilities"], columns=lca["products"]).T
    assert order[0] == (probs[0] - probs[1]).abs().sort_values(ascending=False).index[0]
    assert {r["Segment"] for r in data_rows(shown) if "Segment" in r} == {"Segment 1", "Segment 2"}


def test_chart_options_are_checked_with_a_sentence() -> None:
    with pytest.raises(InvalidInput, match="measure is one of probability, index"):
        vega(view("lca"), "profile", {"measure": "lift"})
    with pytest.raises(InvalidInput, match="'Class 9' not among"):
        vega(view("lca"), "comparison", {"units": "Class 1,Class 9"})
    with pytest.raises(InvalidInput, match="has no option 'colour'; it takes measure"):
        vega(view("lca"), "profile", {"colour": "clusters"})
    with pytest.raises(NotFound, match="no chart 'loadings'"):
        section(view("lca"), "loadings")


def test_sweep_odds_ratios_starts_and_residuals() -> None:
    lca = result("lca")
    lca["sweep"] = {
        "param": "n_classes",
        "recommended": 3,
        "elbow": 2,
        "reason": "BIC is lowest at 3 classes (1–4 fitted; it rises after 3).",
        "table": [
            {"n_classes": k, "bic": 100 - 10 * min(k, 3) + k, "aic": 90 - 9 * k}
            for k in (1, 2, 3, 4)
        ],
    }
    elbow = vega(view("lca", res=lca), "sweep", {})
    assert {r["Criterion"] for r in data_rows(elbow) if "Criterion" in r} == {"BIC", "AIC"}
    # The recommended number and the elbow are both marked, and labelled
    marks = {r["Mark"]: r["Number"] for r in data_rows(elbow) if "Mark" in r}
    assert marks == {"recommended": 3, "elbow": 2}
    assert "recommended: 3" in {r.get("Label") for r in data_rows(elbow)}
    assert "it rises after 3" in section(view("lca", res=lca), "sweep").caption
    # Stability: one bar per segment, in the caption with the names people gave them
    lca["stability"] = {
        "n_samples": 20,
        "ari_mean": 0.93,
        "ari_low": 0.88,
        "ari": [0.93] * 20,
        "segments": [
            {"segment": f"Class {i + 1}", "mean_jaccard": 0.9, "reappears": r, "stable": True}
            for i, r in enumerate([1.0, 0.95, 0.94][: len(lca["class_sizes"])])
        ],
        "verdict": "The segments are stable.",
    }
    shown = view("lca", {"Class 1": "Families"}, res=lca)
    caption = section(shown, "stability").caption
    assert "adjusted Rand index of 0.93" in caption and "Families reappears in 100%" in caption
    bars = [r for r in data_rows(vega(shown, "stability", {})) if "Reappears" in r]
    assert len(bars) == len(lca["class_sizes"]) and bars[0]["Segment"] == "Families"
    starts = vega(view("lca"), "starts", {})
    assert len([r for r in data_rows(starts) if "loglik" in r]) == len(lca["starts"])
    bvr = vega(view("lca"), "residuals", {})
    assert len([r for r in data_rows(bvr) if "Pair" in r]) == 15
    odds = vega(view("lca_covariates", {"Class 2": "Families"}), "odds_ratios", {})
    assert "facet" in odds
    assert "(intercept)" not in {r["term"] for r in data_rows(odds)}
    assert "Families" in {r["Segment"] for r in data_rows(odds)}


# -- the other families ---------------------------------------------------------------------


def test_loadings_diverge_around_zero_with_the_factor_names() -> None:
    shown = vega(view("factor_tetrachoric", {"Factor 1": "Breakfast"}), "loadings", {})
    domain = layer(shown, "rect")["encoding"]["color"]["scale"]["domain"]
    assert domain[2] == 0 and domain[0] == -domain[-1]
    assert {r["Factor"] for r in data_rows(shown)} == {"Breakfast", "Factor 2"}


def test_scree_variance_and_household_scores() -> None:
    scree = vega(view("factor_tetrachoric"), "scree", {})
    assert {r["Series"] for r in data_rows(scree) if "Series" in r} == {
        "Your data",
        "Random data (95th percentile)",
    }
    labelled = view("factor_tetrachoric", {"Factor 1": "A", "Factor 2": "B"})
    scores = vega(labelled, "household_scores", {})
    assert scores["transform"][0]["density"] == "Score"
    assert {r["Factor"] for r in data_rows(scores)} == {"A", "B"}
    variance = vega(labelled, "variance", {})
    assert [r["Factor"] for r in data_rows(variance)] == ["A", "B"]


def test_mca_inertia_and_map_with_households_on_chosen_dimensions() -> None:
    inertia = vega(view("mca"), "inertia", {"adjusted": "false"})
    assert [r["Dimension"] for r in data_rows(inertia)] == [
        "Dimension 1",
        "Dimension 2",
        "Dimension 3",
    ]
    shown = vega(view("mca"), "map", {"x": "1", "y": "2", "households": "true"})
    assert marks(shown).count("circle") == 2  # households and products
    x_title = shown["layer"][1]["encoding"]["x"]["title"]
    # named by what the dimension separates, with the share it shows (not "Axis 1")
    assert x_title.startswith("Dimension 2: ") and "↔" in x_title and x_title.endswith("%)")
    # and no legend of a "strongest dimension" (it said "Group: Dimension 1…5")
    assert not any("field" in layer["encoding"].get("color", {}) for layer in shown["layer"])


def test_baskets_top_products_shares_and_error_curve() -> None:
    nmf = view("nmf", {"Component 1": "Breakfast basket"})
    top = vega(nmf, "top_products", {})
    assert "facet" in top
    assert {r["Component"] for r in data_rows(top)} == set(nmf.units.names)
    assert len(data_rows(top)) == 6 * len(nmf.units.names)
    curve = vega(nmf, "error_curve", {})
    assert [r["Number"] for r in data_rows(curve) if "Error" in r] == [2, 3, 4]
    lda = view("lda")
    assert {r["Mission"] for r in data_rows(vega(lda, "shares", {}))} == set(lda.units.names)


def test_bayesian_intervals_mark_credible_loadings_and_the_ppc_flags_misses() -> None:
    vi = view("bayesian_factor_vi", {"Factor 2": "Fresh"})
    forest = vega(vi, "loading_intervals", {})
    assert {"rule", "circle"} <= set(marks(forest))
    groups = {r["Group"] for r in data_rows(forest)}
    assert groups == {"Factor 1", "Fresh"}
    ppc = vega(vi, "predictive_check", {})
    res = result("bayesian_factor_vi")
    inside = {r["product"]: r["Inside"] for r in data_rows(ppc)}
    for row in res["predictive_check"]:
        low, high = row["replicated_low"], row["replicated_high"]
        assert inside[row["product"]] is bool(low <= row["observed_rate"] <= high)


def test_choice_effects_are_named_by_household_feature() -> None:
    dcm = view("dcm", {"household_size": "Size of household"})
    effects = vega(dcm, "effects", {})
    assert "Size of household" in {r["Feature"] for r in data_rows(effects)}


def test_network_layout_is_deterministic_and_coloured_by_community() -> None:
    named = view("network", {"Community 1": "Breakfast"})
    assert vega(named, "graph", {}) == vega(named, "graph", {})
    nodes = {
        r["Product"]: r["Community"]
        for r in data_rows(vega(named, "graph", {}))
        if "Community" in r
    }
    members = {p: c["community"] for c in result("network")["communities"] for p in c["products"]}
    assert {p for p, name in nodes.items() if name == "Breakfast"} == {
        p for p, c in members.items() if c == 1
    }
    toy = {
        "edges": [
            {"source": "A", "target": "B", "weight": 2.0},
            {"source": "C", "target": "D", "weight": 1.0},
        ]
    }
    xy = spring_layout(["A", "B", "C", "D"], edges_frame(toy)).set_index("Product")
    assert ((xy.loc["A"] - xy.loc["B"]) ** 2).sum() < ((xy.loc["A"] - xy.loc["C"]) ** 2).sum()


# -- the product views, from the stored product map -----------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_product_views_draw_the_stored_product_map(spec: FamilySpec) -> None:
    res = result(spec.model_type)
    stored = res["product_map"]
    shown = view(spec.model_type)
    # The competitors are the stored ones, in their order
    competitors = data_rows(vega(shown, "competitors", {}))
    for product, listed in stored["closest_competitors"].items():
        drawn = sorted((r for r in competitors if r["Product"] == product), key=lambda r: r["Rank"])
        assert [r["Competitor"] for r in drawn] == [c["product"] for c in listed]
    # The dendrogram has every product once, and joins them as the stored tree does
    dendrogram = vega(shown, "dendrogram", {})
    leaves = [r["Product"] for r in data_rows(dendrogram) if "Product" in r]
    assert sorted(leaves) == sorted(stored["products"])
    heights = sorted({r["x2"] for r in data_rows(dendrogram) if "x2" in r and r["x"] != r["x2"]})
    assert max(heights) == pytest.approx(max(row[2] for row in stored["dendrogram"]))
    # The map places products at the stored coordinates, coloured on request by the clusters
    if "product_map" in [s.id for s in sections(shown)]:
        drawn = vega(shown, "product_map", {"colour": "clusters"})
        placed = {r["Product"]: (r["x"], r["y"], r["Group"]) for r in data_rows(drawn)}
        labels = stored["clusters"]["labels"]
        for product, (x, y) in zip(stored["products"], stored["coordinates"], strict=True):
            assert placed[product] == (x, y, f"Cluster {labels[product] + 1}")


def test_dendrogram_layout_follows_the_linkage_rows() -> None:
    # (c, (a, b) at 0.1) at 0.5: each merge's first node drawn first, a and b side by side
    segments, leaves = dendrogram_layout([[0, 1, 0.1, 2], [2, 3, 0.5, 3]], ["a", "b", "c"])
    assert list(leaves["Product"]) == ["c", "a", "b"]
    assert len(segments) == 6
    assert sorted(set(segments["x2"])) == [0.0, 0.1, 0.5]


def test_big_results_are_drawn_at_their_most_telling_products() -> None:
    # Given a segmentation of 200 products
    rng = np.random.default_rng(0)
    lca = result("lca")
    products = [f"p{j}" for j in range(200)]
    probs = rng.random((3, 200))
    lca |= {
        "products": products,
        "item_probabilities": probs.tolist(),
        "item_index": None,
        "overall_rates": None,
    }
    shown = view("lca", res=lca)
    # Then the heatmap draws MAX_PRODUCTS of them, those whose chance differs most
    cells = data_rows(vega(shown, "profile", {}))
    drawn = {r["Product"] for r in cells}
    assert len(drawn) == MAX_PRODUCTS
    spread = probs.max(axis=0) - probs.min(axis=0)
    assert products[int(np.argmax(spread))] in drawn
    assert "most telling" in section(shown, "profile").caption
