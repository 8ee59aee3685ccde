"""Fairness (issue 12, item 7): a per-client cap on runs queued or running (429 with
Retry-After), the client known by a hash of its API token; and the fair order — a free worker
serves the waiting client with the fewest runs running, so one person's long fits cannot hold
every worker while someone else waits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from backend.db import session_scope
from backend.orm import Dataset, Run
from backend.services.ingest import to_parquet
from backend.settings import get_settings
from tests.support.data import simulate_lca, slow_fit_table
from tests.support.runs import upload, wait_for
from tests.support.services import IsolatedStack
from workers import fairness

TOKEN_A = "token-of-client-a-" + "a" * 16
TOKEN_B = "token-of-client-b-" + "b" * 16


def _client(base: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base}/api/v1", timeout=60, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
def capped_stack(tmp_path: Path) -> Iterator[IsolatedStack]:
    """An API with two tokens, at most two runs per client, and no worker (runs stay queued)."""
    stack = IsolatedStack(
        tmp_path, API_TOKEN=f"{TOKEN_A},{TOKEN_B}", MAX_ACTIVE_RUNS_PER_CLIENT="2"
    )
    stack.start_api()
    yield stack
    stack.close()


def test_the_per_client_cap_answers_429_with_retry_after(capped_stack: IsolatedStack) -> None:
    with _client(capped_stack.api_url, TOKEN_A) as a, _client(capped_stack.api_url, TOKEN_B) as b:
        dataset = upload(a, simulate_lca(n=200, seed=1).csv()).json()["id"]
        body = {"model_type": "lca", "dataset_id": dataset, "params": {"n_classes": 2}}
        # Given client A with two runs queued
        assert [a.post("/runs", json=body).status_code for _ in range(2)] == [202, 202]
        # When A submits a third, or a sweep that would pass the cap
        third = a.post("/runs", json=body)
        sweep = a.post("/runs", json={**body, "params": {"n_classes": "2-3"}})
        # Then it is a 429 saying why, with Retry-After
        assert third.status_code == 429, third.text
        assert int(third.headers["Retry-After"]) >= 5
        detail = third.json()["detail"]
        assert "2 run(s) queued or running" in detail and "MAX_ACTIVE_RUNS_PER_CLIENT" in detail
        assert sweep.status_code == 429 and "adds 2" in sweep.json()["detail"]
        # while client B, another token, is not held back by A's runs
        assert b.post("/runs", json=body).status_code == 202
        # and once one of A's runs is cancelled, A may submit again
        first = a.get("/runs").json()["items"][-1]["id"]
        assert a.post(f"/runs/{first}/cancel").status_code == 200
        assert a.post("/runs", json=body).status_code == 202
    # Runs are stored with a hash of their client's token, never the token itself
    engine = create_engine(capped_stack.environment.database_url)
    with engine.connect() as conn:
        clients = {r[0] for r in conn.execute(text("SELECT client_id FROM runs"))}
    engine.dispose()
    assert len(clients) == 2 and all(c.startswith("token:") and len(c) == 38 for c in clients)
    assert not any(TOKEN_A in c or TOKEN_B in c for c in clients)


# -- the fair order, on the database ----------------------------------------------------------


@pytest.fixture
def queue() -> str:
    """A queue of its own, so runs other tests left queued do not take part."""
    return f"test-{uuid.uuid4().hex[:8]}"


def _dataset() -> str:
    with session_scope() as session:
        dataset = Dataset(
            name="fairness",
            file_format="csv",
            sha256="0" * 64,
            size_bytes=1,
            n_rows=1,
            n_columns=1,
            columns=[],
            # Readable rows (the runs here never load them; migrate-storage reads every blob).
            data=to_parquet(pd.DataFrame({"p": [1]})),
        )
        session.add(dataset)
        session.flush()
        return dataset.id


def _run(
    dataset: str, queue: str, client: str, status: str, ago: float, started: float | None = None
) -> str:
    now = datetime.now(UTC)
    with session_scope() as session:
        run = Run(
            name="r",
            model_type="lca",
            status=status,
            params={},
            dataset_id=dataset,
            product_columns=[],
            queue_name=queue,
            client_id=client,
            created_at=now - timedelta(seconds=ago),
            started_at=None if started is None else now - timedelta(seconds=started),
            worker_id=None if started is None else "w:1",
        )
        session.add(run)
        session.flush()
        return run.id


def _waits(run_id: str) -> str | None:
    with session_scope() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return fairness.reason_to_wait(session, run)


def test_a_client_with_a_run_running_waits_for_one_with_none(queue: str) -> None:
    dataset = _dataset()
    a, b = f"a-{queue}", f"b-{queue}"
    _run(dataset, queue, a, "running", ago=60, started=50)
    a_second = _run(dataset, queue, a, "queued", ago=59)
    b_first = _run(dataset, queue, b, "queued", ago=10)
    reason = _waits(a_second)
    assert reason is not None and "another client" in reason
    assert _waits(b_first) is None


def test_a_run_handed_back_often_enough_is_claimed_anyway(queue: str) -> None:
    # A waiting run nobody takes (its message lost until the reconciler re-sends it) holds
    # another client's run back at most MAX_DEFERRALS times
    dataset = _dataset()
    a, b = f"a-{queue}", f"b-{queue}"
    _run(dataset, queue, a, "running", ago=60, started=50)
    a_second = _run(dataset, queue, a, "queued", ago=59)
    _run(dataset, queue, b, "queued", ago=10)
    with session_scope() as session:
        run = session.get(Run, a_second)
        assert run is not None
        assert fairness.reason_to_wait(session, run, fairness.MAX_DEFERRALS - 1) is not None
        assert fairness.reason_to_wait(session, run, fairness.MAX_DEFERRALS) is None


def test_on_one_worker_clients_take_turns(queue: str) -> None:
    # Given A's first run finished (it had its turn) and A and B each with one waiting
    dataset = _dataset()
    a, b = f"a-{queue}", f"b-{queue}"
    _run(dataset, queue, a, "completed", ago=100, started=90)
    a_next = _run(dataset, queue, a, "queued", ago=95)  # queued before B's
    b_first = _run(dataset, queue, b, "queued", ago=20)
    # Then B, never served, goes first, though A's run has waited longer
    assert _waits(a_next) is not None and _waits(b_first) is None


def test_exactly_one_client_never_waits(queue: str) -> None:
    # Given three clients in the same standing, each with waiting runs
    dataset = _dataset()
    runs = {
        c: _run(dataset, queue, f"{c}-{queue}", "queued", ago=ago)
        for c, ago in (("a", 30), ("b", 20), ("c", 10))
    }
    # Then the one waiting longest goes first and the others wait: never all of them
    waiting = {c: _waits(r) is not None for c, r in runs.items()}
    assert waiting == {"a": False, "b": True, "c": True}


def test_the_running_cap_holds_runs_back_even_with_workers_free(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_running_per_client", 1)
    dataset = _dataset()
    a = f"a-{queue}"
    _run(dataset, queue, a, "running", ago=30, started=20)
    second = _run(dataset, queue, a, "queued", ago=10)
    reason = _waits(second)
    assert reason is not None and "MAX_RUNNING_PER_CLIENT=1" in reason


# -- the fair order, against real workers -----------------------------------------------------


def _submit(client: httpx.Client, body: dict[str, Any]) -> str:
    answer = client.post("/runs", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


@pytest.mark.slow
def test_with_two_workers_another_clients_run_starts_before_the_second_long_run(
    tmp_path: Path,
) -> None:
    stack = IsolatedStack(tmp_path, API_TOKEN=f"{TOKEN_A},{TOKEN_B}")
    stack.start_api()
    try:
        with _client(stack.api_url, TOKEN_A) as a, _client(stack.api_url, TOKEN_B) as b:
            # Given client A's two long fits (parallel analysis with many permutations, several
            # seconds each) queued before client B's short one
            wide = upload(a, slow_fit_table(n=20_000, p=60)).json()["id"]
            quick = upload(b, simulate_lca(n=300, seed=2).csv()).json()["id"]
            params = {"n_factors": 2, "n_parallel": 50, "random_state": 1}
            long_body = {"model_type": "factor_tetrachoric", "dataset_id": wide, "params": params}
            a_first, a_second = _submit(a, long_body), _submit(a, long_body)
            time.sleep(0.05)
            b_run = _submit(b, {"model_type": "mca", "dataset_id": quick, "params": {}})
            # When two workers start
            stack.start_worker(processes=2)
            done = {r: wait_for(a, r, timeout=180) for r in (a_first, a_second, b_run)}
        # Then B's run started before A's second long fit, which waited for a free worker
        assert all(run["status"] == "completed" for run in done.values()), done
        started = {r: datetime.fromisoformat(run["started_at"]) for r, run in done.items()}
        assert started[b_run] < started[a_second]
        assert started[a_first] < started[a_second]
    finally:
        stack.close()
