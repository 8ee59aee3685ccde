"""Structured logs with the run id, Prometheus metrics, and /health with queues and workers."""

from __future__ import annotations

import json
import sys
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


def test_workers_export_dramatiq_metrics_when_a_port_is_set(tmp_path: Path) -> None:
    from backend.embedded_redis import free_port
    from tests.support.services import IsolatedStack, start_process, wait_for_http

    port = free_port()
    stack = IsolatedStack(tmp_path, WORKER_METRICS_PORT=str(port))
    try:
        stack.start_api()
        # Started the documented way, so the Dramatiq master gets the metrics settings too
        command = [str(Path(sys.executable).parent / "market-structure"), "worker"]
        log = tmp_path / "worker-cli.log"
        stack.environment.processes.append(start_process(command, stack.env(), log))
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=60)
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30) as client:
            dataset = upload(client, simulate_lca(n=200, seed=2).csv()).json()
            wait_for(client, submit_lca(client, dataset["id"], n_classes=2)["id"])
        deadline = time.monotonic() + 30
        while 'dramatiq_messages_total{actor_name="fit_run"' not in httpx.get(f"http://127.0.0.1:{port}/").text:
            assert time.monotonic() < deadline, "no Dramatiq metrics exported"
            time.sleep(0.5)
    finally:
        stack.close()
