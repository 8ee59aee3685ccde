"""Clients written for the original backend keep working (../shared/DESIGN.md, "Clients
written for the original backend", and the original backend's README): its request shapes,
its README's Python examples as written, its JavaScript client's `onmessage` (parsed here as a
browser does; tests/ui/test_browser_sse.py runs it in Chromium), the polling fallback, the
`runs` key, clustering, the ZIP export and DELETE. Against the session's real stack.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.support.data import simulate_lca, slow_fit_table, slow_lca_params
from tests.support.runs import read_events, submit_lca, upload, wait_for

# The original backend's model types (its ModelTypeEnum), as its clients send them.
ORIGINAL_MODEL_TYPES = [
    "lca",
    "lca_covariates",
    "factor_tetrachoric",
    "bayesian_factor_vi",
    "bayesian_factor_pymc",
    "nmf",
    "mca",
    "dcm",
    "lda",
    "network",
]

# The original README's "Stream Progress Updates" example, verbatim but for its two
# placeholders (the address and the run id), which the test fills in.
README_STREAM_EXAMPLE = """
import httpx

run_id = "your-run-id"

with httpx.stream("GET", f"http://localhost:8000/api/v1/progress/{run_id}/stream") as r:
    for line in r.iter_lines():
        if line.startswith("data:"):
            progress = json.loads(line[5:])
            print(f"Progress: {progress['progress']*100:.1f}% - {progress['message']}")
            
            if progress['phase'] in ['completed', 'failed']:
                break
"""  # noqa: W293 (the README's blank line holds spaces)


def purchases_csv(n: int = 400, seed: int = 1) -> bytes:
    """A purchases.csv with the README's columns (prod_a, prod_b, prod_c) and two more."""
    rng = np.random.default_rng(seed)
    segment = rng.random(n) < 0.5
    frame = pd.DataFrame(
        {
            name: (rng.random(n) < np.where(segment, high, low)).astype(int)
            for name, high, low in [
                ("prod_a", 0.8, 0.2),
                ("prod_b", 0.7, 0.1),
                ("prod_c", 0.2, 0.7),
                ("prod_d", 0.6, 0.3),
                ("prod_e", 0.3, 0.6),
            ]
        }
    )
    frame["income"] = rng.normal(50 + 20 * segment, 10).round(1)
    return frame.to_csv(index=False).encode()


def run_readme_stream_example(base_url: str, run_id: str) -> list[str]:
    """Runs the README's loop as written (httpx's defaults: a 5 s read timeout); answers what
    it printed."""
    code = README_STREAM_EXAMPLE.replace("http://localhost:8000", base_url).replace(
        "your-run-id", run_id
    )
    printed: list[str] = []
    # `json` as a notebook or script that ran the README's first example would have it
    # (the README's second block uses it without importing it).
    namespace: dict[str, Any] = {"json": json, "print": printed.append}
    exec(compile(code, "original-README.md", "exec"), namespace)
    return printed


def blocker(client: httpx.Client, seconds: float) -> str:
    """A run that keeps the session's one worker busy for about `seconds` (more when the
    machine is loaded)."""
    dataset = upload(client, slow_fit_table()).json()
    body = {"model_type": "lca", "dataset_id": dataset["id"], "params": slow_lca_params(seconds)}
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run_id = str(response.json()["id"])
    deadline = time.monotonic() + 60
    while client.get(f"/runs/{run_id}").json()["status"] == "queued":
        assert time.monotonic() < deadline, "the blocking run never started"
        time.sleep(0.1)
    return run_id


def readme_loop_on_a_queued_run(client: httpx.Client, base_url: str, wait: float) -> QueuedLoop:
    # Given a run queued behind another that keeps the worker busy until it is cancelled
    # `wait` seconds later (a timer, not an estimate of the fit's speed, sets the queue time)
    busy = blocker(client, 900)
    sim = simulate_lca(n=300, seed=2, id_column=None)
    queued = client.post(
        "/runs",
        json={
            "model_type": "lca",
            "params": {"n_classes": 2, "n_init": 2},
            "data": {"csv_base64": base64.b64encode(sim.csv()).decode()},
            "product_columns": sim.products,
        },
    ).json()
    assert queued["status"] == "queued"
    release = threading.Timer(wait, lambda: client.post(f"/runs/{busy}/cancel"))
    # When the README's stream loop follows it, with httpx's default 5 s read timeout
    stream_opened = datetime.now(UTC)
    release.start()
    try:
        printed = run_readme_stream_example(base_url, queued["id"])
    finally:
        release.cancel()
    started_at = datetime.fromisoformat(client.get(f"/runs/{queued['id']}").json()["started_at"])
    queued_for = (
        started_at.replace(tzinfo=started_at.tzinfo or UTC) - stream_opened
    ).total_seconds()
    return QueuedLoop(
        queued_for=queued_for,
        printed=printed,
        blocker_status=client.get(f"/runs/{busy}").json()["status"],
        queued_status=wait_for(client, queued["id"])["status"],
    )


