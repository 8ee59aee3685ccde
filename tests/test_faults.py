"""Faults with real processes: a worker killed mid-fit, Redis flushed, duplicate delivery.

Each test gets a stack of its own (database, Redis prefix, API, workers) so it can kill and
flush without disturbing the session's shared stack.

Every test here kills or starves real processes and waits for them to recover (30-70 s each,
about 5 minutes together): slow, so the default suite stays near 15 minutes; CI runs them in
its PostgreSQL pass.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.data import slow_fit_table, slow_lca_params
from tests.support.runs import (
    starts,
    submit_lca,
    upload,
    wait_for,
    wait_for_log,
    wait_for_phase,
    wait_until_consumed,
)
from tests.support.services import IsolatedStack

FAST_RECOVERY = {"HEARTBEAT_SECONDS": "0.5", "STALE_AFTER_SECONDS": "3", "RECONCILE_SECONDS": "1"}

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[IsolatedStack]:
    isolated = IsolatedStack(tmp_path, **FAST_RECOVERY)
    isolated.start_api()
    yield isolated
    isolated.close()


def http(stack: IsolatedStack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30)


def slow_run(client: httpx.Client, seconds: float = 8, **params: object) -> dict:
    dataset = upload(client, slow_fit_table()).json()
    return submit_lca(client, dataset["id"], **{**slow_lca_params(seconds), **params})


def worker_children(master: psutil.Popen | object, pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children()
        if children:
            return children
        time.sleep(0.1)
    raise TimeoutError("dramatiq started no worker process")


def kill_worker_mid_fit(stack: IsolatedStack, client: httpx.Client) -> dict:
    """Starts a worker and a slow run, SIGKILLs the worker's processes in the middle of the fit
    (as the OOM killer does) and waits for the Dramatiq master to give up too (DESIGN.md:
    whoever runs workers restarts them). Answers the run."""
    master = stack.start_worker()
    run = slow_run(client)
    wait_for_phase(client, run["id"], "fitting")
    for child in worker_children(master, master.pid):
        child.send_signal(signal.SIGKILL)
    master.wait(timeout=30)
    return run


def test_sigkilled_worker_run_is_picked_up_again_and_completes(stack: IsolatedStack) -> None:
    with http(stack) as client:
        # When the worker is SIGKILLed mid-fit and its master gives up, the run still reads running
        run = kill_worker_mid_fit(stack, client)
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
            run = kill_worker_mid_fit(isolated, client)
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
        # Then once the workers have taken and acked every message for it, the late one too,
        # it ran exactly once
        wait_until_consumed(broker, run["id"])
        again = client.get(f"/runs/{run['id']}").json()
        assert final["status"] == again["status"] == "completed"
        assert again["attempts"] == 1 and again["finished_at"] == final["finished_at"]
        assert again["worker_id"] == final["worker_id"]
        assert starts(stack.log_dir.glob("worker*.log"), run["id"]) == 1
        events = stack.redis().xrange(f"{stack.environment.prefix}:progress:{run['id']}:events")
        phases = [json.loads(fields["data"])["phase"] for _, fields in events]
        assert phases.count("completed") == 1 and phases.count("loading") == 1


class DatabaseOutage:
    """Makes the stack's database unreachable for writers, then brings it back.

    PostgreSQL: new connections refused and open ones terminated. SQLite: an exclusive lock
    held by another connection (writers wait, then fail once their busy timeout runs out).
    """

    def __init__(self, stack: IsolatedStack) -> None:
        self.env = stack.environment
        self.lock: object | None = None

    def __enter__(self) -> DatabaseOutage:
        if self.env.backend == "postgresql":
            self._pg(
                f'ALTER DATABASE "{self.env.database_name}" ALLOW_CONNECTIONS false',
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.env.database_name}' AND pid <> pg_backend_pid()",
            )
        else:
            import sqlite3

            path = self.env.database_url.removeprefix("sqlite:///")
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            self.lock = connection
        return self

    def __exit__(self, *exc: object) -> None:
        if self.env.backend == "postgresql":
            self._pg(f'ALTER DATABASE "{self.env.database_name}" ALLOW_CONNECTIONS true')
        else:
            connection = self.lock
            connection.execute("ROLLBACK")  # type: ignore[attr-defined]
            connection.close()  # type: ignore[attr-defined]

    def _pg(self, *statements: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(str(self.env.admin_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        engine.dispose()


def test_database_unreachable_at_save_time_keeps_the_result(stack: IsolatedStack) -> None:
    with http(stack) as client:
        stack.start_worker()
        run = slow_run(client)
        wait_for_phase(client, run["id"], "fitting")
        progress_key = f"{stack.environment.prefix}:progress:{run['id']}"
        with DatabaseOutage(stack):
            # The fit ends while the database is away: the worker is stuck saving
            deadline = time.monotonic() + 120
            while json.loads(stack.redis().get(progress_key) or "{}").get("phase") != "saving":
                assert time.monotonic() < deadline, "the fit never reached its save"
                time.sleep(0.2)
            # and its save fails (SQLite: once its 30 s busy timeout has run out)
            wait_for_log(
                stack.log_dir.glob("worker*.log"), run["id"], "saving the result failed", 120
            )
        # Then the save is retried once the database is back, without refitting
        final = wait_for(client, run["id"], timeout=120)
        assert final["status"] == "completed", final
        assert final["attempts"] == 1
        assert starts(stack.log_dir.glob("worker*.log"), run["id"]) == 1
        assert client.get(f"/runs/{run['id']}/results").status_code == 200


def test_sigterm_hands_the_running_fit_back_and_it_completes_elsewhere(
    stack: IsolatedStack,
) -> None:
    with http(stack) as client:
        first = stack.start_worker()
        run = slow_run(client)
        wait_for_phase(client, run["id"], "fitting")
        # When the worker is asked to stop (deploy, scale-in) in the middle of a fit
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        # Then the run was handed back without spending one of its attempts
        handed_back = client.get(f"/runs/{run['id']}").json()
        assert handed_back["status"] == "queued", handed_back
        assert handed_back["attempts"] == 0
        # And the next worker completes it
        stack.start_worker()
        final = wait_for(client, run["id"], timeout=120)
        assert final["status"] == "completed" and final["attempts"] == 1


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fit_longer_than_the_broker_heartbeat_timeout_runs_exactly_once(tmp_path: Path) -> None:
    # Dramatiq's maintenance (requeueing messages of workers it believes dead) on every broker
    # command, so a long CPU-bound fit that looked dead would be redelivered at once.
    # A 20 s broker heartbeat timeout: the fit (about a minute) outlasts it three times over.
    isolated = IsolatedStack(
        tmp_path, BROKER_MAINTENANCE_CHANCE="1", BROKER_HEARTBEAT_TIMEOUT_MS="20000"
    )
    isolated.start_api()
    try:
        isolated.start_worker(processes=2)
        with http(isolated) as client:
            # Converges after about a minute here (deterministic for this data and seed)
            long = slow_run(client, seconds=400, name="long")
            wait_for_phase(client, long["id"], "fitting")
            # Meanwhile the other process keeps the broker busy with quick runs
            quick_dataset = upload(client, slow_fit_table(n=2000, p=10)).json()["id"]
            quick = []
            while client.get(f"/runs/{long['id']}").json()["status"] == "running":
                quick.append(submit_lca(client, quick_dataset, n_classes=2, n_init=1, max_iter=20))
                wait_for(client, quick[-1]["id"], timeout=60)
                time.sleep(2)
            final = wait_for(client, long["id"], timeout=600)
        assert final["status"] == "completed" and final["attempts"] == 1, final
        assert (
            datetime_of(final["finished_at"]) - datetime_of(final["started_at"])
        ).total_seconds() > 40  # twice the broker heartbeat timeout
        assert len(quick) > 10
        events = isolated.redis().xrange(
            f"{isolated.environment.prefix}:progress:{long['id']}:events"
        )
        phases = [json.loads(fields["data"])["phase"] for _, fields in events]
        assert phases.count("loading") == 1 and phases.count("completed") == 1
        assert starts(tmp_path.glob("worker*.log"), long["id"]) == 1
        logs = "".join(p.read_text() for p in tmp_path.glob("worker*.log"))
        assert "duplicate delivery ignored" not in logs
    finally:
        isolated.close()


def datetime_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
