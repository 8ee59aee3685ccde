"""A model family registered from outside (tests/toy_family: one package, one specification
entry, named in EXTRA_FAMILIES) works end to end on a stack of its own: /models lists it, the
app's form offers it and starts it, a run completes on a real worker, its results, assignments,
product map and exports are served and the app's generic results page shows it; and the
executor tells a bug in a fit (KeyError) from bad data."""

from __future__ import annotations

import io
import re
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.embedded_redis import free_port
from tests.support.data import simulate_lca
from tests.support.runs import upload_dataset, wait_for
from tests.support.services import IsolatedStack, start_process
from tests.toy_family import MODEL_TYPE

METRICS_PORT = free_port()


@pytest.fixture(scope="module")
def toy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedStack]:
    tmp = tmp_path_factory.mktemp("toy")
    stack = IsolatedStack(
        tmp, EXTRA_FAMILIES="tests.toy_family:SPEC", WORKER_METRICS_PORT=str(METRICS_PORT)
    )
    stack.start_api()
    # Started the documented way (the Dramatiq master gets the metrics settings too).
    command = [str(Path(sys.executable).parent / "market-structure"), "worker"]
    stack.environment.processes.append(start_process(command, stack.env(), tmp / "worker.log"))
    yield stack
    stack.close()


@pytest.fixture
def toy(toy_stack: IsolatedStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{toy_stack.api_url}/api/v1", timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def dataset_id(toy_stack: IsolatedStack) -> str:
    return upload_dataset(toy_stack.api_url, simulate_lca(n=400, seed=2).csv())


def submit(client: httpx.Client, dataset_id: str, **params: Any) -> dict[str, Any]:
    response = client.post(
        "/runs",
        json={"model_type": MODEL_TYPE, "dataset_id": dataset_id, "params": params,
              "id_column": "household_id"},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return wait_for(client, response.json()["id"], timeout=120)


def test_models_lists_the_toy_with_its_client_view(toy: httpx.Client) -> None:
    served = {m["model_type"]: m for m in toy.get("/models").json()}
    info = served[MODEL_TYPE]
    assert info["title"] == "Popularity tiers (toy)" and info["kind"] == "other"
    assert info["unit"] == "Tier" and info["has_product_map"] is True
    assert info["params_schema"]["properties"]["n_tiers"]["maximum"] == 10
    assert "lca" in served  # the built-in families are still there


def test_a_toy_run_completes_with_results_assignments_map_and_exports(
    toy: httpx.Client, dataset_id: str
) -> None:
    run = submit(toy, dataset_id, n_tiers=3)
    assert run["status"] == "completed", run
    result = toy.get(f"/runs/{run['id']}/results").json()
    assert result["tiers"] == ["Tier 1", "Tier 2", "Tier 3"]
    assert sorted(set(result["tier_of_product"])) == [1, 2, 3]
    best = max(range(len(result["products"])), key=lambda j: result["penetration"][j])
    assert result["tier_of_product"][best] == 1
    assignments = toy.get(f"/runs/{run['id']}/assignments").text.splitlines()
    assert assignments[0].split(",") == ["household_id", "basket_size"]
    product_map = toy.get(f"/runs/{run['id']}/product-map").json()
    assert product_map["products"] == result["products"]
    clusters = toy.post(f"/runs/{run['id']}/clustering", json={"n_clusters": 2}).json()
    assert set(clusters["labels"].values()) == {0, 1}
    export = toy.get(f"/runs/{run['id']}/export")
    assert export.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert any(n.startswith("penetration") for n in names), names
    assert any(n.startswith("closest_competitors") for n in names), names
    report = toy.get(f"/runs/{run['id']}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "Tier 1" in report.text and "penetration" in report.text.lower()


def test_a_bug_in_a_fit_is_an_internal_error_with_an_id_and_a_logged_traceback(
    toy: httpx.Client, toy_stack: IsolatedStack, dataset_id: str
) -> None:
    run = submit(toy, dataset_id, fail_with="key_error")
    assert run["status"] == "failed" and run["attempts"] == 1
    match = re.fullmatch(
        r"Internal error ([0-9a-f]{12}): the service log has the details\.", run["error"]
    )
    assert match, run["error"]
    assert "loadings" not in run["error"]  # the bare KeyError is not shown to the person
    log = _worker_log(toy_stack, match.group(1))
    assert "Traceback" in log and "KeyError: 'loadings'" in log
    counted = f'ms_worker_internal_errors_total{{model_type="{MODEL_TYPE}"}} 1.0'
    deadline = time.monotonic() + 30
    while counted not in httpx.get(f"http://127.0.0.1:{METRICS_PORT}/").text:
        assert time.monotonic() < deadline, "the internal error is not counted in the metrics"
        time.sleep(0.5)


def test_bad_data_is_the_reason_shown_and_never_retried(toy: httpx.Client, dataset_id: str) -> None:
    run = submit(toy, dataset_id, fail_with="data_error")
    assert run["status"] == "failed" and run["attempts"] == 1
    assert run["error"] == "The toy refuses this data, as asked."


def test_a_transient_failure_is_retried_until_max_attempts(
    toy: httpx.Client, dataset_id: str
) -> None:
    run = submit(toy, dataset_id, fail_with="redis_away")
    # MAX_ATTEMPTS is 3: three attempts, each handed back, then the run gives up saying so
    assert run["status"] == "failed" and run["attempts"] == 3, run
    assert run["error"] == "Gave up after 3 attempts: toy: Redis is away", run["error"]


def _worker_log(stack: IsolatedStack, error_id: str, timeout: float = 10) -> str:
    """The worker log's lines about this error (the log is flushed as it is written)."""
    deadline = time.monotonic() + timeout
    while True:
        text = "\n".join(
            p.read_text(errors="replace") for p in Path(stack.log_dir).glob("worker*.log")
        )
        lines = [line for line in text.splitlines() if error_id in line]
        if lines or time.monotonic() > deadline:
            return "\n".join(lines)
        time.sleep(0.2)


def test_the_app_offers_the_toy_runs_it_and_shows_the_generic_results_page(
    toy_stack: IsolatedStack, toy: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui.test_app import app, button, wait_until

    monkeypatch.setenv("API_URL", toy_stack.api_url)
    monkeypatch.delenv("API_TOKEN", raising=False)
    sim = simulate_lca(n=150, seed=4)
    # Given a saved dataset
    at = app().run()
    at.file_uploader[0].upload("toy.csv", sim.csv(), "text/csv")
    at.run()
    button(at, "Save as dataset").click().run()
    # When the person opens New analysis, the toy is one of the analyses, with its form
    at.switch_page("views/new_analysis.py").run()
    assert not at.exception, at.exception
    (picker,) = [r for r in at.radio if r.key == "form.model_type"]
    assert picker.options[-1] == "Popularity tiers (toy)"
    picker.set_value(MODEL_TYPE).run()
    tiers = at.number_input(key=f"form.params.{MODEL_TYPE}.n_tiers")
    tiers.set_value(3).run()
    button(at, "Start analysis").click().run()
    assert not at.exception, at.exception
    run = wait_for(toy, at.session_state["run_id"], timeout=60)
    assert run["status"] == "completed" and run["params"]["n_tiers"] == 3
    # Then the results page draws it with the generic view: its tables and the product views
    at.switch_page("views/results.py")
    wait_until(at, "no dedicated view")
    assert any("Penetration" in e.label for e in at.expander), [e.label for e in at.expander]
