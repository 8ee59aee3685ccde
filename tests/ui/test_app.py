"""Page logic with Streamlit's AppTest: the router, empty states, a backend that is down, the
Data page's preparation, and the whole demo → analysis → named segments flow against the real
API and worker; every model family's Results page; Compare, Exports and the runs list."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from ui.demo import COVARIATES, PRODUCTS, demo_frame

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
PAGES = [
    "views/data.py",
    "views/new_analysis.py",
    "views/runs.py",
    "views/results.py",
    "views/compare.py",
    "views/exports.py",
]
TIMEOUT = 30

pytestmark = pytest.mark.usefixtures("no_api_token")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    """Everything a person reads on the page, as one string."""
    parts = [
        e.value
        for kind in (
            "title",
            "subheader",
            "markdown",
            "caption",
            "info",
            "error",
            "warning",
            "success",
        )
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def shown(markdown: str) -> str:
    """Markdown as a reader sees it: backslash escapes read, word joiners gone (names and the
    API's sentences are escaped, ui.formatting.escape_markdown)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_rows(at: AppTest) -> list[dict[str, Any]]:
    """Every data row of every chart on the page (Streamlit sends them as Arrow tables)."""
    rows: list[dict[str, Any]] = []
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            table = pa.ipc.open_stream(dataset.data.data).read_all()
            rows += table.to_pylist()
    return rows


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


@pytest.fixture
def backend_up(monkeypatch: pytest.MonkeyPatch, live_stack: str) -> str:
    monkeypatch.setenv("API_URL", live_stack)
    return live_stack


def load_demo(at: AppTest) -> AppTest:
    at.session_state["data.source"] = "demo"
    at.run()
    button(at, "Use the demo data").click()
    return at.run()


# -- without a backend --------------------------------------------------------------------


def test_router_opens_on_the_data_page_with_an_upload_widget(backend_down: None) -> None:
    # When the app opens
    at = app().run()
    # Then the data page asks for a file, with the right formats, and says how to begin
    assert not at.exception
    assert at.title[0].value == "Your purchase data"
    (uploader,) = at.file_uploader
    assert set(uploader.allowed_type) == {".csv", ".xlsx", ".parquet"}
    assert [i.value for i in at.info] == ["Upload a file, or try the demo data, to begin."]


def test_every_page_is_registered_with_the_router(backend_down: None) -> None:
    at = app().run()
    for page in PAGES:
        at.switch_page(page).run()  # raises if st.navigation does not know the page
        assert not at.exception, page


def test_backend_down_shows_a_friendly_message_not_a_traceback(backend_down: None) -> None:
    # Given no API at API_URL
    at = app().run()
    # Then the sidebar says so
    assert any("Service offline" in str(m.value) for m in at.sidebar.markdown)
    # and the pages that need the API explain, without an exception
    for page in ("views/results.py", "views/runs.py", "views/compare.py", "views/exports.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.error, page
        message = at.error[0].value
        assert "not reachable" in message and "market-structure up" in message, page
        assert "Traceback" not in message


def test_new_analysis_without_data_points_back_to_upload(backend_down: None) -> None:
    at = app().run()
    at.switch_page("views/new_analysis.py").run()
    assert not at.exception
    assert "Upload a file to begin" in at.info[0].value
    assert at.button == [] or all("Start" not in b.label for b in at.button)


def test_demo_data_is_prepared_with_suggested_roles_and_a_quality_report(
    backend_down: None,
) -> None:
    # When a first-time visitor takes the demo data
    at = load_demo(app().run())
    assert not at.exception
    # Then they see its size, the quality report and the suggested columns
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Households"] == "2,000"
    assert metrics["0/1 product columns"] == "24"
    report = at.dataframe[0].value
    assert list(report.columns)[:3] == ["Column", "Type", "Penetration"]
    assert at.selectbox(key="prep.id").value == "household_id"
    assert at.multiselect(key="prep.products").value == PRODUCTS
    assert at.multiselect(key="prep.features").value == COVARIATES
    # When they raise the minimum penetration, rare products are left out
    at.slider(key="prep.min_pen").set_value(30.0).run()
    assert "below 30.0%" in texts(at)
    # And saving without a backend explains itself
    button(at, "Save as dataset").click().run()
    assert not at.exception
    assert "not reachable" in at.error[0].value


def test_a_transaction_file_is_pivoted_before_saving(backend_down: None) -> None:
    # Given a long file: one row per purchase
    rows = ["customer_id,product,quantity"] + [
        f"C{i % 40},{p},{1 + i % 3}" for i, p in enumerate(["milk", "bread", "beer"] * 60)
    ]
    at = app().run()
    at.file_uploader[0].upload("baskets.csv", "\n".join(rows).encode(), "text/csv")
    at.run()
    # Then it is recognised and turned into one row per customer
    assert not at.exception
    assert "looks like a transaction file" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Households"] == "40"
    assert metrics["0/1 product columns"] == "3"
    assert at.selectbox(key="prep.id").value == "customer_id"


# -- with the real API and worker ---------------------------------------------------------


def wait_until(at: AppTest, text: str, timeout: float = 60) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if text in texts(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not shown within {timeout} s:\n{texts(at)}")


def test_demo_to_named_segments(backend_up: str) -> None:
    # Given the demo data saved as a dataset
    at = load_demo(app().run())
    button(at, "Save as dataset").click().run()
    assert not at.exception, at.exception
    dataset = at.session_state["dataset"]
    assert dataset["n_rows"] == 2000
    # When the person goes on to set up an analysis
    button(at, "Next: set up an analysis").click().run()
    assert at.title[0].value == "New analysis"
    # Then the columns chosen on the Data page are used, and segments are the first model
    assert at.selectbox(key="form.id_column").value == "household_id"
    assert at.multiselect(key="form.products").value == PRODUCTS
    assert at.radio(key="form.model_type").value == "lca"
    # When they ask for 5 segments (few starts, a fixed seed) and start
    at.number_input(key="form.params.lca.n_classes").set_value(5)
    at.number_input(key="form.params.lca.n_init").set_value(2)
    at.number_input(key="form.params.lca.random_state").set_value(7)
    at.run()
    button(at, "Start analysis").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Results"
    # Then, once the worker is done, the segments are shown
    wait_until(at, "Segment sizes")
    assert {m.label: m.value for m in at.metric}["Segments"] == "5"
    assert len(specs(at)) >= 2
    assert {"Segment 1", "Segment 5"} <= {r.get("Segment") for r in chart_rows(at)}
    # When they name the first segment
    run_id = at.session_state["run_id"]
    at.text_input(key=f"label.{run_id}.Class 1").set_value("Busy families")
    next(b for b in at.button if b.label == "Save names").click().run()
    # Then the name is stored with the run, and used in the charts and tables
    assert not at.exception, at.exception
    with httpx.Client(base_url=f"{backend_up}/api/v1") as api:
        assert api.get(f"/runs/{run_id}").json()["labels"] == {"Class 1": "Busy families"}
    assert "Busy families" in {r.get("Segment") for r in chart_rows(at)}
    table = at.dataframe[0].value
    assert "Busy families" in list(table.columns)


def test_form_survives_a_visit_elsewhere_and_sweeps_send_a_range(
    backend_up: str, client: httpx.Client
) -> None:
    sim = simulate_lca(n=150)
    at = app().run()
    at.file_uploader[0].upload("small.csv", sim.csv(), "text/csv")
    at.run()
    button(at, "Save as dataset").click().run()
    at.switch_page("views/new_analysis.py").run()
    # When the person makes a product column the ID
    at.selectbox(key="form.id_column").set_value("prod_1").run()
    # Then it leaves the products
    assert at.multiselect(key="form.products").value == sim.products[1:]
    # When they pick the real ID again (a 0/1 column is refused as an ID by the API), drop a
    # product, set 5 segments, look at another page and come back
    at.selectbox(key="form.id_column").set_value("household_id").run()
    assert at.multiselect(key="form.products").value == sim.products
    at.multiselect(key="form.products").set_value(sim.products[1:]).run()
    at.number_input(key="form.params.lca.n_classes").set_value(5).run()
    at.switch_page("views/runs.py").run()
    at.switch_page("views/new_analysis.py").run()
    # Then the form is as they left it
    assert not at.exception
    assert at.selectbox(key="form.id_column").value == "household_id"
    assert at.multiselect(key="form.products").value == sim.products[1:]
    assert at.number_input(key="form.params.lca.n_classes").value == 5
    # When they compare 2 to 3 segments instead and start
    at.toggle(key="form.params.lca.sweep").set_value(True).run()
    at.slider(key="form.params.lca.range").set_range(2, 3)
    at.number_input(key="form.params.lca.n_init").set_value(1)
    at.run()
    button(at, "Start analysis").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Results", texts(at)
    # Then one run per number of segments is started under one parent
    run = client.get(f"/runs/{at.session_state['run_id']}").json()
    assert len(run["child_ids"]) == 2
    assert wait_for(client, run["id"], timeout=60)["status"] == "completed"
    at.switch_page("views/results.py")  # AppTest reruns the page it last switched to
    # BIC is lowest at 3, the top of the range asked for: the sweep also fitted 4 to see it rise
    wait_until(at, "Compared 3 numbers of segments")


FAMILIES: dict[str, dict[str, Any]] = {
    "lca_covariates": {"n_classes": 3, "n_init": 2, "random_state": 1},
    "factor_tetrachoric": {"n_factors": 3, "n_parallel": 5, "random_state": 1},
    "mca": {"n_components": 3},
    "nmf": {"n_components": [3, 4, 5], "random_state": 1},
}


@pytest.fixture(scope="module")
def family_runs(live_stack: str) -> dict[str, str]:
    """One finished run per model family on the demo data."""
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=60) as c:
        data = demo_frame(n=600).to_csv(index=False).encode()
        dataset = c.post("/datasets", files={"file": ("demo.csv", data)}).json()
        ids = {}
        for model_type, params in FAMILIES.items():
            body = {
                "model_type": model_type,
                "name": f"demo {model_type}",
                "params": params,
                "dataset_id": dataset["id"],
                "product_columns": PRODUCTS,
                "id_column": "household_id",
            }
            if model_type == "lca_covariates":
                body["covariate_columns"] = COVARIATES
            response = c.post("/runs", json=body)
            assert response.status_code == 202, response.text
            ids[model_type] = response.json()["id"]
        for run_id in ids.values():
            assert wait_for(c, run_id, timeout=90)["status"] == "completed"
    return ids


EXPECTED_TABS = {
    "lca_covariates": ["Segments", "Who they are", "Compare segments", "Model checks"],
    "factor_tetrachoric": ["Loadings", "How many factors", "Household scores", "Fit details"],
    "mca": ["Map", "Inertia", "Categories"],
    "nmf": ["Top products", "Weights", "How many", "Details"],
}


@pytest.mark.parametrize("model_type", list(FAMILIES))
def test_results_page_draws_each_family(
    backend_up: str, family_runs: dict[str, str], model_type: str
) -> None:
    # Given a finished run of this family
    at = app()
    at.session_state["run_id"] = family_runs[model_type]
    at.run()
    at.switch_page("views/results.py").run()
    # Then its own panel is drawn, not the generic tables, with the every-model product views
    assert not at.exception, at.exception
    assert "no dedicated view" not in texts(at)
    assert not at.warning or all("could not be drawn" not in w.value for w in at.warning)
    labels = [t.label for t in at.tabs]
    assert labels[: len(EXPECTED_TABS[model_type])] == EXPECTED_TABS[model_type]
    assert "Dendrogram" in labels and "Closest competitors" in labels
    assert len(specs(at)) >= 3
    # and the product map can be coloured by the API's product clusters
    if model_type != "mca":
        at.segmented_control(key=f"chart.{family_runs[model_type]}.product_map.colour").set_value(
            "clusters"
        ).run()
        assert not at.exception, at.exception
        assert "clusters of products found by k-means" in texts(at)
    # with the dataset's basket statistics from the API
    assert any("Lift" in d.value.columns for d in at.dataframe)


def test_compare_and_exports_pages(backend_up: str, family_runs: dict[str, str]) -> None:
    at = app()
    at.session_state["compare.runs"] = [
        family_runs["lca_covariates"],
        family_runs["factor_tetrachoric"],
    ]
    at.run()
    at.switch_page("views/compare.py").run()
    assert not at.exception, at.exception
    fit = at.dataframe[0].value
    assert list(fit.columns) == ["demo lca_covariates", "demo factor_tetrachoric"]
    assert "BIC" in fit.index
    assert len(specs(at)) >= 4  # profiles and maps of both
    # Exports of the first: every table, the memberships, the ZIP and the report
    at.session_state["run_id"] = family_runs["lca_covariates"]
    at.switch_page("views/exports.py").run()
    assert not at.exception, at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Download ZIP", "Download report", "CSV", "Parquet"} <= set(labels)
    assert "**Coefficients** ·" in texts(at)  # the ZIP's tables, one by one


def test_runs_page_lists_runs_and_deletes_after_confirming(
    backend_up: str, client: httpx.Client
) -> None:
    # Given a finished run
    dataset = upload(client, simulate_lca(n=200).csv()).json()
    run = wait_for(client, submit_lca(client, dataset["id"], name="to delete", n_init=1)["id"])
    # When the person opens the runs page
    at = app().run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    assert "**to delete**" in texts(at)
    assert "BIC **" in texts(at)  # the key fit statistic
    # When they rename it
    at.text_input(key=f"rename-{run['id']}").set_value("renamed run")
    at.button(key=f"save-name-{run['id']}").click().run()
    assert client.get(f"/runs/{run['id']}").json()["name"] == "renamed run"
    # and ask to delete it, then confirm
    at.button(key=f"delete-{run['id']}").click().run()
    assert at.button(key=f"really-{run['id']}").label == "Delete for good"
    at.button(key=f"really-{run['id']}").click().run()
    # Then it is gone
    assert not at.exception
    assert client.get(f"/runs/{run['id']}").status_code == 404
    assert "**renamed run**" not in texts(at)


def test_runs_page_cancels_a_live_run(backend_up: str, client: httpx.Client) -> None:
    # Given a run long enough to still be going
    dataset = upload(client, demo_frame(n=20000).to_csv(index=False).encode()).json()
    run = submit_lca(
        client, dataset["id"], name="long", n_init=1000, tol=1e-12, max_iter=20000, n_classes=8
    )
    at = app().run()
    at.switch_page("views/runs.py").run()
    # When the person cancels it
    at.button(key=f"cancel-{run['id']}").click().run()
    assert not at.exception
    # Then it ends as cancelled
    assert wait_for(client, run["id"], timeout=60)["status"] == "cancelled"


def test_a_refused_dataset_shows_the_apis_reason(backend_up: str) -> None:
    # Given a file the API refuses (one row)
    at = app().run()
    at.file_uploader[0].upload("tiny.csv", b"a,b\n1,0\n", "text/csv")
    at.run()
    at.multiselect(key="prep.products").set_value(["a", "b"])
    at.slider(key="prep.min_pen").set_value(0.0).run()
    # When it is saved
    button(at, "Save as dataset").click().run()
    # Then the API's own sentence is shown, with no traceback, and no dataset is taken
    assert not at.exception
    (error,) = at.error
    assert error.value and "Traceback" not in error.value
    assert at.session_state["dataset"] is None


def test_an_unreadable_file_is_explained(backend_down: None) -> None:
    at = app().run()
    at.file_uploader[0].upload("broken.xlsx", b"not a spreadsheet", "application/octet-stream")
    at.run()
    assert not at.exception
    assert "Couldn't read broken.xlsx" in shown(at.error[0].value)


def test_a_saved_dataset_is_picked_again(backend_up: str, client: httpx.Client) -> None:
    # Given a dataset saved earlier
    dataset = upload(client, simulate_lca(n=120).csv(), name="earlier upload").json()
    # When the person picks it among the saved datasets
    at = app().run()
    at.session_state["data.source"] = "earlier"
    at.run()
    at.selectbox(key="data.earlier").set_value(dataset["id"]).run()
    # Then it becomes the dataset to analyse
    assert not at.exception, at.exception
    assert at.session_state["dataset"]["id"] == dataset["id"]
    assert "earlier upload" in texts(at)
    assert button(at, "Next: set up an analysis")
    # and its basket statistics come from the API
    assert any("Lift" in d.value.columns for d in at.dataframe)
