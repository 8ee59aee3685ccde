"""Access: bearer tokens on /api/v1 (health endpoints open), placeholder tokens refused in
production, a warning when the API is open, the UI sending its token, uploads cut off by a real
server, and CSV exports that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.auth import token_is_valid
from backend.settings import Settings, get_settings
from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from tests.support.services import IsolatedStack

TOKENS = "first-token-0123456789,second-token-0123456789"
FIRST, SECOND = TOKENS.split(",")
REFERENCE = (Path(__file__).parent / "corpus" / "reference.csv").read_bytes()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def guarded(app_client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> httpx.Client:
    """The in-process API with API_TOKEN set (read per request from the cached settings)."""
    monkeypatch.setattr(get_settings(), "api_token", TOKENS)
    return app_client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/datasets"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/models"),
        ("GET", "/api/v1/runs/0123456789abcdef0123456789abcdef"),
        ("GET", "/api/v1/progress/0123456789abcdef0123456789abcdef/stream"),
        ("POST", "/api/v1/runs"),
        ("DELETE", "/api/v1/datasets/0123456789abcdef0123456789abcdef"),
        ("GET", "/api/v1/no-such-route"),
        ("GET", "/api/v1"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong-token-0123456789"),
        bearer(FIRST + "x"),
        bearer(FIRST[:-1]),
        {"Authorization": FIRST},  # no scheme
        {"Authorization": f"Basic {FIRST}"},
        {"Authorization": "Bearer "},
        bearer(TOKENS),  # the whole list is not a token
    ],
    ids=["none", "wrong", "longer", "shorter", "no-scheme", "basic", "empty", "list"],
)
def test_api_without_a_valid_token_is_401(
    guarded: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> None:
    response = guarded.request(method, path, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["title"] == "Unauthorized" and body["error"] == body["detail"]
    assert "Authorization: Bearer" in body["detail"] or "not valid" in body["detail"]


@pytest.mark.parametrize("token", [FIRST, SECOND])
def test_any_configured_token_is_let_in(guarded: httpx.Client, token: str) -> None:
    assert guarded.get("/api/v1/datasets", headers=bearer(token)).status_code == 200
    assert guarded.get("/api/v1/models", headers={"authorization": f"bearer {token}"}).is_success
    # Past the token, the usual answers: 404 for what does not exist.
    assert guarded.get("/api/v1/no-such-route", headers=bearer(token)).status_code == 404


def test_upload_without_token_stores_nothing(guarded: httpx.Client) -> None:
    before = guarded.get("/api/v1/datasets", headers=bearer(FIRST)).json()["total"]
    response = guarded.post("/api/v1/datasets", files={"file": ("r.csv", REFERENCE)})
    assert response.status_code == 401
    assert guarded.get("/api/v1/datasets", headers=bearer(FIRST)).json()["total"] == before
    created = guarded.post(
        "/api/v1/datasets", files={"file": ("r.csv", REFERENCE)}, headers=bearer(SECOND)
    )
    assert created.status_code == 201, created.text
    guarded.delete(f"/api/v1/datasets/{created.json()['id']}", headers=bearer(SECOND))


@pytest.mark.parametrize("path", ["/health", "/ready", "/live", "/openapi.json"])
def test_health_endpoints_stay_open(guarded: httpx.Client, path: str) -> None:
    response = guarded.get(path)
    assert response.status_code in (200, 503)  # /ready says 503 when a dependency is down
    assert response.status_code != 401


def test_openapi_documents_the_bearer_scheme_when_a_token_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from backend.app import create_app

    open_schema = create_app().openapi()
    assert "security" not in open_schema["paths"]["/api/v1/runs"]["post"]
    monkeypatch.setattr(get_settings(), "api_token", TOKENS)
    schema = create_app().openapi()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operation = schema["paths"]["/api/v1/runs"]["post"]
    assert {"HTTPBearer": []} in operation["security"]
    assert "401" in operation["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_token_comparison() -> None:
    tokens = [FIRST, SECOND]
    assert token_is_valid(f"Bearer {FIRST}", tokens)
    assert token_is_valid(f"bearer  {SECOND} ", tokens)
    for bad in [None, "", "Bearer", f"Token {FIRST}", f"Bearer {FIRST}{FIRST}", "Bearer ü"]:
        assert not token_is_valid(bad, tokens)
    assert not token_is_valid(f"Bearer {FIRST}", [])


@pytest.mark.parametrize(
    "token", ["changeme", "CHANGEME", "secret", "short-token", f"{FIRST},changeme"]
)
def test_placeholder_tokens_are_refused_in_production(token: str) -> None:
    with pytest.raises(ValidationError, match="API_TOKEN"):
        Settings(environment="production", api_token=token)
    # Development and tests take anything.
    assert Settings(environment="development", api_token=token).api_tokens


def test_real_tokens_are_accepted_in_production() -> None:
    settings = Settings(environment="production", api_token=f" {FIRST} , {SECOND} ,")
    assert settings.api_tokens == [FIRST, SECOND]
    assert Settings(environment="production", api_token=None).api_tokens == []


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(
    ("token", "host", "expected"),
    [
        (None, "127.0.0.1", "open to anyone who can reach it (it listens on loopback only)"),
        (None, "0.0.0.0", "API_HOST=0.0.0.0 exposes it beyond this machine, set API_TOKEN"),
        (TOKENS, "0.0.0.0", None),
    ],
)
def test_start_says_when_the_api_is_open(
    monkeypatch: pytest.MonkeyPatch, token: str | None, host: str, expected: str | None
) -> None:
    from backend.app import create_app

    monkeypatch.setattr(get_settings(), "api_token", token)
    monkeypatch.setattr(get_settings(), "api_host", host)
    app = create_app()
    collect = Collect()
    logging.getLogger("backend.auth").addHandler(collect)
    try:
        with TestClient(app):
            pass
    finally:
        logging.getLogger("backend.auth").removeHandler(collect)
    if expected is None:
        assert collect.messages == []
    else:
        assert len(collect.messages) == 1 and expected in collect.messages[0]


def test_api_binds_to_loopback_by_default() -> None:
    assert Settings.model_fields["api_host"].default == "127.0.0.1"


def test_session_api_started_open_says_so(api_url: str, log_dir: Path) -> None:
    # The session's uvicorn (no API_TOKEN) logged the warning at start.
    assert "API_TOKEN is not set" in (log_dir / "api.log").read_text()


@pytest.fixture(scope="module")
def token_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedStack]:
    """A real uvicorn with API_TOKEN and a 1 MB upload limit."""
    stack = IsolatedStack(
        tmp_path_factory.mktemp("access"), API_TOKEN=TOKENS, MAX_UPLOAD_MB="1", LOG_FORMAT="text"
    )
    stack.start_api()
    yield stack
    stack.close()


def test_ui_client_sends_its_token(
    token_stack: IsolatedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import api_client

    monkeypatch.setenv("API_URL", token_stack.api_url)
    monkeypatch.delenv("API_TOKEN", raising=False)
    with pytest.raises(api_client.ApiError) as refused:
        api_client.get_client().list_datasets()
    assert refused.value.status == 401
    monkeypatch.setenv("API_TOKEN", SECOND)
    assert api_client.get_client().list_datasets()["total"] == 0
    log = (token_stack.log_dir / "api.log").read_text()
    assert "API_TOKEN is not set" not in log


def test_real_server_stops_reading_a_chunked_upload_at_the_limit(
    token_stack: IsolatedStack,
) -> None:
    sent = 0

    def gigabyte() -> Iterator[bytes]:
        nonlocal sent
        yield (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n"
        )
        block = b"0,1\n" * (1 << 14)  # 64 kB
        while sent < 1 << 30:
            sent += len(block)
            yield block

    headers = {"content-type": "multipart/form-data; boundary=B", **bearer(FIRST)}
    try:
        response = httpx.post(
            f"{token_stack.api_url}/api/v1/datasets",
            content=gigabyte(),
            headers=headers,
            timeout=60,
        )
    except httpx.TransportError:
        # The server answered 413 and closed the connection while the client was still
        # writing: the client sees a broken pipe. Either way it stopped reading early.
        response = None
    if response is not None:
        assert response.status_code == 413 and "MAX_UPLOAD_MB" in response.json()["detail"]
    # ~1 MB read by the server, plus what the socket buffers took before the close.
    assert sent < 32 * 2**20, sent


def test_csv_exports_defuse_formulas(client: httpx.Client) -> None:
    # Given households whose IDs (and one product name) a spreadsheet would run as formulas
    sim = simulate_lca(n=400, seed=5)
    frame = sim.frame.rename(columns={"prod_8": "=prod_8"})
    risky = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    frame.loc[: len(risky) - 1, "household_id"] = risky
    frame.loc[len(risky), "household_id"] = "-42"  # a plain negative number in a text column
    parquet_upload = io.BytesIO()
    frame.to_parquet(parquet_upload, index=False)  # Parquet keeps "\rCR" exactly
    dataset = upload(client, parquet_upload.getvalue(), "risky.parquet").json()
    run = submit_lca(client, dataset["id"], n_classes=2, n_init=2, id_column="household_id")
    assert wait_for(client, run["id"])["status"] == "completed"

    # When the assignments are downloaded as CSV, and inside the ZIP export
    text = client.get(f"/runs/{run['id']}/assignments", params={"format": "csv"}).text
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/runs/{run['id']}/export").content))

    # Then every risky text cell starts with a quote, and nothing else changed
    for content in (text, archive.read("memberships.csv").decode()):
        table = pd.read_csv(io.StringIO(content), keep_default_na=False)
        ids = table["household_id"].astype(str).tolist()
        assert ids[: len(risky)] == ["'" + r for r in risky]
        assert ids[len(risky)] == "-42"
        assert ids[len(risky) + 1 :] == frame["household_id"][len(risky) + 1 :].tolist()
        numeric = table.drop(columns="household_id").select_dtypes("number")
        assert numeric.shape[1] >= 2  # the probabilities stay numbers
        parquet = pd.read_parquet(
            io.BytesIO(
                client.get(f"/runs/{run['id']}/assignments", params={"format": "parquet"}).content
            )
        )
        assert parquet["household_id"].tolist()[: len(risky)] == risky  # Parquet is data
    profile = pd.read_csv(io.StringIO(archive.read("class_profile.csv").decode()))
    assert "'=prod_8" in profile["product"].tolist()
    assert "=prod_8" not in profile["product"].tolist()
