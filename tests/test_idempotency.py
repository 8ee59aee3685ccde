"""`POST /runs` with an `Idempotency-Key`: a retried submission answers the run the first one
created — nothing created or queued twice, also when the retries race — and the same key with
another body is a 409. Keys live in the database (table idempotency_keys), not in Redis."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

from backend.db import session_scope
from backend.orm import IdempotencyKey
from backend.services import runs as runs_service

API = "/api/v1"
REFERENCE = (Path(__file__).parent / "corpus" / "reference.csv").read_bytes()


@pytest.fixture
def dataset(app_client: httpx.Client) -> Iterator[dict[str, Any]]:
    response = app_client.post(f"{API}/datasets", files={"file": ("ref.csv", REFERENCE)})
    assert response.status_code == 201, response.text
    yield response.json()
    app_client.delete(f"{API}/datasets/{response.json()['id']}", params={"force": "true"})


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the messages really sent to Redis, per run id."""
    sent: Counter[str] = Counter()
    real = runs_service.enqueue_run

    def counting(run_id: str, queue: str) -> None:
        real(run_id, queue)
        sent[run_id] += 1

    monkeypatch.setattr(runs_service, "enqueue_run", counting)
    return sent


def run_body(dataset_id: str, **params: Any) -> dict[str, Any]:
    return {
        "model_type": "lca",
        "name": "idempotent",
        "dataset_id": dataset_id,
        "params": {"n_classes": 2, "n_init": 2, **params},
    }


def total_runs(client: httpx.Client) -> int:
    return int(client.get(f"{API}/runs").json()["total"])


def key_header() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_retry_with_the_same_key_answers_the_same_run(
    app_client: httpx.Client, dataset: dict[str, Any], enqueued: Counter[str]
) -> None:
    headers = key_header()
    before = total_runs(app_client)
    first = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(3):
        again = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
        assert again.status_code == 202, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
    assert total_runs(app_client) == before + 1
    assert enqueued == Counter({first.json()["id"]: 1})
    with session_scope() as session:
        stored = session.scalars(
            select(IdempotencyKey).where(IdempotencyKey.key == headers["Idempotency-Key"])
        ).one()
        assert stored.run_id == first.json()["id"] and len(stored.request_hash) == 64


def test_same_key_with_another_body_is_409(
    app_client: httpx.Client, dataset: dict[str, Any], enqueued: Counter[str]
) -> None:
    headers = key_header()
    first = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    before = total_runs(app_client)
    other = app_client.post(
        f"{API}/runs", json=run_body(dataset["id"], n_classes=3), headers=headers
    )
    assert other.status_code == 409, other.text
    detail = other.json()["detail"]
    assert headers["Idempotency-Key"] in detail and first.json()["id"] in detail
    assert total_runs(app_client) == before
    assert sum(enqueued.values()) == 1
    # The original request still replays.
    again = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


def test_equivalent_bodies_count_as_the_same_request(
    app_client: httpx.Client, dataset: dict[str, Any]
) -> None:
    # Key order and spelled-out defaults do not make a different request.
    headers = key_header()
    body = run_body(dataset["id"])
    first = app_client.post(f"{API}/runs", json=body, headers=headers)
    reordered = dict(reversed(list({**body, "covariate_columns": None}.items())))
    again = app_client.post(f"{API}/runs", json=reordered, headers=headers)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


def test_without_a_key_each_submission_is_a_new_run(
    app_client: httpx.Client, dataset: dict[str, Any], enqueued: Counter[str]
) -> None:
    ids = {app_client.post(f"{API}/runs", json=run_body(dataset["id"])).json()["id"] for _ in "ab"}
    assert len(ids) == 2 and set(enqueued) == ids


def test_sweep_is_created_and_queued_once(
    app_client: httpx.Client, dataset: dict[str, Any], enqueued: Counter[str]
) -> None:
    headers = key_header()
    body = run_body(dataset["id"], n_classes="1-2")  # 3 classes are too many for 12 households
    first = app_client.post(f"{API}/runs", json=body, headers=headers).json()
    again = app_client.post(f"{API}/runs", json=body, headers=headers).json()
    assert again["id"] == first["id"] and again["child_ids"] == first["child_ids"]
    assert len(first["child_ids"]) == 2
    assert enqueued == Counter(dict.fromkeys(first["child_ids"], 1))


def test_inline_data_is_stored_once(app_client: httpx.Client, enqueued: Counter[str]) -> None:
    headers = key_header()
    body = {
        "model_type": "lca",
        "params": {"n_classes": 2},
        "data": {"csv_base64": base64.b64encode(REFERENCE).decode(), "filename": "inline.csv"},
    }
    datasets_before = app_client.get(f"{API}/datasets").json()["total"]
    first = app_client.post(f"{API}/runs", json=body, headers=headers).json()
    again = app_client.post(f"{API}/runs", json=body, headers=headers).json()
    assert again["id"] == first["id"] and again["dataset_id"] == first["dataset_id"]
    assert app_client.get(f"{API}/datasets").json()["total"] == datasets_before + 1
    assert sum(enqueued.values()) == 1
    app_client.delete(f"{API}/datasets/{first['dataset_id']}", params={"force": "true"})


def test_a_submission_that_was_not_queued_can_be_retried(
    app_client: httpx.Client, dataset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Redis down while the first attempt is queued: 503, the run is marked failed
    headers = key_header()

    def redis_down(run_id: str, queue: str) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(runs_service, "enqueue_run", redis_down)
    failed = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    assert failed.status_code == 503, failed.text
    monkeypatch.undo()
    # When the client retries with the same key, Then it gets a new, queued run
    retry = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    assert retry.status_code == 202 and "idempotent-replayed" not in retry.headers
    assert retry.json()["status"] == "queued"
    failed_runs = app_client.get(f"{API}/runs", params={"status": "failed"}).json()["items"]
    assert retry.json()["id"] not in {r["id"] for r in failed_runs}


def test_a_deleted_run_frees_its_key(app_client: httpx.Client, dataset: dict[str, Any]) -> None:
    headers = key_header()
    first = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers).json()
    assert app_client.delete(f"{API}/runs/{first['id']}").status_code == 204
    again = app_client.post(f"{API}/runs", json=run_body(dataset["id"]), headers=headers)
    assert again.status_code == 202 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first["id"]


@pytest.mark.parametrize("key", ["", "k" * 256, "naïve", "two words"])
def test_malformed_keys_are_refused(
    app_client: httpx.Client, dataset: dict[str, Any], key: str
) -> None:
    before = total_runs(app_client)
    response = app_client.post(
        f"{API}/runs",
        json=run_body(dataset["id"]),
        headers={"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 422, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert total_runs(app_client) == before


def test_concurrent_retries_against_a_real_server_create_one_run(api_url: str) -> None:
    # Eight clients send the same keyed submission at once to the uvicorn server.
    with httpx.Client(base_url=api_url, timeout=60) as client:
        dataset = client.post(f"{API}/datasets", files={"file": ("ref.csv", REFERENCE)}).json()
        headers = key_header()
        body = run_body(dataset["id"])
        before = total_runs(client)

        def submit(_: int) -> httpx.Response:
            with httpx.Client(base_url=api_url, timeout=60) as own:
                return own.post(f"{API}/runs", json=body, headers=headers)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(submit, range(8)))
        assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
        assert total_runs(client) == before + 1
        client.delete(f"{API}/datasets/{dataset['id']}", params={"force": "true"})
