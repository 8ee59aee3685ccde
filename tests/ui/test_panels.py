"""Every family's Results panel against the real API, from a stored real result: the panel of
its kind with the charts the API serves, and the product views (closest competitors,
dendrogram, clusters) equal to the API's own for every family. A kind the app has no panel
for, or a run served without its panel's charts, gets the generic view."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from backend.families import FamilySpec, families
from tests.support.stored import stored_run

SPECS = list(families().values())
FIRST_TAB = {"segments": "Segments", "dimensions": "Loadings", "map": "Map",
             "baskets": "Top products", "graph": "Network", "choice": "Household effects"}


def draw(run_id: str, kind: str | None = None, drop: str | None = None) -> None:
    from ui import cached, panels
    from ui.api_client import get_client
    from ui.panels.base import View

    run = get_client().get_run(run_id)
    spec = dict(cached.model(run["model_type"]))
    if kind is not None:
        spec["kind"] = kind
    catalogue = dict(cached.charts(run_id, run["labels"]))
    if drop:
        catalogue["sections"] = [s for s in catalogue["sections"] if s["id"] != drop]
    panels.render(View(run=run, result=cached.results(run_id), spec=spec, catalogue=catalogue,
                       run_id=run_id, labels=run["labels"],
                       load_clusters=lambda: cached.clusters(run_id),
                       load_tables=lambda: cached.tables(run_id, run["labels"])))


@pytest.fixture
def api(api_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("API_URL", api_url)
    with httpx.Client(base_url=f"{api_url}/api/v1", timeout=60) as client:
        yield client


def panel(run_id: str, **kwargs: Any) -> AppTest:
    at = AppTest.from_function(draw, args=(run_id,), kwargs=kwargs, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> list[list[dict[str, Any]]]:
    """The data rows of each chart on the page (Streamlit sends them as Arrow tables)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        rows: list[dict[str, Any]] = []
        for dataset in chart.proto.datasets:
            rows += pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
        out.append(rows)
    return out


def chart_with(at: AppTest, *fields: str, exactly: bool = False) -> list[dict[str, Any]]:
    """The rows of the chart on the page whose data has these fields (`exactly` these)."""

    def fits(row: dict[str, Any]) -> bool:
        return set(row) == set(fields) if exactly else set(fields) <= set(row)

    found = [rows for rows in charts(at) if any(fits(r) for r in rows)]
    assert found, fields
    return [r for r in found[0] if fits(r)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_each_family_gets_the_panel_of_its_kind(api: httpx.Client, spec: FamilySpec) -> None:
    at = panel(stored_run(spec.model_type))
    assert not at.info or "no dedicated view" not in at.info[0].value
    labels = [t.label for t in at.tabs]
    assert labels[0] == FIRST_TAB[spec.kind.value], labels
    assert len(at.get("vega_lite_chart")) >= 3
    assert "Dendrogram" in labels and "Closest competitors" in labels
    assert ("Product map" in labels) is (spec.kind.value != "map")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_the_apps_product_views_are_the_apis(api: httpx.Client, spec: FamilySpec) -> None:
    # Given a finished run of the family and what the API says of its products
    run_id = stored_run(spec.model_type)
    product_map = api.get(f"/runs/{run_id}/product-map").json()
    clusters = api.post(f"/runs/{run_id}/clustering", json={"method": "kmeans"}).json()
    # When the app draws the run
    at = panel(run_id)
    # Then its closest competitors are the API's, in the API's order
    drawn = chart_with(at, "Product", "Rank", "Competitor")
    for product, competitors in product_map["closest_competitors"].items():
        mine = sorted((r for r in drawn if r["Product"] == product), key=lambda r: r["Rank"])
        assert [r["Competitor"] for r in mine] == [c["product"] for c in competitors], product
    # and its dendrogram joins the products at the API's tree's heights
    links = chart_with(at, "x", "x2", "y", "y2", exactly=True)
    heights = {round(r["x2"], 6) for r in links if r["x"] == r["x2"]}
    assert heights == {round(row[2], 6) for row in product_map["dendrogram"]}
    # and, coloured by clusters, its product map groups products as POST /clustering does
    if spec.kind.value != "map":
        at.segmented_control(key=f"chart.{run_id}.product_map.colour").set_value(
            "clusters").run()
        assert not at.exception, at.exception
        placed = chart_with(at, "Product", "x", "y", "Group")
        assert {r["Product"]: r["Group"] for r in placed} == {
            p: f"Cluster {k + 1}" for p, k in clusters["labels"].items()
        }
        assert any("clusters of products found by k-means" in c.value for c in at.caption)


def test_a_kind_without_a_panel_gets_the_generic_view(api: httpx.Client) -> None:
    at = panel(stored_run("lca"), kind="something_new")
    assert "no dedicated view" in at.info[0].value
    # every chart the API serves is still drawn, and the tables are there
    assert len(at.get("vega_lite_chart")) >= 5
    assert at.dataframe


def test_a_run_served_without_its_panels_charts_degrades_to_the_generic_view(
    api: httpx.Client,
) -> None:
    at = panel(stored_run("lca"), drop="sizes")
    assert "no dedicated view" in at.info[0].value
    assert json.loads(at.get("vega_lite_chart")[0].proto.spec)
