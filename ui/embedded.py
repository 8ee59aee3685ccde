"""Streamlit-Cloud style: `streamlit run ui/app.py` alone. When no API address is configured
(no API_URL in the environment or in st.secrets) and nothing answers at the default address, the
app starts the embedded stack in the background — `market-structure up --no-ui`: a private
Redis, a SQLite file under DATA_DIR, the API and a worker (this app is the UI). Set
EMBEDDED_STACK=0 to never start anything.

One stack per server process (all sessions share it), started at most once, and stopped with the
process (it runs in its own session, so it is signalled when Streamlit exits).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

_LOCK = threading.Lock()
_STARTED: dict[str, subprocess.Popen[bytes]] = {}


def wanted(configured: str | None) -> bool:
    """Whether this process should start the stack: nothing configured, not disabled."""
    return not configured and os.environ.get("EMBEDDED_STACK", "1") not in ("0", "false", "no")


def _command() -> list[str]:
    exe = shutil.which("market-structure")
    base = [exe] if exe else [sys.executable, "-m", "backend.cli"]
    return [*base, "up", "--no-ui"]


def start(api_url: str) -> bool:
    """Start the stack for `api_url` (a loopback address) once; True if it is starting."""
    with _LOCK:
        running = _STARTED.get(api_url)
        if running is not None and running.poll() is None:
            return True
        port = api_url.rsplit(":", 1)[-1].split("/")[0]
        env = {**os.environ, "API_PORT": port}
        log_dir = Path(os.environ.get("DATA_DIR", "./data"))
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            log = open(log_dir / "embedded-stack.log", "ab")  # noqa: SIM115 - the child keeps it
            process = subprocess.Popen(
                _command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=Path(__file__).resolve().parent.parent,
            )
        except OSError:
            return False
        _STARTED[api_url] = process
        atexit.register(_stop, process)
        return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the stack this process started (`up` stops its own children on SIGTERM)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
