"""ui/api_client.py: configuration, error bodies, an unreachable backend, and the real API."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from backend.embedded_redis import free_port
from tests.support.data import simulate_lca
from ui.api_client import ApiClient, ApiError, BackendUnavailable, _error_from, get_client

UI = Path(__file__).resolve().parents[2] / "ui"


def test_address_and_token_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_URL", raising=False)
    monkeypatch.delenv("API_TOKEN", raising=False)
    assert get_client() == ApiClient("http://127.0.0.1:8000", None)
    monkeypatch.setenv("API_URL", "https://segments.example.com/")
    monkeypatch.setenv("API_TOKEN", "s3cret")
    client = get_client()
    assert client.base_url == "https://segments.example.com"
    assert client._headers()["Authorization"] == "Bearer s3cret"


def test_the_apis_sentence_becomes_the_error_detail() -> None:
    sentence = 'column "prod_7" has values other than 0/1'
    response = httpx.Response(
        422, json={"error": sentence, "detail": sentence, "title": "Invalid input"}
    )
    error = _error_from(response)
    assert (error.status, error.title, error.detail) == (
        422, "Invalid input", 'column "prod_7" has values other than 0/1',
    )


def test_an_error_without_a_body_still_reads_as_a_sentence() -> None:
    assert "problem on its side" in _error_from(httpx.Response(502, text="<html>")).detail
    assert "refused the request (404)" in _error_from(httpx.Response(404)).detail


def test_an_unreachable_backend_is_a_friendly_backend_unavailable() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable) as caught:
        client.list_runs()
    assert "Can't reach the analysis service" in caught.value.detail
    assert "Traceback" not in caught.value.detail


def test_against_the_real_api(live_stack: str) -> None:
    # Given the running API
    client = ApiClient(live_stack)
    assert client.health()["status"] in ("healthy", "degraded")
    assert "lca" in [m["model_type"] for m in client.models()]
    # When a file is uploaded
    sim = simulate_lca(n=120)
    dataset = client.upload_dataset("tiny.csv", sim.csv())
    # Then its profile comes back, and a refusal carries the API's sentence
    assert dataset["n_rows"] == 120
    assert {c["name"] for c in dataset["columns"] if c["is_binary"]} == set(sim.products)
    with pytest.raises(ApiError) as caught:
        client.upload_dataset("bad.csv", b"a,b\n1,2\n")
    assert caught.value.status and 400 <= caught.value.status < 500
    assert caught.value.detail and not isinstance(caught.value, BackendUnavailable)
    with pytest.raises(ApiError) as missing:
        client.get_run("no-such-run")
    assert missing.value.status == 404


def test_the_ui_never_imports_the_backend_or_the_workers() -> None:
    offenders = []
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(UI)}: {n}"
                for n in names
                if n.split(".")[0] in ("backend", "workers")
            ]
    assert offenders == []


def test_only_the_api_client_talks_http() -> None:
    users = sorted(
        str(p.relative_to(UI)) for p in UI.rglob("*.py")
        if "httpx" in p.read_text() or "requests" in p.read_text().split()
    )
    assert users == ["api_client.py"]
