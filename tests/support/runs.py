"""Helpers to drive runs over HTTP and read Server-Sent Events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from dramatiq.brokers.redis import RedisBroker

from backend.broker_state import run_ids_in_redis

TERMINAL = {"completed", "failed", "cancelled"}


def upload(
    client: httpx.Client, content: bytes, filename: str = "data.csv", **form: str
) -> httpx.Response:
    return client.post("/datasets", files={"file": (filename, content)}, data=form)


def upload_dataset(api_url: str, content: bytes) -> str:
    """Upload a CSV to the API at `api_url` (its root) with a client of its own; the dataset's
    id (for module-scoped fixtures, where the test's client does not exist yet)."""
    with httpx.Client(base_url=f"{api_url}/api/v1", timeout=60) as client:
        response = upload(client, content)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def submit_lca(client: httpx.Client, dataset_id: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_type": "lca",
        "name": params.pop("name", "test run"),
        "dataset_id": dataset_id,
        # One round of starts and no stability resamples unless a test asks: the service tests
        # size their fits by these (the model's own defaults search and resample more).
        "params": {
            "n_classes": 3,
            "n_init": 3,
            "random_state": 1,
            "replicate": 1,
            "stability_samples": 0,
            **params,
        },
    }
    for key in ("product_columns", "id_column"):
        if key in body["params"]:
            body[key] = body["params"].pop(key)
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def wait_for(
    client: httpx.Client, run_id: str, statuses: set[str] = TERMINAL, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id} not in {statuses} after {timeout} s: {run['status']}")


def wait_for_phase(
    client: httpx.Client, run_id: str, phase: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = client.get(f"/progress/{run_id}").json()
        if progress["phase"] == phase:
            return progress
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} never reached phase {phase}")


def wait_until_consumed(broker: RedisBroker, run_id: str, timeout: float = 60) -> None:
    """Wait until Redis holds no message for the run: a worker took each one and acked it, so
    whatever handling it would get has happened."""
    deadline = time.monotonic() + timeout
    while run_id in run_ids_in_redis(broker):
        if time.monotonic() > deadline:
            raise TimeoutError(f"a message for run {run_id} is still in Redis after {timeout} s")
        time.sleep(0.1)


def log_entries(paths: Iterable[Path], run_id: str) -> list[dict[str, Any]]:
    """The JSON log lines about one run in these log files (API or worker)."""
    entries = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("run_id") == run_id:
                    entries.append(entry)
    return entries


def starts(paths: Iterable[Path], run_id: str) -> int:
    """How many times a worker started fitting the run, by its logs."""
    return sum(e["message"] == "run started" for e in log_entries(paths, run_id))


def wait_for_log(
    paths: Iterable[Path], run_id: str, message: str, timeout: float = 60
) -> dict[str, Any]:
    """The first log line about the run whose message starts with `message`, once written."""
    files = list(paths)
    deadline = time.monotonic() + timeout
    while True:
        for entry in log_entries(files, run_id):
            if entry["message"].startswith(message):
                return entry
        if time.monotonic() > deadline:
            raise TimeoutError(f"no log line {message!r} for run {run_id} after {timeout} s")
        time.sleep(0.2)


@dataclass
class Event:
    event: str
    id: str | None
    data: dict[str, Any]


def read_events(
    base_url: str,
    run_id: str,
    last_event_id: str | None = None,
    limit: int | None = None,
    timeout: float = 120,
) -> list[Event]:
    """Read the SSE stream until `close` (or `limit` progress events)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[Event] = []
    current: dict[str, str] = {}
    with httpx.stream(
        "GET", f"{base_url}/api/v1/progress/{run_id}/stream", headers=headers, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                continue  # ping
            if line == "":
                if "data" in current:
                    events.append(
                        Event(
                            current.get("event", "message"),
                            current.get("id"),
                            json.loads(current["data"]),
                        )
                    )
                    current = {}
                    if events[-1].event == "close":
                        break
                    if limit is not None and sum(e.event == "message" for e in events) >= limit:
                        break
                continue
            field, _, value = line.partition(":")
            current[field] = value.lstrip(" ")
    return events
