"""Reading the API's export ZIP (ui/bundle.py), the sweep form helpers, the headline
statistic and the embedded stack's switch, alone."""

from __future__ import annotations

import io
import zipfile

import pytest

from backend.families import family
from backend.presentation.export import Bundle, zip_bundle
from backend.presentation.names import units
from backend.presentation.tables import memberships, result_tables
from tests.ui.fixtures import result, rows
from ui import bundle
from ui.families import headline
from ui.params_form import specs_from_schema, sweep_value, sweepable

NAMES = {"Class 1": "Busy families", "Class 2": "Health first"}


def test_the_apps_tables_are_the_zips_tables_with_their_descriptions() -> None:
    # Given the ZIP the API builds for a named segmentation
    spec, res = family("lca"), result("lca")
    shown = units(spec, res, NAMES)
    tables = result_tables("lca", res, NAMES)
    members = memberships(rows("lca"), shown)
    built = zip_bundle(Bundle(spec=spec, run={"id": "r1", "name": "Spring", "model_type": "lca"},
                              result=res, units=shown, labels=NAMES, tables=tables,
                              memberships=members))
    # When the app reads it
    read = bundle.tables(built)
    # Then it has every table, in the ZIP's order, with the README's description, types kept
    assert list(read) == [*tables, "memberships"]
    assert read["class_profile"].frame.equals(tables["class_profile"])
    assert "Busy families" in read["class_profile"].frame.columns
    assert read["memberships"].description.startswith("One row per household")
    assert "segments by name" in read["memberships"].description
    # and any one file comes out as it is in the ZIP
    csv = bundle.read_file(built, "memberships.csv").decode()
    assert csv.splitlines()[0].startswith("household_id,P(Busy families),P(Health first)")
    with zipfile.ZipFile(io.BytesIO(built)) as archive:
        assert bundle.read_file(built, "README.md") == archive.read("README.md")


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
    assert headline({"bic": 1234.56, "loglik": -600.0}) == ("BIC", "1,234.6")
    assert headline({}) == ("", "—")
    assert headline(None) == ("", "—")


def test_the_embedded_stack_starts_only_when_nothing_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui import embedded

    monkeypatch.delenv("EMBEDDED_STACK", raising=False)
    assert embedded.wanted(None)
    assert not embedded.wanted("http://api.example.com")
    monkeypatch.setenv("EMBEDDED_STACK", "0")
    assert not embedded.wanted(None)
    # and it is the API, the worker and Redis only: this app is the UI
    assert embedded._command()[-2:] == ["up", "--no-ui"]