@dataclass
class QueuedLoop:
    """What the README's stream loop did on a run queued behind a blocker."""

    queued_for: float  # seconds the run sat in the queue with the stream open
    printed: list[str]
    blocker_status: str
    queued_status: str


def test_the_readme_stream_loop_survives_a_run_queued_for_a_while(
    client: httpx.Client, live_stack: str
) -> None:
    # 12 s in the queue: more than twice httpx's read timeout (5 s)
    loop = readme_loop_on_a_queued_run(client, live_stack, wait=12)
    # Then it waited the queue out without a ReadTimeout and printed the run to its end
    assert loop.queued_for > 12 - 1, loop.queued_for
    assert loop.printed[0].startswith("Progress: 0.0% - ")
    assert loop.printed[-1].startswith("Progress: 100.0%")
    assert (loop.blocker_status, loop.queued_status) == ("cancelled", "completed")


@pytest.mark.slow
def test_the_readme_stream_loop_survives_a_minute_in_the_queue(
    client: httpx.Client, live_stack: str
) -> None:
    loop = readme_loop_on_a_queued_run(client, live_stack, wait=65)
    # Then it waited the queue out without a ReadTimeout and printed the run to its end
    assert loop.queued_for > 65 - 1, loop.queued_for
    assert loop.printed[0].startswith("Progress: 0.0% - ")
    assert loop.printed[-1].startswith("Progress: 100.0%")
    assert (loop.blocker_status, loop.queued_status) == ("cancelled", "completed")


def test_the_readme_submit_example_runs_as_written(client: httpx.Client) -> None:
    # Given purchases.csv, sent as the README's first example sends it (inline base64)
    csv_base64 = base64.b64encode(purchases_csv()).decode()
    response = client.post(
        "/runs",
        json={
            "model_type": "lca",
            "name": "My LCA Analysis",
            "params": {"n_classes": 4, "max_iter": 100, "n_init": 10},
            "data": {"csv_base64": csv_base64},
            "product_columns": ["prod_a", "prod_b", "prod_c"],
        },
    )
    # Then it is accepted and `run['id']` names the run, which fits those three products
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["name"] == "My LCA Analysis" and run["model_type"] == "lca"
    finished = wait_for(client, run["id"])
    assert finished["status"] == "completed", finished["error"]
    assert finished["product_columns"] == ["prod_a", "prod_b", "prod_c"]


