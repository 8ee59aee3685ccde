"""Who the app lets in (issue 12, item 1): `./dev up` served it on every interface with no
sign-in, and anyone who reached it listed, downloaded and deleted every run with the token it
holds. AppTest against a small recording HTTP server standing in for the API: what each
visitor sees, and every request the app makes with the token it sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.ui.test_app import app
from ui import auth

PASSWORD = "correct horse battery"
TOKEN = "the-deployments-api-token"
AUTH = {
    "redirect_uri": "https://segments.example.com/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret",
    "client_id": "client",
    "client_secret": "secret",
    "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration",
}


class Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.calls.append((self.path, self.headers.get("Authorization")))
        body = {"status": "healthy", "database_connected": True, "redis_connected": True}
        if not self.path.startswith("/health"):
            body = {"items": [], "runs": [], "total": 0, "limit": 50, "offset": 0}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str | None]]]:
    """Every request the app makes (path, Authorization header)."""
    calls: list[tuple[str, str | None]] = []
    handler = type("Handler", (Recorder,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    for name in ("API_TOKEN", "APP_PASSWORD", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def on_the_network() -> Iterator[None]:
    """The app served on every interface, as `streamlit run` does by default."""
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        yield
    finally:
        config.set_option("server.address", before)


def page_title(at: AppTest) -> str:
    return str(at.title[0].value) if at.title else ""


def test_on_the_network_without_sign_in_the_app_refuses(
    api: list[tuple[str, str | None]], on_the_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app on every interface, holding the deployment's token, no sign-in configured
    monkeypatch.setenv("API_TOKEN", TOKEN)
    # When someone opens it
    at = app().run()
    # Then they get only the refusal page, which says how to set up sign-in
    assert not at.exception, at.exception
    assert page_title(at) == "Sign-in needed"
    assert "APP_PASSWORD" in at.markdown[0].value and "[auth]" in at.markdown[0].value
    assert not at.file_uploader and not at.button
    # and the app asked the API nothing
    assert api == []


def test_a_password_is_asked_before_any_call_then_the_token_is_sent(
    api: list[tuple[str, str | None]], on_the_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app on every interface with a password and the deployment's token
    monkeypatch.setenv("APP_PASSWORD", PASSWORD)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    # When someone opens it, it asks for the password, and nothing else happens
    at = app().run()
    assert page_title(at) == "Market Structure"
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.file_uploader and api == []
    # When they give a wrong one: refused, still no call
    at.text_input(key="auth.password").input("guess")
    at.button[0].click().run()
    assert "not right" in at.error[0].value and api == []
    # When they give the right one: the app opens and calls the API with the token
    at.text_input(key="auth.password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert page_title(at) == "Your purchase data"
    assert api and all(header == f"Bearer {TOKEN}" for _, header in api), api
    # When they sign out, the password is asked again
    at.button(key="auth.sign_out").click().run()
    assert page_title(at) == "Market Structure" and at.text_input


def test_a_placeholder_password_is_refused_in_production(
    api: list[tuple[str, str | None]], on_the_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("APP_PASSWORD", "changeme")
    at = app().run()
    assert page_title(at) == "The app is not set up"
    assert "APP_PASSWORD" in at.error[0].value and not at.text_input and api == []


def oidc_app(user: dict[str, Any]) -> AppTest:
    at = app()
    at.secrets["auth"] = AUTH
    at.secrets["api_tokens"] = {"Ana@Example.com": "ana-own-token"}
    at.user = user
    return at


def test_with_oidc_the_person_sends_their_own_token(
    api: list[tuple[str, str | None]], on_the_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given OIDC sign-in, a token per person, and a shared token in the environment
    monkeypatch.setenv("API_TOKEN", TOKEN)
    # When nobody has signed in: the sign-in page, no call
    at = oidc_app({"is_logged_in": False}).run()
    assert page_title(at) == "Market Structure" and api == []
    # When someone signs in whom the list does not name: no access, no call, no shared token
    at = oidc_app({"is_logged_in": True, "email": "eve@example.com"}).run()
    assert page_title(at) == "No access" and api == []
    # When Ana signs in: the app opens and sends her own token, never the shared one
    at = oidc_app({"is_logged_in": True, "email": "ana@example.com"}).run()
    assert not at.exception, at.exception
    assert page_title(at) == "Your purchase data"
    assert api and all(header == "Bearer ana-own-token" for _, header in api), api


def test_on_this_machine_the_app_opens_with_the_configured_token(
    api: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    assert auth.is_loopback(config.get_option("server.address"))
    at = app().run()
    assert page_title(at) == "Your purchase data"
    assert api and all(header == f"Bearer {TOKEN}" for _, header in api)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost:8501", True),
        ("[::1]:8501", True),
        ("::1", True),
        ("127.0.1.1", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("segments.example.com", False),
        ("10.0.0.5:8501", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert auth.is_loopback(host) is loopback


def test_passwords_compare_in_constant_time_by_digest() -> None:
    assert auth.password_matches(PASSWORD, PASSWORD)
    assert not auth.password_matches(PASSWORD[:-1], PASSWORD)
    assert not auth.password_matches("", PASSWORD)
