"""The app listens on this machine only unless told otherwise (issue 12, item 1): the command
lines `market-structure ui` and `up` build, and the repository's Streamlit settings. Parsed,
never started."""

from __future__ import annotations

import signal
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend import cli
from backend.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]


def address(command: list[str]) -> str:
    assert command[command.index("run") + 1].endswith("ui/app.py")
    return command[command.index("--server.address") + 1]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("UI_HOST", "UI_PORT", "REDIS_HOST", "DATABASE_URL", "API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def ui_calls(monkeypatch: pytest.MonkeyPatch, settings_env: None) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: calls.append(command) or 0)
    return calls


def test_ui_listens_on_loopback_unless_told_otherwise(
    ui_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.main(["ui"])
    cli.main(["ui", "--host", "0.0.0.0", "--port", "9000"])
    monkeypatch.setenv("UI_HOST", "10.1.2.3")
    get_settings.cache_clear()
    cli.main(["ui"])
    assert [address(c) for c in ui_calls] == ["127.0.0.1", "0.0.0.0", "10.1.2.3"]
    assert ui_calls[1][ui_calls[1].index("--server.port") + 1] == "9000"


class FakeSupervisor:
    """Records what `up` starts, then stops as at Ctrl-C."""

    started: dict[str, list[str]]

    def __init__(self, env: dict[str, str]) -> None:
        FakeSupervisor.started = {}

    def start(self, name: str, command: list[str], **_: Any) -> None:
        self.started[name] = command

    def watch(self) -> None:
        raise KeyboardInterrupt

    def stop_all(self) -> None:
        pass


def test_up_starts_the_app_on_loopback(monkeypatch: pytest.MonkeyPatch, settings_env: None) -> None:
    import backend.migrations

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # no private Redis to start
    monkeypatch.setattr(cli, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(cli, "wait_until_healthy", lambda *_a, **_k: True)
    monkeypatch.setattr(backend.migrations, "upgrade_database", lambda: None)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        cli.main(["up"])
        assert address(FakeSupervisor.started["ui"]) == "127.0.0.1"
        monkeypatch.setenv("UI_HOST", "0.0.0.0")
        get_settings.cache_clear()
        cli.main(["up"])
        assert address(FakeSupervisor.started["ui"]) == "0.0.0.0"
    finally:
        signal.signal(signal.SIGTERM, handler)


def test_streamlit_settings_listen_on_loopback() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
