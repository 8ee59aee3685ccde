"""Page logic with Streamlit's AppTest: the router, the empty states, a backend that is down,
and the whole upload → analysis → results flow against the real API and worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from backend.embedded_redis import free_port
from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
PAGES = ["views/data.py", "views/new_analysis.py", "views/results.py", "views/runs.py"]
TIMEOUT = 30


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    """Everything a person reads on the page, as one string."""
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info", "error",
                                  "warning", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def backend_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def backend_up(monkeypatch: pytest.MonkeyPatch, live_stack: str) -> str:
    monkeypatch.setenv("API_URL", live_stack)
    return live_stack


# -- without a backend --------------------------------------------------------------------


def test_router_opens_on_the_data_page_with_an_upload_widget(backend_down: None) -> None:
    # When the app opens
    at = app().run()
    # Then the data page asks for a file, with the right formats, and says how to begin
    assert not at.exception
    assert at.title[0].value == "Your purchase data"
    (uploader,) = at.file_uploader
    assert set(uploader.allowed_type) == {".csv", ".xlsx", ".parquet"}
    assert [i.value for i in at.info] == ["Upload a file to begin."]


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
    for page in ("views/results.py", "views/runs.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert len(at.error) == 1, page
        message = at.error[0].value
        assert "not reachable" in message and "market-structure up" in message
        assert "Traceback" not in message


def test_new_analysis_without_data_points_back_to_upload(backend_down: None) -> None:
    at = app().run()
    at.switch_page("views/new_analysis.py").run()
    assert not at.exception
    assert "Upload a file to begin" in at.info[0].value
    assert at.button == [] or all("Start" not in b.label for b in at.button)


# -- with the real API and worker ---------------------------------------------------------


def layer_marks(spec: dict[str, Any]) -> list[str]:
    return [layer["mark"]["type"] for layer in spec["layer"]]


def wait_until(at: AppTest, text: str, timeout: float = 60) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if text in texts(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not shown within {timeout} s:\n{texts(at)}")


def test_upload_analyse_and_see_the_segments(backend_up: str) -> None:
    sim = simulate_lca(n=600)
    # Given a person on the data page
    at = app().run()
    # When they upload a purchase file
    at.file_uploader[0].upload("households.csv", sim.csv(), "text/csv")
    at.run()
    # Then they see its shape, preview and profile
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Households"] == "600"
    assert metrics["0/1 product columns"] == "8"
    assert at.session_state["dataset"]["name"] == "households.csv"
    profile = at.dataframe[1].value
    assert list(profile["Column"]) == ["household_id", *sim.products]

    # When they go on to set up an analysis
    next(b for b in at.button if b.label == "Next: set up an analysis").click()
    at.run()
    assert at.title[0].value == "New analysis"
    # Then the ID column is guessed and every product is chosen
    assert at.selectbox(key="form.id_column").value == "household_id"
    assert at.multiselect(key="form.products").value == sim.products
    # When they ask for 3 segments (few starts, a fixed seed) and start
    at.number_input(key="form.params.lca.n_classes").set_value(3)
    at.number_input(key="form.params.lca.n_init").set_value(2)
    at.number_input(key="form.params.lca.random_state").set_value(7)
    at.run()
    next(b for b in at.button if b.label == "Start analysis").click()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Results"

    # Then, once the worker is done, the segments are shown
    wait_until(at, "Segment sizes")
    assert {m.label: m.value for m in at.metric}["Segments"] == "3"
    sizes, heatmap = (json.loads(c.proto.spec) for c in at.get("vega_lite_chart"))
    assert layer_marks(sizes) == ["bar", "text"]
    assert layer_marks(heatmap) == ["rect", "text"]
    table = at.dataframe[0].value
    assert list(table.index) == sim.products
    assert list(table.columns) == ["Segment 1", "Segment 2", "Segment 3", "All households"]
    assert at.get("download_button")


def test_the_form_follows_the_id_column_and_survives_a_visit_elsewhere(backend_up: str) -> None:
    sim = simulate_lca(n=100)
    at = app().run()
    at.file_uploader[0].upload("small.csv", sim.csv(), "text/csv")
    at.run()
    at.switch_page("views/new_analysis.py").run()
    # When the person makes a product column the ID
    at.selectbox(key="form.id_column").set_value("prod_1").run()
    # Then it leaves the products
    assert at.multiselect(key="form.products").value == sim.products[1:]
    # When they set 5 segments, look at another page and come back
    at.number_input(key="form.params.lca.n_classes").set_value(5).run()
    at.switch_page("views/runs.py").run()
    at.switch_page("views/new_analysis.py").run()
    # Then the form is as they left it
    assert not at.exception
    assert at.selectbox(key="form.id_column").value == "prod_1"
    assert at.multiselect(key="form.products").value == sim.products[1:]
    assert at.number_input(key="form.params.lca.n_classes").value == 5


def test_runs_page_lists_runs_and_deletes_after_confirming(
    backend_up: str, client: httpx.Client
) -> None:
    # Given a finished run
    dataset = upload(client, simulate_lca(n=200).csv()).json()
    run = wait_for(client, submit_lca(client, dataset["id"], name="to delete", n_init=1)["id"])
    # When the person opens the runs page
    at = app().run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert "**to delete**" in texts(at)
    # and asks to delete it, then confirms
    at.button(key=f"delete-{run['id']}").click().run()
    assert at.button(key=f"really-{run['id']}").label == "Delete for good"
    at.button(key=f"really-{run['id']}").click().run()
    # Then it is gone
    assert not at.exception
    assert client.get(f"/runs/{run['id']}").status_code == 404
    assert "**to delete**" not in texts(at)


def test_runs_page_cancels_a_live_run(backend_up: str, client: httpx.Client) -> None:
    # Given a run long enough to still be going
    dataset = upload(client, simulate_lca(n=3000).csv()).json()
    run = submit_lca(client, dataset["id"], name="long", n_init=1000, tol=1e-12, max_iter=5000)
    at = app().run()
    at.switch_page("views/runs.py").run()
    # When the person cancels it
    at.button(key=f"cancel-{run['id']}").click().run()
    assert not at.exception
    # Then it ends as cancelled
    assert wait_for(client, run["id"], timeout=60)["status"] == "cancelled"


@pytest.fixture(autouse=True)
def _no_leaked_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("API_TOKEN", raising=False)
    yield


def test_a_refused_file_shows_the_apis_reason_once(backend_up: str) -> None:
    # Given a file the API refuses (a header and one row)
    at = app().run()
    at.file_uploader[0].upload("tiny.csv", b"a,b\n1,2\n", "text/csv")
    # When it is uploaded
    at.run()
    # Then the API's own sentence is shown, with no traceback, and no dataset is taken
    assert not at.exception
    (error,) = at.error
    assert error.value and "Traceback" not in error.value
    assert at.session_state["dataset"] is None
    # and a later rerun does not send the file again (the message stays)
    at.run()
    assert [e.value for e in at.error] == [error.value]
