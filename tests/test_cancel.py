"""Cancel: a queued run never starts; a running LCA stops at its next iteration, cancelled."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from backend.queue import get_broker
from tests.support.data import slow_fit_table, slow_lca_params
from tests.support.runs import (
    starts,
    submit_lca,
    upload,
    wait_for,
    wait_for_phase,
    wait_until_consumed,
)


def _long_dataset(client: httpx.Client) -> str:
    return str(upload(client, slow_fit_table(), "big.csv").json()["id"])


def long_lca(client: httpx.Client, dataset_id: str) -> dict:
    # Runs for many minutes unless cancelled.
    return submit_lca(client, dataset_id, **slow_lca_params(900), name="long")


def test_cancel_running_and_queued_runs(client: httpx.Client, log_dir: Path) -> None:
    dataset_id = _long_dataset(client)
    # Given a long run occupying the only worker thread, and a second one queued behind it
    running = long_lca(client, dataset_id)
    wait_for_phase(client, running["id"], "fitting")
    queued = submit_lca(client, dataset_id, name="waiting")
    assert client.get(f"/runs/{queued['id']}").json()["status"] == "queued"

    # When the queued run is cancelled, it is cancelled at once
    response = client.post(f"/runs/{queued['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.get(f"/progress/{queued['id']}").json()["phase"] == "cancelled"

    # When the running run is cancelled, it stops within a couple of seconds
    started = time.monotonic()
    response = client.post(f"/runs/{running['id']}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    final = wait_for(client, running["id"], timeout=10)
    assert final["status"] == "cancelled"
    assert time.monotonic() - started < 5
    assert client.get(f"/progress/{running['id']}").json()["phase"] == "cancelled"
    assert client.get(f"/runs/{running['id']}/results").status_code == 409

    # Then the queued run never started, even once the worker was free and took its message
    wait_until_consumed(get_broker(), queued["id"])
    never = client.get(f"/runs/{queued['id']}").json()
    assert never["status"] == "cancelled" and never["started_at"] is None and never["attempts"] == 0
    assert starts([log_dir / "worker.log"], queued["id"]) == 0
    assert client.get(f"/progress/{queued['id']}").json()["phase"] == "cancelled"

    # And cancelling a finished run is refused, deleting it works
    assert client.post(f"/runs/{running['id']}/cancel").status_code == 409
    assert client.delete(f"/runs/{queued['id']}").status_code == 204
    assert client.get(f"/runs/{queued['id']}").status_code == 404


def test_delete_running_run_cancels_it_and_keeps_nothing(client: httpx.Client) -> None:
    dataset_id = _long_dataset(client)
    run = long_lca(client, dataset_id)
    wait_for_phase(client, run["id"], "fitting")
    assert client.delete(f"/runs/{run['id']}").status_code == 204
    assert client.get(f"/runs/{run['id']}").status_code == 404
    # The worker notices within its heartbeat and is free again for the next run
    quick = submit_lca(client, dataset_id, n_init=1, max_iter=50)
    assert wait_for(client, quick["id"], timeout=30)["status"] == "completed"
