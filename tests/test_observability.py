"""Structured logs with the run id, Prometheus metrics, and /health with queues and workers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for


def json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_logs_are_json_with_the_run_id(client: httpx.Client, log_dir: Path) -> None:
    dataset = upload(client, simulate_lca(n=300, seed=1).csv()).json()
    run = submit_lca(client, dataset["id"], n_classes=2)
    wait_for(client, run["id"])
    client.get(f"/runs/{run['id']}/results")

    # The access line is written once the response has gone out: give it a moment.
    deadline = time.monotonic() + 5
    while True:
        api = [e for e in json_lines(log_dir / "api.log") if e.get("run_id") == run["id"]]
        if any(e.get("path", "").endswith("/results") and e["status"] == 200 for e in api):
            break
        assert time.monotonic() < deadline, "no access log line for the results request"
        time.sleep(0.1)
    assert all(e["service"] == "api" for e in api)
    worker = [e for e in json_lines(log_dir / "worker.log") if e.get("run_id") == run["id"]]
    assert worker and all(e["service"] == "worker" for e in worker)


def test_metrics_and_health(client: httpx.Client, live_stack: str) -> None:
    client.get("/runs")
    metrics = httpx.get(f"{live_stack}/metrics").text
    assert 'ms_api_requests_total{method="GET",route="/api/v1/runs",status="200"}' in metrics
    assert "ms_api_request_seconds_bucket" in metrics
    health = httpx.get(f"{live_stack}/health").json()
    assert health["status"] == "healthy"
    assert set(health["queues"]) == {"fits", "sampling"}
    assert health["workers_alive"] >= 1
    assert health["versions"]["dramatiq"]
