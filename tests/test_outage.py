"""The database or Redis away: every route that needs it answers 503 with Retry-After, never a
500, and answers again once it is back, without a restart.

PostgreSQL (TEST_DATABASE_URL): the database stops taking connections and its open ones are
terminated while the API runs. SQLite: the API's pooled connections keep the open file, so the
outage is an API started while its database file cannot be opened (a directory in its place);
the file is put back while that API runs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import simulate_lca
from tests.support.services import IsolatedStack, stop_process

API = "/api/v1"
# Routes that answer without the database.
WITHOUT_DATABASE = {("GET", "/api/v1/models")}
# A body each operation accepts; any other POST or PATCH gets {}.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/runs/{run_id}"): {"json": {"name": "renamed"}},
    ("POST", "/api/v1/runs/{run_id}/clustering"): {"json": {"n_clusters": 2}},
}


class Stack:
    """An isolated stack with a dataset and a run stored, and a way to take its database away."""

    def __init__(self, tmp: Path) -> None:
        self.isolated = IsolatedStack(tmp)
        self.isolated.start_api()
        self.url = self.isolated.api_url
        with httpx.Client(base_url=f"{self.url}{API}", timeout=30) as client:
            upload = client.post("/datasets", files={"file": ("d.csv", simulate_lca(n=60).csv())})
            self.dataset = upload.json()
            body = {"model_type": "lca", "dataset_id": self.dataset["id"], "params": {}}
            self.run = client.post("/runs", json=body).json()
        env = self.isolated.environment
        self.postgres = env.backend == "postgresql"
        self.sqlite_path = Path(env.database_url.removeprefix("sqlite:///"))
        self.moved = self.sqlite_path.parent / "away"

    def take_database_away(self) -> None:
        env = self.isolated.environment
        if self.postgres:
            self._admin(
                f'ALTER DATABASE "{env.database_name}" ALLOW_CONNECTIONS false',
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{env.database_name}' AND pid <> pg_backend_pid()",
            )
            return
        stop_process(env.processes.pop())  # the API: its pool holds the open file
        self.moved.mkdir()
        for part in self.sqlite_path.parent.glob(self.sqlite_path.name + "*"):
            shutil.move(part, self.moved / part.name)
        self.sqlite_path.mkdir()  # cannot be opened as a database, nor created anew
        self.isolated.settings["AUTO_MIGRATE"] = "false"
        self.url = self.isolated.start_api()

    def bring_database_back(self) -> None:
        env = self.isolated.environment
        if self.postgres:
            self._admin(f'ALTER DATABASE "{env.database_name}" ALLOW_CONNECTIONS true')
            return
        self.sqlite_path.rmdir()
        for part in self.moved.iterdir():
            shutil.move(part, self.sqlite_path.parent / part.name)

    def _admin(self, *statements: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(
            str(self.isolated.environment.admin_url), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        engine.dispose()

    def operations(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(method, documented path, URL, request arguments) of every /api/v1 operation."""
        schema = httpx.get(f"{self.url}/openapi.json", timeout=30).json()
        ids = {"run_id": self.run["id"], "dataset_id": self.dataset["id"], "name": "assignments"}
        found = []
        for path, operations in schema["paths"].items():
            if not path.startswith(API):
                continue
            for method in operations:
                method = method.upper()
                if (method, path) in WITHOUT_DATABASE:
                    continue
                url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), path)
                arguments = BODIES.get(
                    (method, path), {"json": {}} if method in ("POST", "PATCH") else {}
                )
                if (method, path) == ("POST", "/api/v1/runs"):
                    arguments = {"json": {"model_type": "lca", "dataset_id": self.dataset["id"]}}
                if (method, path) == ("POST", "/api/v1/datasets"):
                    arguments = {"files": {"file": ("d.csv", simulate_lca(n=60).csv())}}
                found.append((method, path, url, arguments))
        return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    made = Stack(tmp_path)
    yield made
    made.isolated.close()


def test_every_database_route_answers_503_with_retry_after_while_the_database_is_away(
    stack: Stack,
) -> None:
    operations = stack.operations()
    assert len(operations) >= 15, operations  # runs, datasets, progress, outputs, …
    # Given the database goes away
    stack.take_database_away()
    try:
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            # When every route that needs it is called, then each answers 503 and when to retry
            for method, path, url, arguments in operations:
                response = client.request(method, url, **arguments)
                assert response.status_code == 503, (method, path, response.text[:300])
                assert response.headers["Retry-After"].isdigit(), (method, path)
                body = response.json()
                assert body["title"] == "Service unavailable", (method, path, body)
                assert "database is unreachable" in body["detail"], (method, path, body)
                assert "Traceback" not in response.text and "sqlalchemy" not in response.text
            # and the health endpoints say what is wrong
            assert client.get("/ready").status_code == 503
            assert client.get("/health").json()["database_connected"] is False
    finally:
        stack.bring_database_back()
    # Then, once it is back, the same API answers again
    with httpx.Client(base_url=f"{stack.url}{API}", timeout=30) as client:
        assert client.get(f"/runs/{stack.run['id']}").json()["id"] == stack.run["id"]
        assert client.get("/datasets").json()["total"] >= 1


def test_routes_that_need_redis_answer_503_with_retry_after_while_redis_is_away(
    tmp_path: Path,
) -> None:
    from backend.embedded_redis import free_port

    # Given an API whose Redis is not there (nothing listens on its port)
    stack = IsolatedStack(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        stack.start_api()
        with httpx.Client(base_url=f"{stack.api_url}{API}", timeout=60) as client:
            dataset = client.post("/datasets", files={"file": ("d.csv", simulate_lca(n=60).csv())})
            assert dataset.status_code == 201, dataset.text  # storing data needs no Redis
            # When a run is submitted (queueing it needs Redis)
            body = {"model_type": "lca", "dataset_id": dataset.json()["id"], "params": {}}
            response = client.post("/runs", json=body)
            # Then it is a 503 that says when to retry, and why
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"].isdigit()
            assert "Redis is unreachable" in response.json()["detail"]
            # and what does not need Redis still answers, from the database
            runs = client.get("/runs").json()
            assert runs["total"] == 1 and runs["items"][0]["status"] == "failed"
            run_id = runs["items"][0]["id"]
            assert client.get(f"/progress/{run_id}").json()["phase"] == "failed"
        assert httpx.get(f"{stack.api_url}/ready", timeout=30).status_code == 503
    finally:
        stack.close()
