"""Session-wide real services. The environment variables are set before any backend module
reads its settings, so in-process code and subprocesses share one database and Redis."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import TestEnvironment, make_environment, start_api, start_worker

_TMP = Path(tempfile.mkdtemp(prefix="ms-tests-"))
ENV = make_environment(_TMP)
os.environ.update(ENV.env(AUTO_MIGRATE="true"))

from backend.migrations import upgrade_database  # noqa: E402

upgrade_database()


def pytest_report_header() -> str:
    return f"market-structure: database={ENV.backend}, redis={ENV.redis_url}, prefix={ENV.prefix}"


def pytest_sessionfinish() -> None:
    ENV.teardown()


@pytest.fixture(scope="session")
def session_environment() -> TestEnvironment:
    return ENV


@pytest.fixture(scope="session")
def log_dir() -> Path:
    path = _TMP / "logs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def api_url(log_dir: Path) -> str:
    """A real uvicorn server running the API on a free port."""
    return start_api(ENV, log_dir / "api.log", ENV.env())


@pytest.fixture(scope="session")
def worker(log_dir: Path) -> None:
    """A real `dramatiq workers` process consuming this session's queues."""
    start_worker(ENV, log_dir / "worker.log", ENV.env())


@pytest.fixture(scope="session")
def live_stack(api_url: str, worker: None) -> str:
    """API and worker both running; answers the API's base URL (no /api/v1)."""
    return api_url


@pytest.fixture
def client(live_stack: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=30) as c:
        yield c


@pytest.fixture
def app_client() -> Iterator[httpx.Client]:
    """The API in-process (no worker): for validation and refusal tests."""
    from fastapi.testclient import TestClient

    from backend.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c
