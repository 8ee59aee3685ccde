"""Faults with real processes: a worker killed mid-fit, Redis flushed, duplicate delivery.

Each test gets a stack of its own (database, Redis prefix, API, workers) so it can kill and
flush without disturbing the session's shared stack.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for, wait_for_phase
from tests.support.services import IsolatedStack

FAST_RECOVERY = {"HEARTBEAT_SECONDS": "0.5", "STALE_AFTER_SECONDS": "3", "RECONCILE_SECONDS": "1"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[IsolatedStack]:
    isolated = IsolatedStack(tmp_path, **FAST_RECOVERY)
    isolated.start_api()
    yield isolated
    isolated.close()


def http(stack: IsolatedStack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30)


def slow_run(client: httpx.Client, **params: object) -> dict:
    dataset = upload(client, simulate_lca(n=6000, seed=8).csv()).json()
    # A tolerance never met: every start runs max_iter iterations, a few seconds in all.
    return submit_lca(
        client, dataset["id"], n_classes=4, n_init=20, max_iter=300, tol=1e-15, **params
    )


def worker_children(master: psutil.Popen | object, pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children()
        if children:
            return children
        time.sleep(0.1)
    raise TimeoutError("dramatiq started no worker process")


def test_sigkilled_worker_run_is_picked_up_again_and_completes(stack: IsolatedStack) -> None:
    with http(stack) as client:
        master = stack.start_worker()
        run = slow_run(client)
        wait_for_phase(client, run["id"], "fitting")
        # When the worker process is SIGKILLed in the middle of the fit (as the OOM killer does)
        for child in worker_children(master, master.pid):
            child.send_signal(signal.SIGKILL)
        # Then the Dramatiq master gives up too (DESIGN.md): whoever runs workers restarts them
        master.wait(timeout=30)
        assert client.get(f"/runs/{run['id']}").json()["status"] == "running"
        stack.start_worker()
        # And the reconciler sees the stale heartbeat, queues the run again, and it completes
        final = wait_for(client, run["id"], timeout=120)
        assert final["status"] == "completed", final
        assert final["attempts"] == 2
        assert client.get(f"/runs/{run['id']}/results").status_code == 200


def test_worker_killed_on_every_attempt_ends_failed_not_running(tmp_path: Path) -> None:
    isolated = IsolatedStack(tmp_path, **FAST_RECOVERY, MAX_ATTEMPTS="1")
    isolated.start_api()
    try:
        with http(isolated) as client:
            master = isolated.start_worker()
            run = slow_run(client)
            wait_for_phase(client, run["id"], "fitting")
            for child in worker_children(master, master.pid):
                child.send_signal(signal.SIGKILL)
            master.wait(timeout=30)
            isolated.start_worker()
            final = wait_for(client, run["id"], timeout=60)
            assert final["status"] == "failed"
            assert "worker stopped" in final["error"] and "attempt 1 of 1" in final["error"]
    finally:
        isolated.close()


def test_redis_flushed_while_runs_are_queued_and_running_loses_nothing(
    stack: IsolatedStack,
) -> None:
    with http(stack) as client:
        stack.start_worker()
        running = slow_run(client, name="running")
        wait_for_phase(client, running["id"], "fitting")
        queued = submit_lca(client, running["dataset_id"], n_init=2, name="queued")
        # When Redis loses everything (restart without persistence, FLUSHALL)
        assert stack.flush_redis() > 0
        # Then the running run still completes and the queued one is re-enqueued from the database
        assert wait_for(client, running["id"], timeout=120)["status"] == "completed"
        assert wait_for(client, queued["id"], timeout=120)["status"] == "completed"
        # And progress falls back to the database where Redis lost it
        assert client.get(f"/progress/{queued['id']}").json()["phase"] == "completed"


def test_duplicate_delivery_runs_once_and_stores_one_result(stack: IsolatedStack) -> None:
    from backend.queue import build_broker
    from backend.settings import Settings

    with http(stack) as client:
        stack.start_worker(processes=2)
        run = slow_run(client)
        broker = build_broker(
            Settings(redis_url=stack.environment.redis_url, redis_prefix=stack.environment.prefix)
        )
        # When the same message is delivered again, while running and after completing
        import dramatiq

        for _ in range(2):
            broker.enqueue(
                dramatiq.Message(
                    queue_name="fits",
                    actor_name="fit_run",
                    args=(run["id"],),
                    kwargs={},
                    options={},
                )
            )
        final = wait_for(client, run["id"], timeout=120)
        broker.enqueue(
            dramatiq.Message(
                queue_name="fits", actor_name="fit_run", args=(run["id"],), kwargs={}, options={}
            )
        )
        time.sleep(2)
        # Then it ran exactly once
        again = client.get(f"/runs/{run['id']}").json()
        assert final["status"] == again["status"] == "completed"
        assert again["attempts"] == 1 and again["finished_at"] == final["finished_at"]
        events = stack.redis().xrange(f"{stack.environment.prefix}:progress:{run['id']}:events")
        phases = [json.loads(fields["data"])["phase"] for _, fields in events]
        assert phases.count("completed") == 1 and phases.count("loading") == 1
