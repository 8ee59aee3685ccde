"""The app's rough edges of issue 16, each with the test that would have caught it: data
preparation (stray values, counts, derived columns, missing shares, the transaction pivot), the
Data page's form after a new file, the progress panel's words and its end, Compare's first pair,
the run picker's statuses, saved datasets after a reload, settings and warnings in the form's
words, and the MCA headline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.stored import stored_run
from ui.params_form import in_form_words, settings_rows
from ui.prep import binarise_counts, pivot_transactions, quality_report, suggest_roles
from ui.progress_text import default_pair, eta_text, person_message, progress_view

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"

pytestmark = pytest.mark.usefixtures("no_api_token")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


@pytest.fixture
def api(api_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("API_URL", api_url)
    with httpx.Client(base_url=f"{api_url}/api/v1", timeout=60) as c:
        yield c


def households(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"household_id": [f"H{i:04d}" for i in range(n)]})
    for product in ("milk", "bread", "eggs", "beer"):
        frame[product] = (rng.random(n) < 0.4).astype(int)
    frame["region"] = rng.choice(["north", "south"], n)
    return frame


def report_row(frame: pd.DataFrame, column: str) -> dict[str, Any]:
    report = quality_report(frame)
    return {str(k): v for k, v in report[report["Column"] == column].iloc[0].items()}


# -- data preparation ---------------------------------------------------------------------


def test_a_column_with_stray_twos_is_flagged_not_a_feature() -> None:
    frame = households(500)
    frame["coupon"] = (np.arange(len(frame)) % 3 == 0).astype(int)
    frame.loc[:29, "coupon"] = 2  # 30 stray "2"s
    row = report_row(frame, "coupon")
    assert (
        row["Check"] == "not 0/1: 30 value(s) of 2" and row["Suggested use"] != "Household feature"
    )
    assert "coupon" not in suggest_roles(frame).covariates


def test_a_counts_file_is_recognised_and_turned_into_zero_one() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"id": range(100), **{p: rng.poisson(0.8, 100) for p in "abcd"}})
    assert all("purchase counts" in report_row(frame, p)["Check"] for p in "abcd")
    binary = binarise_counts(frame, list("abcd"), 2)
    assert set(binary["a"].dropna()) <= {0, 1}
    assert int(binary["a"].sum()) == int((frame["a"] >= 2).sum())
    assert suggest_roles(binary).products == list("abcd")


def test_the_number_of_products_bought_is_flagged_as_derived() -> None:
    frame = households()
    frame["n_bought"] = frame[["milk", "bread", "eggs", "beer"]].sum(axis=1)
    row = report_row(frame, "n_bought")
    assert "derived" in row["Check"] and row["Suggested use"] != "Household feature"


def test_a_feature_with_some_missing_is_flagged_not_ok() -> None:
    frame = households(500)
    frame["income"] = np.linspace(10, 90, 500)
    frame.loc[: int(0.178 * 500) - 1, "income"] = np.nan
    row = report_row(frame, "income")
    assert row["Check"] == "17.8% missing" and row["Suggested use"] == "Household feature"


def test_the_pivot_keeps_households_without_purchases_and_their_features() -> None:
    # Given a transaction file where two customers bought nothing (an empty product) and the
    # region repeats on every row of a customer
    rows = [("C1", "milk", "north"), ("C1", "bread", "north"), ("C2", "milk", "south"),
            ("C3", None, "south"), ("C4", None, "north")]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "region"])
    wide = pivot_transactions(frame, "customer_id", "product")
    # Then every customer is a household, the empty ones with 0s, and the region comes along
    assert list(wide["customer_id"]) == ["C1", "C2", "C3", "C4"]
    assert wide.attrs["no_purchase"] == 2 and wide.attrs["features"] == ["region"]
    assert list(wide["milk"]) == [1, 1, 0, 0] and list(wide["region"])[2] == "south"


def test_a_new_file_replaces_the_previous_files_choices(backend_down: None) -> None:
    # Given a first file whose products the person narrowed down
    at = app().run()
    first = households().to_csv(index=False).encode()
    at.file_uploader[0].upload("first.csv", first, "text/csv")
    at.run()
    at.multiselect(key="prep.products").set_value(["milk"]).run()
    # When a second file with other columns is uploaded
    second = households().rename(columns={"milk": "tea", "bread": "jam"})
    at.file_uploader[0].upload("second.csv", second.to_csv(index=False).encode(), "text/csv")
    at.run()
    # Then the form offers the second file's columns and name, nothing of the first
    assert not at.exception, at.exception
    assert at.multiselect(key="prep.products").value == ["tea", "jam", "eggs", "beer"]
    assert at.text_input(key="prep.name").value == "second.csv"


def test_a_counts_file_is_offered_zero_one(backend_down: None) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"household_id": [f"H{i}" for i in range(80)],
                          **{p: rng.poisson(0.9, 80) for p in ("tea", "jam", "soap")}})  # fmt: skip
    at = app().run()
    at.file_uploader[0].upload("counts.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception, at.exception
    assert at.toggle(key="prep.counts").value is True
    assert {m.label: m.value for m in at.metric}["0/1 product columns"] == "3"
    assert at.multiselect(key="prep.products").value == ["tea", "jam", "soap"]


# -- progress, compare, words -------------------------------------------------------------


def test_the_progress_panel_ends_when_the_record_does_and_reads_like_a_person() -> None:
    sweep_said = {"phase": "fitting", "progress": 0.0, "message": "0 of 5 fits done."}
    # A run whose record has ended redraws the page, whatever its last snapshot said
    assert progress_view(sweep_said, {"status": "completed", "child_ids": ["a"] * 5}).ended
    # One whose snapshot ended before the record: finishing, and no cancel beside it
    done = progress_view({"phase": "completed", "progress": 1.0}, {"status": "running"})
    assert done.finishing and not done.can_cancel and not done.ended
    # A start search in plain words
    lca = {"message": "Start 5 of 10 converged after 47 iterations: log-likelihood -5,383.18.",
           "details": {"n_init": 10, "converged": 4, "at_best": 2}}  # fmt: skip
    assert person_message(lca) == "Trying 10 starting points: 4 done, best so far found twice."
    # No "estimating" after three seconds: the pace so far gives the time left
    assert eta_text({"eta_seconds": None, "elapsed_seconds": 1.0}) == "estimating time left…"
    assert eta_text({"eta_seconds": None, "elapsed_seconds": 10.0, "progress": 0.5}) == (
        "about 10 s left"
    )


def test_compare_opens_on_two_runs_of_the_same_model() -> None:
    runs = [{"id": "mca", "model_type": "mca", "dataset_id": "d"},
            {"id": "lca2", "model_type": "lca", "dataset_id": "d"},
            {"id": "lca1", "model_type": "lca", "dataset_id": "d"}]  # fmt: skip
    assert default_pair(runs[1:] + runs[:1]) == ["lca2", "lca1"]
    assert default_pair(runs) == ["mca", "lca2"]  # nothing alike: the two newest


def test_settings_and_warnings_use_the_forms_words() -> None:
    assert in_form_words("Only one start reached it. Increase n_init.") == (
        "Only one start reached it. Increase “Random starts”."
    )
    rows = settings_rows({"n_classes": 3, "n_init": 10, "tol": 1e-06})
    assert rows[1] == {"Setting": "Random starts", "Value": "10"}
    assert all("{" not in r["Value"] for r in rows)


# -- pages against the API ----------------------------------------------------------------


def test_the_run_picker_says_done_and_failed(api: httpx.Client) -> None:
    done = stored_run("lca", name="finished segments")
    failed = stored_run("lca", name="broken segments")
    from backend.db import session_scope
    from backend.orm import Run

    with session_scope() as session:
        run = session.get(Run, failed)
        assert run is not None
        run.status, run.error = "failed", "It broke."
    at = app()
    at.session_state["run_id"] = done
    at.run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    picker = next(b for b in at.selectbox if b.label == "Run")
    shown = dict(zip(picker.options, [o for o in picker.options], strict=True))
    assert any(o.startswith("finished segments") and o.endswith("Done") for o in shown)
    assert any(o.startswith("broken segments") and o.endswith("Failed") for o in shown)
    assert not any("Running" in o for o in shown if "segments" in o)
    # and the settings are a table, not JSON
    assert not at.json


def test_new_analysis_after_a_reload_offers_the_saved_datasets(api: httpx.Client) -> None:
    stored_run("lca", name="has a dataset")  # saves a dataset too
    at = app().run()
    at.switch_page("views/new_analysis.py").run()
    assert not at.exception, at.exception
    assert "Choose one of your saved datasets" in at.info[0].value
    picker = at.selectbox(key="form.saved_dataset")
    picker.set_value(picker.options and api.get("/datasets").json()["items"][0]["id"]).run()
    assert not at.exception, at.exception
    assert at.session_state["dataset"] is not None


def test_the_mca_headline_is_the_share_the_map_shows(api: httpx.Client) -> None:
    from tests.ui.fixtures import result

    run_id = stored_run("mca")
    at = app()
    at.session_state["run_id"] = run_id
    at.run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    pct = result("mca")["summary"]
    raw = sum(float(r["percent_inertia"]) for r in pct[:2])
    assert metrics["Shown by the first two dimensions"] == f"{raw:.1f}%"


def _basket() -> None:
    from ui.components import basket_panel
    from ui.prep import basket_from_api

    payload = {
        "products": ["milk", "bread"], "penetration": [0.5, 0.4], "buyers": [50, 40],
        "pair_buyers": [[50, 20], [20, 40]], "duplication": [[None, 0.4], [0.5, None]],
        "lift": [[None, 1.0], [1.0, None]],
    }  # fmt: skip
    basket_panel(basket_from_api(payload))


def test_the_duplication_tables_diagonal_reads_as_a_dash_not_null() -> None:
    at = AppTest.from_function(_basket).run()
    assert not at.exception, at.exception
    duplication = at.dataframe[-1].value
    assert [duplication.iat[k, k] for k in range(2)] == ["—", "—"]
    assert duplication.iat[0, 1] == "40%"


def test_compare_opens_on_the_two_newest_segmentations(api: httpx.Client) -> None:
    # Given a segmentation, then a product map, then another segmentation (newest)
    older = stored_run("lca", name="segments, take one")
    stored_run("mca", name="a product map")
    newer = stored_run("lca", name="segments, take two")
    # When Compare opens
    at = app().run()
    at.switch_page("views/compare.py").run()
    # Then it puts the two segmentations side by side, not the newest beside the map
    assert not at.exception, at.exception
    assert at.multiselect(key="compare.runs").value == [newer, older]


def test_the_segments_page_puts_segments_and_products_on_one_map(api: httpx.Client) -> None:
    from tests.ui.test_panels import charts, panel

    at = panel(stored_run("lca"))
    drawn = [rows for rows in charts(at) if any(r.get("Kind") == "unit" for r in rows)]
    assert drawn, "no segments-and-products map on the page"
    kinds = {r["Kind"] for r in drawn[0]}
    assert kinds == {"unit", "product"}