def onmessage_events(base_url: str, run_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """What the original README's JavaScript client sees, read as EventSource does (the HTML
    standard's parsing): (what `onmessage` receives, with `lastEventId`; the names of the
    other events). No client library: only the standard's rules."""
    messages: list[dict[str, Any]] = []
    named: list[str] = []
    data: list[str] = []
    event_type, last_event_id = "", ""
    with httpx.stream("GET", f"{base_url}/api/v1/progress/{run_id}/stream", timeout=60) as r:
        for line in r.iter_lines():
            if line == "":  # dispatch
                if data:
                    if event_type in ("", "message"):
                        messages.append({**json.loads("\n".join(data)), "id": last_event_id})
                    else:
                        named.append(event_type)
                        if event_type == "close":
                            break  # the README's close listener closes the EventSource
                data, event_type = [], ""
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event_type = value
            elif name == "id":
                last_event_id = value
    return messages, named


def test_onmessage_receives_every_progress_event(client: httpx.Client, live_stack: str) -> None:
    # Given a run followed the way the original README's JavaScript client follows it
    dataset = upload(client, simulate_lca(n=1500, seed=4).csv()).json()
    run = submit_lca(client, dataset["id"], n_init=6)
    messages, named = onmessage_events(live_stack, run["id"])
    # Then onmessage got every progress event, each with its id, the last one completed, and
    # the close listener fired once (no other named events)
    everything = [e for e in read_events(live_stack, run["id"]) if e.event == "message"]
    assert [m["id"] for m in messages] == [e.id for e in everything]
    assert all(m["id"] for m in messages) and len(messages) >= 3
    assert messages[-1]["phase"] == "completed" and messages[-1]["progress"] == 1.0
    assert named == ["close"]


def test_polling_the_run_shows_live_progress(client: httpx.Client) -> None:
    # Given a fit of a few seconds
    dataset = upload(client, slow_fit_table(n=20_000, p=20)).json()
    body = {"model_type": "lca", "dataset_id": dataset["id"], "params": slow_lca_params(6)}
    run_id = client.post("/runs", json=body).json()["id"]
    # When a client polls GET /runs/{id}, as the original client's fallback does
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}").json()
        seen.append(run)
        if run["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.2)
    # Then it sees the fit move: progress between 0 and 1 with the fit's own words and phase
    moving = [r for r in seen if r["status"] == "running" and 0 < r["progress"] < 1]
    assert moving, [(r["status"], r["progress"], r["progress_message"]) for r in seen]
    assert all(r["phase"] == "fitting" for r in moving)
    assert {r["progress_message"] for r in moving} - {"Started.", None}
    assert [r["progress"] for r in seen] == sorted(r["progress"] for r in seen)
    assert seen[-1]["status"] == "completed" and seen[-1]["progress"] == 1.0
    # And GET /runs shows the same live fields, under `runs` as under `items`
    listed = client.get("/runs", params={"limit": 5}).json()
    assert listed["runs"] == listed["items"] and listed["runs"][0]["id"] == run_id
    assert {"total", "limit", "offset"} <= set(listed)


def test_every_original_model_type_is_offered_by_its_name(client: httpx.Client) -> None:
    offered = {m["model_type"]: m for m in client.get("/models").json()}
    for model_type in ORIGINAL_MODEL_TYPES:
        assert model_type in offered, model_type
        assert offered[model_type]["title"]  # the name to show a person


def test_inline_covariates_and_the_description_are_kept(client: httpx.Client) -> None:
    # Given the original shape for covariates: inside the uploaded CSV, named in the data
    response = client.post(
        "/runs",
        json={
            "model_type": "lca_covariates",
            "name": "with covariates",
            "description": "as the original backend took it",
            "params": {"n_classes": 2, "n_init": 2},
            "data": {
                "csv_base64": base64.b64encode(purchases_csv(n=300)).decode(),
                "covariate_column_names": ["income"],
            },
            "product_columns": ["prod_a", "prod_b", "prod_c", "prod_d", "prod_e"],
        },
    )
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"])
    # Then the run used them as its household features, and kept the description
    assert run["status"] == "completed", run["error"]
    assert run["covariate_columns"] == ["income"]
    assert run["description"] == "as the original backend took it"


def test_clustering_export_and_delete_as_the_original_client_calls_them(
    client: httpx.Client,
) -> None:
    dataset = upload(client, purchases_csv(n=500, seed=3)).json()
    run = wait_for(client, submit_lca(client, dataset["id"], n_classes=2, n_init=2)["id"])
    assert run["status"] == "completed", run["error"]
    products = run["product_columns"]
    # Clustering: k-means with a number, hierarchical with auto k up to max_k
    for request in (
        {"method": "kmeans", "n_clusters": 2},
        {"method": "hierarchical", "max_k": 4, "linkage_method": "ward"},
    ):
        answer = client.post(f"/runs/{run['id']}/clustering", json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body["labels"]) == set(products)
        assert body["silhouette_score"] is None or -1 <= body["silhouette_score"] <= 1
    # Export: a ZIP of the results
    export = client.get(f"/runs/{run['id']}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    assert "results.json" in zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    # DELETE answers 204 with no body, and the run is gone
    deleted = client.delete(f"/runs/{run['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get(f"/runs/{run['id']}").status_code == 404


def test_error_bodies_carry_the_sentence_where_the_original_client_shows_it(
    client: httpx.Client,
) -> None:
    dataset = upload(client, purchases_csv(n=100)).json()
    response = client.post(
        "/runs",
        json={"model_type": "lca", "dataset_id": dataset["id"], "product_columns": ["prod_z"]},
    )
    assert response.status_code == 422
    body = response.json()
    # The original client prints f"API Error {status}: {body['error']}": now the sentence
    assert body["error"] == body["detail"] and "prod_z" in body["error"]
    assert body["title"] and body["title"] != body["error"]


def test_the_stream_sends_a_comment_at_least_every_two_seconds_while_queued(
    client: httpx.Client, live_stack: str
) -> None:
    # Given a run that waits in the queue for a while
    busy = blocker(client, 8)
    sim = simulate_lca(n=200, seed=5)
    dataset = upload(client, sim.csv()).json()
    queued = submit_lca(client, dataset["id"], n_classes=2, n_init=1)
    # When a client reads its stream for 6 s while it waits
    gaps: list[float] = []
    with httpx.stream(
        "GET", f"{live_stack}/api/v1/progress/{queued['id']}/stream", timeout=10
    ) as response:
        began = last = time.monotonic()
        for _line in response.iter_lines():
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            if now - began > 6:
                break
    # Then no two lines were more than 2 s apart
    assert max(gaps) < 2.0, gaps
    wait_for(client, busy)
    wait_for(client, queued["id"])
