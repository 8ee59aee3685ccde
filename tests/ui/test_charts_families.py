"""Every family's chart builders on real results (tests/ui/fixtures): the right marks, fields and
data, the person's labels in the data, and graceful handling of missing fields."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.ui.fixtures import result, rows
from ui import (
    charts,
    charts_bayes,
    charts_common,
    charts_factor,
    charts_mca,
    charts_network,
    charts_nmf,
)
from ui.families import (
    closest_competitors,
    display_names,
    embedding,
    map_coordinates,
    profile,
)


def spec(chart: Any) -> dict[str, Any]:
    return chart.to_dict()


def all_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for data in s.get("datasets", {}).values() for row in data]


def marks(s: dict[str, Any]) -> list[str]:
    found = []

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

    walk(s)
    return found


LABELS = {"Class 1": "Busy families", "Class 3": "Foodies"}


# -- LCA ------------------------------------------------------------------------------------


def test_labels_replace_default_names_and_stay_distinct() -> None:
    lca = result("lca")
    assert display_names("lca", lca) == ["Segment 1", "Segment 2", "Segment 3"]
    assert display_names("lca", lca, LABELS) == ["Busy families", "Segment 2", "Foodies"]
    same = {"Class 1": "Families", "Class 2": "Families"}
    assert display_names("lca", lca, same) == ["Families", "Families (Segment 2)", "Segment 3"]


def test_every_lca_chart_shows_the_persons_labels() -> None:
    lca = result("lca")
    names = display_names("lca", lca, LABELS)
    for build in (charts.class_sizes_chart, charts.profile_heatmap,
                  charts.segment_comparison_chart):
        s = spec(build(lca, names))
        segs = {r["Segment"] for r in all_rows(s) if "Segment" in r}
        assert {"Busy families", "Foodies"} <= segs, build.__name__
        assert "Segment 1" not in segs


def test_segment_colours_are_fixed_per_segment() -> None:
    lca = result("lca")
    names = display_names("lca", lca, LABELS)
    sizes = spec(charts.class_sizes_chart(lca, names))
    bars = next(layer for layer in sizes["layer"] if layer["mark"]["type"] == "bar")
    scale = bars["encoding"]["color"]["scale"]
    assert scale["domain"] == names
    assert scale["range"] == charts.UNIT_COLORS[:3]


def test_index_heatmap_colours_by_index_around_100() -> None:
    lca = result("lca")
    s = spec(charts.profile_heatmap(lca, measure="index"))
    cells = next(layer for layer in s["layer"] if layer["mark"]["type"] == "rect")
    assert cells["encoding"]["color"]["field"] == "Index"
    assert 100 in cells["encoding"]["color"]["scale"]["domain"]
    # the result's own index (observed overall rates) is used
    first = next(r for r in all_rows(s) if r["Segment"] == "Segment 1"
                 and r["Product"] == lca["products"][0])
    assert first["Index"] == round(lca["item_index"][0][0])


def test_segment_comparison_puts_the_biggest_differences_first() -> None:
    lca = result("lca")
    s = spec(charts.segment_comparison_chart(lca, chosen=["Segment 1", "Segment 2"]))
    assert set(marks(s)) == {"rule", "tick", "circle"}
    dots = next(layer for layer in s["layer"] if layer["mark"]["type"] == "circle")
    order = dots["encoding"]["y"]["sort"]
    probs = pd.DataFrame(lca["item_probabilities"], columns=lca["products"]).T
    gap = (probs[0] - probs[1]).abs().sort_values(ascending=False)
    assert order[0] == gap.index[0]


def test_ic_elbow_draws_each_criterion_and_marks_the_recommended_count() -> None:
    sweep = {"param": "n_classes", "recommended": 3, "table": [
        {"n_classes": k, "bic": 100 - 10 * min(k, 3) + k, "aic": 90 - 9 * k, "status": "completed"}
        for k in (1, 2, 3, 4)
    ]}
    s = spec(charts.ic_elbow_chart(sweep))
    assert {r["Criterion"] for r in all_rows(s) if "Criterion" in r} == {"BIC", "AIC"}
    assert {"Segments": 3} in all_rows(s)


def test_starts_chart_and_bvr_chart_and_odds_ratios() -> None:
    lca = result("lca")
    starts = spec(charts.starts_chart(lca))
    assert len([r for r in all_rows(starts) if "loglik" in r]) == len(lca["starts"])
    bvr = spec(charts.bvr_chart(lca, top=5))
    assert len([r for r in all_rows(bvr) if "Pair" in r]) == 5
    cov = result("lca_covariates")
    names = display_names("lca_covariates", cov, {"Class 2": "Families"})
    odds = spec(charts.odds_ratio_chart(cov, names))
    assert "facet" in odds
    data = all_rows(odds)
    assert "(intercept)" not in {r["term"] for r in data}
    assert "Families" in {r["Segment"] for r in data}


# -- every model --------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["lca", "factor_tetrachoric", "mca", "nmf"])
def test_every_family_gets_a_profile_a_map_a_dendrogram_and_competitors(family: str) -> None:
    res = result(family)
    prof = profile(family, res)
    assert prof is not None and list(prof.index) == res["products"]
    emb = embedding(family, res)
    assert emb is not None and len(emb) == len(res["products"])
    coords = map_coordinates(emb)
    assert list(coords.columns) == ["Product", "x", "y"]
    s = spec(charts_common.product_map_chart(coords))
    assert {r["Product"] for r in all_rows(s) if "Product" in r} == set(res["products"])
    dendro = spec(charts_common.dendrogram_chart(emb))
    assert "rule" in marks(dendro)
    leaves = [r["Product"] for r in all_rows(dendro) if "Product" in r]
    assert sorted(leaves) == sorted(res["products"])
    competitors = closest_competitors(emb)
    assert len(competitors) == len(res["products"])
    assert (competitors["Product"] != competitors["Closest 1"]).all()


def test_demo_structure_shows_in_the_competitors() -> None:
    # In the demo data the health-conscious segment buys organic vegetables, plant-based milk
    # and nuts: in the LCA embedding they are each other's closest products.
    emb = embedding("lca", result("lca"))
    assert emb is not None
    table = closest_competitors(emb).set_index("Product")
    health = {"Organic vegetables", "Plant-based milk", "Nuts & seeds", "Fresh fruit"}
    for product in ("Organic vegetables", "Plant-based milk", "Nuts & seeds"):
        assert table.loc[product, "Closest 1"] in health
    assert table.loc["Breakfast cereal", "Closest 1"] == "Fruit juice"


def test_matrix_heatmap_diverges_around_zero_for_loadings() -> None:
    fa = result("factor_tetrachoric")
    prof = profile("factor_tetrachoric", fa, ["Breakfast", "Healthy"])
    assert prof is not None
    s = spec(charts_common.matrix_heatmap(prof, "Loading", diverging=True, column_title="Factor"))
    cells = next(layer for layer in s["layer"] if layer["mark"]["type"] == "rect")
    domain = cells["encoding"]["color"]["scale"]["domain"]
    assert domain[2] == 0 and domain[0] == -domain[-1]
    assert {r["Factor"] for r in all_rows(s)} == {"Breakfast", "Healthy"}


# -- factor, MCA, NMF -------------------------------------------------------------------------


def test_scree_has_data_and_parallel_analysis_lines() -> None:
    fa = result("factor_tetrachoric")
    s = spec(charts_factor.scree_chart(fa))
    assert {r["Series"] for r in all_rows(s) if "Series" in r} == {
        "Your data", "Random data (95th percentile)"}


def test_score_distributions_use_the_factor_names() -> None:
    s = spec(charts_factor.score_distribution_chart(rows("factor_tetrachoric"), ["A", "B"]))
    assert s["transform"][0]["density"] == "Score"
    assert {r["Factor"] for r in all_rows(s)} == {"A", "B"}
    v = spec(charts_factor.variance_chart(result("factor_tetrachoric"), ["A", "B"]))
    assert [r["Factor"] for r in all_rows(v)] == ["A", "B"]


def test_mca_inertia_and_biplot_with_households() -> None:
    mca = result("mca")
    inertia = spec(charts_mca.inertia_chart(mca))
    assert [r["Dimension"] for r in all_rows(inertia)] == mca["dimensions"]
    biplot = spec(charts_mca.biplot_chart(mca, households=rows("mca")))
    assert marks(biplot).count("circle") == 2  # households and products
    x_title = biplot["layer"][1]["encoding"]["x"]["title"]
    assert x_title.startswith("Dim 1 (") and x_title.endswith("%)")


def test_nmf_top_products_and_error_curve() -> None:
    nmf = result("nmf")
    names = display_names("nmf", nmf, {"Component 1": "Breakfast basket"})
    s = spec(charts_nmf.top_products_chart(nmf, names, top=4))
    assert "facet" in s
    data = all_rows(s)
    assert {r["Component"] for r in data} == set(names)
    assert len(data) == 4 * len(names)
    curve = spec(charts_nmf.error_curve_chart(nmf))
    assert [r["Components"] for r in all_rows(curve) if "Error" in r] == [2, 3, 4]


# -- Bayesian, DCM, network (shapes from the schemas) ---------------------------------------


def bayes_result() -> dict[str, Any]:
    return {
        "products": ["Milk", "Wine"], "factors": ["Factor 1"],
        "loadings": [[0.6], [-0.2]], "loadings_hdi_low": [[0.4], [-0.5]],
        "loadings_hdi_high": [[0.8], [0.1]],
        "predictive_check": [
            {"product": "Milk", "observed_rate": 0.5, "replicated_mean": 0.5,
             "replicated_low": 0.45, "replicated_high": 0.55, "p_value": 0.5},
            {"product": "Wine", "observed_rate": 0.3, "replicated_mean": 0.2,
             "replicated_low": 0.15, "replicated_high": 0.25, "p_value": 0.0},
        ],
        "diagnostics": {"method": "nuts", "sampler": "nutpie", "chains": 2, "draws": 500,
                        "tune": 500, "divergences": 3, "max_r_hat": 1.002,
                        "min_ess_bulk": 250.0, "compile_seconds": 1, "sampling_seconds": 4},
        "vi": {"loss_history": [[100, 50.0], [200, 40.0]], "iterations": 200,
               "converged": True, "final_loss": 40.0},
    }


def test_forest_of_loadings_marks_credible_intervals() -> None:
    res = bayes_result()
    data = charts_bayes.loadings_intervals(res, ["Breakfast"])
    assert list(data["Group"]) == ["Breakfast", "Breakfast"]
    s = spec(charts_bayes.forest_chart(data, names=["Breakfast"]))
    assert set(marks(s)) == {"rule", "circle"}
    plain = spec(charts_bayes.forest_chart(data.assign(Group="")))
    credible = {r["Name"]: r["Credible"] for r in all_rows(plain) if "Name" in r}
    assert credible == {"Milk": True, "Wine": False}


def test_ppc_flags_products_outside_the_replicated_band() -> None:
    s = spec(charts_bayes.ppc_chart(bayes_result()))
    inside = {r["product"]: r["Inside"] for r in all_rows(s)}
    assert inside == {"Milk": True, "Wine": False}


def test_diagnostics_read_as_verdicts() -> None:
    table = charts_bayes.diagnostics_frame(bayes_result()).set_index("Diagnostic")
    assert table.loc["Divergent transitions", "Verdict"] == "raise target_accept"
    assert table.loc["Largest R-hat", "Verdict"] == "ok"
    assert table.loc["Smallest bulk ESS", "Verdict"] == "few effective draws"
    assert charts_bayes.loss_chart(bayes_result()).to_dict()["datasets"] != {}


def test_interval_rows_read_several_naming_styles() -> None:
    items = [{"name": "price", "mean": -1.2, "hdi_low": -1.5, "hdi_high": -0.9},
             {"term": "income", "coef": 0.3, "ci_low": -0.1, "ci_high": 0.7},
             {"name": "no estimate"}]
    data = charts_bayes.interval_rows(items)
    assert list(data["Name"]) == ["price", "income"]
    assert charts_bayes.is_interval_list(items)
    assert not charts_bayes.is_interval_list([{"a": "b"}])


def test_network_layout_is_deterministic_and_coloured_by_community() -> None:
    res = {"products": ["A", "B", "C", "D"],
           "edges": [{"source": "A", "target": "B", "weight": 2.0},
                     {"source": "C", "target": "D", "weight": 1.0}],
           "communities": [["A", "B"], ["C", "D"]]}
    s1 = spec(charts_network.network_chart(res, ["Breakfast", "Party"]))
    s2 = spec(charts_network.network_chart(res, ["Breakfast", "Party"]))
    assert s1 == s2
    nodes = {r["Product"]: r["Community"] for r in all_rows(s1) if "Community" in r}
    assert nodes == {"A": "Breakfast", "B": "Breakfast", "C": "Party", "D": "Party"}
    layout = charts_network.spring_layout(["A", "B", "C", "D"], charts_network.edges_frame(res))
    xy = layout.set_index("Product")
    near = ((xy.loc["A"] - xy.loc["B"]) ** 2).sum()
    far = ((xy.loc["A"] - xy.loc["C"]) ** 2).sum()
    assert near < far


def test_charts_survive_results_missing_their_fields() -> None:
    # A family whose result lacks a field still gets an (empty) chart, never an exception.
    empty: dict[str, Any] = {"products": []}
    for chart in (charts_factor.scree_chart(empty), charts_nmf.error_curve_chart(empty),
                  charts_bayes.ppc_chart(empty), charts.starts_chart(empty),
                  charts.bvr_chart(empty), charts_network.network_chart(empty)):
        assert isinstance(chart.to_dict(), dict)
    assert profile("dcm", empty) is None and embedding("network", empty) is None
