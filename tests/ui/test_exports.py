"""Exports, the HTML report, the labels store and the sweep form helpers, alone."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.ui.fixtures import result, rows
from ui import labels
from ui.exports import memberships, result_tables, to_parquet, zip_bundle
from ui.families import display_names, headline
from ui.params_form import specs_from_schema, sweep_value, sweepable
from ui.report import html_report, report_sections

NAMES = {"Class 1": "Busy families", "Class 2": "Health first", "Class 3": "Party people"}


def run_record(model_type: str) -> dict[str, object]:
    return {"id": "run123456", "name": "Spring study", "model_type": model_type,
            "product_columns": result(model_type)["products"], "id_column": "household_id",
            "created_at": "2026-03-01T09:05:00Z"}


@pytest.mark.parametrize("family", ["lca", "lca_covariates", "factor_tetrachoric", "mca", "nmf",
                                    "lda", "network", "bayesian_factor_vi", "dcm"])
def test_every_family_exports_tables_with_product_map_and_competitors(family: str) -> None:
    res = result(family)
    tables = result_tables(family, res, display_names(family, res))
    assert {"fit_statistics", "product_map", "closest_competitors"} <= set(tables)
    for name, table in tables.items():
        assert len(table.columns), name
        assert isinstance(to_parquet(table), bytes)  # every table is Parquet-safe


def test_labels_name_the_segments_in_every_exported_table_and_memberships() -> None:
    res = result("lca")
    names = display_names("lca", res, NAMES)
    tables = result_tables("lca", res, names)
    assert list(tables["segment_sizes"]["Segment"]) == list(NAMES.values())
    assert list(tables["segment_profiles"].columns)[1:4] == list(NAMES.values())
    members = memberships(rows("lca"), "lca", names)
    assert list(members.columns) == ["household_id", "P(Busy families)", "P(Health first)",
                                     "P(Party people)", "Segment"]
    raw = rows("lca")
    first = raw.iloc[0]
    assert members.iloc[0]["Segment"] == names[int(first["modal_class"]) - 1]


def test_covariate_effects_and_factor_scores_use_the_names() -> None:
    cov = result("lca_covariates")
    tables = result_tables("lca_covariates", cov, display_names("lca_covariates", cov, NAMES))
    assert set(tables["covariate_effects"]["segment"]) <= set(NAMES.values())
    fa = rows("factor_tetrachoric")
    named = memberships(fa, "factor_tetrachoric", ["Breakfast", "Health"])
    assert list(named.columns) == ["household_id", "Breakfast", "Health"]
    nmf = memberships(rows("nmf"), "nmf", ["A", "B", "C"])
    assert list(nmf.columns) == ["household_id", "A", "B", "C", "Component"]
    lda = memberships(rows("lda"), "lda", ["Breakfast", "Treats", "Health"])
    assert list(lda.columns) == ["household_id", "Breakfast", "Treats", "Health", "Mission"]
    bayes = memberships(rows("bayesian_factor_vi"), "bayesian_factor_vi", ["A", "B"])
    assert list(bayes.columns)[1:5] == ["A", "A (sd)", "A (94% low)", "A (94% high)"]


def test_zip_bundle_holds_every_table_memberships_report_and_a_readme() -> None:
    res = result("lca")
    names = display_names("lca", res, NAMES)
    tables = result_tables("lca", res, names)
    members = memberships(rows("lca"), "lca", names)
    data = zip_bundle(run_record("lca"), res, tables, names, NAMES, members, "<html></html>")
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = set(archive.namelist())
    for name in [*tables, "memberships"]:
        assert {f"{name}.csv", f"{name}.parquet"} <= files
    assert {"README.md", "results.json", "run.json", "labels.json", "report.html"} <= files
    readme = archive.read("README.md").decode()
    assert "Busy families" in readme and "`memberships.csv`" in readme
    assert "`segment_profiles.csv` — Products × segments" in readme
    back = pd.read_parquet(io.BytesIO(archive.read("memberships.parquet")))
    assert "P(Busy families)" in back.columns
    assert json.loads(archive.read("labels.json")) == NAMES


def test_html_report_is_self_contained_with_a_chart_per_section() -> None:
    res = result("lca")
    names = display_names("lca", res, NAMES)
    sections = report_sections("lca", res, names, rows("lca"))
    page = html_report(run_record("lca"), res, names, sections,
                       result_tables("lca", res, names))
    # no external scripts or styles: it works offline, attached to an email
    assert not re.search(r"<script[^>]+src=", page)
    assert "<link" not in page and "cdn." not in page
    assert "vegaEmbed" in page
    assert page.count('<div id="chart') == len(sections) >= 6
    assert "Busy families" in page and "Spring study" in page


@pytest.mark.parametrize("family", ["factor_tetrachoric", "mca", "nmf", "lca_covariates", "lda",
                                    "network", "bayesian_factor_vi", "dcm"])
def test_report_sections_for_other_families(family: str) -> None:
    res = result(family)
    try:
        households = rows(family)
    except FileNotFoundError:
        households = None
    sections = report_sections(family, res, display_names(family, res), households)
    assert len(sections) >= 2
    for section in sections:
        assert isinstance(section.chart.to_dict(), dict)


def test_labels_store_saves_loads_and_forgets(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    assert labels.load("http://api", "r1", path) == {}
    labels.save("http://api", "r1", {"Class 1": " Families ", "Class 2": ""}, path)
    assert labels.load("http://api", "r1", path) == {"Class 1": "Families"}
    assert labels.load("http://other", "r1", path) == {}  # keyed by API address too
    labels.save("http://api", "r1", {}, path)
    assert json.loads(path.read_text()) == {}


def test_labels_store_survives_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text("{not json")
    assert labels.load("http://api", "r1", path) == {}
    labels.save("http://api", "r1", {"Class 1": "A"}, path)
    assert labels.load("http://api", "r1", path) == {"Class 1": "A"}


def test_sweeps_are_ranges_for_sweep_params_and_lists_for_list_params() -> None:
    lca = {"model_type": "lca", "sweep_param": "n_classes", "params_schema": {"properties": {
        "n_classes": {"type": "integer", "minimum": 1, "maximum": 30, "default": 3}}}}
    (spec,) = specs_from_schema(lca["params_schema"])  # type: ignore[arg-type]
    assert sweepable(lca, spec)
    assert sweep_value(lca, spec, 2, 6) == "2-6"
    assert sweep_value(lca, spec, 3, 3) == 3
    nmf = {"model_type": "nmf", "sweep_param": None, "params_schema": {"properties": {
        "n_components": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 50},
                                   {"type": "array", "items": {"type": "integer"}}],
                         "default": 4}}}}
    (spec,) = specs_from_schema(nmf["params_schema"])  # type: ignore[arg-type]
    assert sweepable(nmf, spec)
    assert sweep_value(nmf, spec, 2, 4) == [2, 3, 4]
    mca = {"model_type": "mca", "params_schema": {"properties": {
        "n_components": {"type": "integer", "minimum": 1, "default": 5}}}}
    (spec,) = specs_from_schema(mca["params_schema"])  # type: ignore[arg-type]
    assert not sweepable(mca, spec)


def test_headline_statistic_of_a_run() -> None:
    assert headline("lca", {"bic": 1234.56, "loglik": -600.0}) == ("BIC", "1,234.6")
    assert headline("mca", {}) == ("", "—")
    assert headline("nmf", None) == ("", "—")


def test_the_embedded_stack_starts_only_when_nothing_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui import embedded

    monkeypatch.delenv("EMBEDDED_STACK", raising=False)
    assert embedded.wanted(None)
    assert not embedded.wanted("http://api.example.com")
    monkeypatch.setenv("EMBEDDED_STACK", "0")
    assert not embedded.wanted(None)
