"""Fixtures the AppTest suites share: no API token from the environment, and an API that is
not there."""

from __future__ import annotations

import pytest

from backend.embedded_redis import free_port


@pytest.fixture
def no_api_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app talks to the API without a token, whatever the shell running the tests has."""
    monkeypatch.delenv("API_TOKEN", raising=False)


@pytest.fixture
def backend_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """API_URL points at a free port: nothing answers there."""
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
