"""What the API builds from a finished run, for every family the specification lists: the
chart catalogue and each chart as valid Vega-Lite, the HTML report, the ZIP export — and the
names people give the units (PATCH /runs/{id} labels) in all of them.

The runs hold each family's real stored result (tests/ui/fixtures, with its product map),
written through the database as the executor writes them, so no fit is waited for."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import httpx
import pandas as pd
import pytest

from backend.families import FamilySpec, families
from tests.support.stored import stored_run

API = "/api/v1"
SPECS = list(families().values())


def open_zip(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def compiles(spec: dict[str, Any]) -> bool:
    """Whether Vega-Lite compiles the specification (vl-convert runs the real compiler)."""
    import vl_convert

    return bool(vl_convert.vegalite_to_vega(spec))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_every_family_gets_charts_a_report_and_a_zip(
    app_client: httpx.Client, spec: FamilySpec
) -> None:
    # Given a finished run of the family
    run_id = stored_run(spec.model_type)
    # When its charts are listed
    listed = app_client.get(f"{API}/runs/{run_id}/charts")
    assert listed.status_code == 200, listed.text
    catalogue = listed.json()
    assert catalogue["unit"] == spec.unit and catalogue["units"]
    sections = catalogue["sections"]
    assert sections and {"dendrogram", "competitors"} <= {s["id"] for s in sections}
    # Then every listed chart answers Vega-Lite that compiles, with its data inline
    for section in sections:
        chart = app_client.get(f"{API}/runs/{run_id}/charts/{section['id']}")
        assert chart.status_code == 200, (section["id"], chart.text)
        assert compiles(chart.json()), section["id"]
        assert len(chart.content) < 400_000, section["id"]  # bounded
    # When the report is fetched
    report = app_client.get(f"{API}/runs/{run_id}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    page = report.text
    # Then it is self-contained: the Vega bundle inline, no external script, a chart a section
    assert "vegaEmbed" in page and "<script src" not in page
    embedded = json.loads(re.search(r"const specs = (.*);\n", page).group(1))  # type: ignore[union-attr]
    assert len(embedded) >= len(sections)
    assert all(unit["name"] in page for unit in catalogue["units"])
    # When the ZIP is exported
    archive = open_zip(app_client.get(f"{API}/runs/{run_id}/export"))
    names = set(archive.namelist())
    # Then it holds the README, the manifest, the result, the run, the report and every table
    # as CSV and Parquet, with the memberships keyed by the ID column
    assert {"README.md", "manifest.json", "results.json", "run.json", "report.html"} <= names
    tables = {n[: -len(".csv")] for n in names if n.endswith(".csv")}
    assert {f"{t}.parquet" for t in tables} <= names
    # and no empty file: every CSV has a row under its header (the DCM without product
    # features used to hold an empty product_feature_effects.csv)
    assert all(archive.getinfo(n).file_size > 0 for n in names)
    assert all(len(archive.read(f"{t}.csv").splitlines()) > 1 for t in tables), tables
    assert {"closest_competitors", "product_map", "dendrogram"} <= tables
    if spec.household_outputs:
        members = pd.read_csv(io.BytesIO(archive.read("memberships.csv")))
        assert members.columns[0] == "household_id"
    readme = archive.read("README.md").decode()
    manifest = {m["file"] for m in json.loads(archive.read("manifest.json"))}
    for name in names - {"README.md"} - {n for n in names if n.endswith(".parquet")}:
        assert f"`{name}`" in readme and name in manifest, name
    assert (
        json.loads(archive.read("results.json"))
        == app_client.get(f"{API}/runs/{run_id}/results").json()
    )


def test_labels_are_stored_with_the_run_and_used_everywhere(app_client: httpx.Client) -> None:
    # Given a finished segmentation
    run_id = stored_run("lca")
    assert app_client.get(f"{API}/runs/{run_id}").json()["labels"] == {}
    # When two segments are named (with stray spaces)
    response = app_client.patch(
        f"{API}/runs/{run_id}",
        json={"labels": {"Class 1": "  Busy families ", "Class 3": "Foodies"}},
    )
    # Then the run shows them, trimmed
    assert response.status_code == 200, response.text
    assert response.json()["labels"] == {"Class 1": "Busy families", "Class 3": "Foodies"}
    assert app_client.get(f"{API}/runs/{run_id}").json()["labels"]["Class 1"] == "Busy families"
    # and the charts use them
    catalogue = app_client.get(f"{API}/runs/{run_id}/charts").json()
    assert [u["name"] for u in catalogue["units"]] == ["Busy families", "Segment 2", "Foodies"]
    sizes = app_client.get(f"{API}/runs/{run_id}/charts/sizes").json()
    shown = {r["Segment"] for data in sizes["datasets"].values() for r in data}
    assert shown == {"Busy families", "Segment 2", "Foodies"}
    compared = app_client.get(
        f"{API}/runs/{run_id}/charts/comparison", params={"units": "Class 1,Class 3"}
    ).json()
    assert "Foodies" in json.dumps(compared) and "Segment 2" not in json.dumps(compared["datasets"])
    # and the report
    assert "Busy families" in app_client.get(f"{API}/runs/{run_id}/report").text
    # and every file of the ZIP
    archive = open_zip(app_client.get(f"{API}/runs/{run_id}/export", params={"report": "false"}))
    assert "report.html" not in archive.namelist()
    assert json.loads(archive.read("labels.json")) == {
        "Class 1": "Busy families",
        "Class 3": "Foodies",
    }
    profile = pd.read_csv(io.BytesIO(archive.read("class_profile.csv")))
    assert list(profile.columns) == ["product", "Busy families", "Segment 2", "Foodies"]
    classes = pd.read_csv(io.BytesIO(archive.read("classes.csv")))
    assert list(classes["class"]) == ["Busy families", "Segment 2", "Foodies"]
    members = pd.read_parquet(io.BytesIO(archive.read("memberships.parquet")))
    assert {"P(Busy families)", "P(Foodies)", "Segment"} <= set(members.columns)
    assert set(members["Segment"]) <= {"Busy families", "Segment 2", "Foodies"}
    assert "Busy families" in archive.read("README.md").decode()
    # When a name is cleared, the segment gets its default back
    cleared = app_client.patch(f"{API}/runs/{run_id}", json={"labels": {"Class 1": " "}})
    assert cleared.json()["labels"] == {}


def test_labels_are_checked_against_the_runs_units(app_client: httpx.Client) -> None:
    run_id = stored_run("network")
    unknown = app_client.patch(f"{API}/runs/{run_id}", json={"labels": {"Class 1": "x"}})
    assert unknown.status_code == 422
    assert "'Class 1' is not a unit of this run" in unknown.json()["detail"]
    assert '"Community 1"' in unknown.json()["detail"]
    too_long = app_client.patch(f"{API}/runs/{run_id}", json={"labels": {"Community 1": "x" * 81}})
    assert too_long.status_code == 422 and "80" in too_long.json()["detail"]
    named = app_client.patch(f"{API}/runs/{run_id}", json={"labels": {"Community 1": "Fresh"}})
    assert named.status_code == 200
    nodes = open_zip(app_client.get(f"{API}/runs/{run_id}/export", params={"report": "false"}))
    communities = pd.read_csv(io.BytesIO(nodes.read("nodes.csv")))["community"]
    assert "Fresh" in set(communities)


def test_chart_options_and_formats_are_refused_with_a_sentence(app_client: httpx.Client) -> None:
    run_id = stored_run("lca")
    bad = app_client.get(f"{API}/runs/{run_id}/charts/profile", params={"measure": "lift"})
    assert bad.status_code == 422 and "measure is one of probability, index" in bad.json()["detail"]
    missing = app_client.get(f"{API}/runs/{run_id}/charts/scree")
    assert missing.status_code == 404 and "sizes, profile" in missing.json()["detail"]
    docx = app_client.get(f"{API}/runs/{run_id}/export", params={"format": "docx"})
    assert docx.status_code == 422 and "zip or pptx" in docx.json()["detail"]
    clustered = app_client.get(
        f"{API}/runs/{run_id}/charts/product_map", params={"colour": "clusters"}
    )
    assert clustered.status_code == 200 and "Cluster 1" in clustered.text


def test_a_run_with_many_households_gets_its_report_and_zip(app_client: httpx.Client) -> None:
    """Household charts are bounded by the builders (MAX_HOUSEHOLDS), not by Altair's 5,000-row
    guard: 3,000 households × 3 factors drawn long is 9,000 rows, and the export used to 500."""
    run_id = stored_run("factor_tetrachoric", repeat_rows=80)
    assert app_client.get(f"/api/v1/runs/{run_id}/report").status_code == 200
    assert app_client.get(f"/api/v1/runs/{run_id}/export").status_code == 200

