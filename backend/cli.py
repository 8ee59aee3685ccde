"""`market-structure` — up | api | worker | ui | migrate | migrate-storage.

`up` runs everything on one machine: a private Redis (unless REDIS_URL is set), the SQLite
file under DATA_DIR (unless DATABASE_URL is set), the API, the worker(s) and the UI (not with
`--no-ui`: the app started alone runs `up --no-ui` for its embedded stack). It
supervises what it started (backend/supervisor.py): a worker that dies (Dramatiq's master exits
when one of its processes is killed), the private Redis, the API and the UI are restarted, after
a delay that grows while one keeps dying; Ctrl-C stops every process, Redis last.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from backend.settings import get_settings
from backend.supervisor import Supervisor

UI_ENTRYPOINT = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def api_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "backend.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",  # the app logs each request itself, as JSON with the run id
    ]


def worker_command(processes: int, threads: int, queues: list[str] | None = None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    if queues:
        command += ["--queues", *queues]
    return command


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """Streamlit on `host` (UI_HOST, loopback unless told otherwise: on any other interface the
    app shows only its sign-in page until someone signs in, ui/auth.py)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(UI_ENTRYPOINT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def cmd_migrate(_args: argparse.Namespace) -> int:
    from backend.migrations import upgrade_database

    upgrade_database()
    print(f"Database at {get_settings().resolved_database_url} is up to date.")
    return 0


def cmd_migrate_storage(_args: argparse.Namespace) -> int:
    """Move datasets and artifacts stored as database blobs (before migration 0009) into
    STORAGE_URL; safe to rerun, and to run while the service is up."""
    from backend.migrations import upgrade_database
    from backend.storage.migrate import move_blobs

    upgrade_database()
    left: list[str] = []
    datasets, artifacts = move_blobs(left=left)
    print(
        f"Moved {datasets} dataset(s) and {artifacts} artifact(s) into "
        f"{get_settings().resolved_storage_url}."
    )
    if left:
        print(f"{len(left)} dataset(s) not moved (said above): their blobs stay in the database.")
        return 1
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    s = get_settings()
    return subprocess.call(
        api_command(args.host or s.api_host, args.port or s.api_port, s.api_workers)
    )


def metrics_env(port: int) -> dict[str, str]:
    """Dramatiq's own (lower-case) variables for its Prometheus exposition server; one metrics
    directory per port, so two worker groups on one host do not clear each other's files."""
    if not port:
        return {}
    return {
        "dramatiq_prom_port": str(port),
        "dramatiq_prom_db": os.path.join(tempfile.gettempdir(), f"dramatiq-prometheus-{port}"),
    }


def cmd_worker(args: argparse.Namespace) -> int:
    s = get_settings()
    env = {**os.environ, **metrics_env(s.worker_metrics_port)}
    return subprocess.call(
        worker_command(s.worker_concurrency, s.worker_threads, args.queues), env=env
    )


def cmd_ui(args: argparse.Namespace) -> int:
    s = get_settings()
    return subprocess.call(ui_command(args.port or s.ui_port, args.host or s.ui_host))


def _late(ok: bool) -> str:
    return "" if ok else "  (not answering yet)"


def wait_until_healthy(url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def cmd_up(args: argparse.Namespace) -> int:
    from backend.embedded_redis import EmbeddedRedis
    from backend.migrations import upgrade_database

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    if not {"redis_url", "redis_host"} & settings.model_fields_set:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        env["REDIS_URL"] = embedded.url
    env["DATABASE_URL"] = settings.resolved_database_url
    env["DATA_DIR"] = str(settings.data_dir)
    env["API_URL"] = settings.resolved_api_url
    env["AUTO_MIGRATE"] = "false"  # migrated once, here, before anything else starts
    env.update(metrics_env(settings.worker_metrics_port))
    supervisor = Supervisor(env)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # Ctrl-C (SIGINT) stops everything even when `up` was started from a script with `&`: a
    # shell starts such a command with SIGINT ignored, and Python then installs no handler.
    signal.signal(signal.SIGINT, on_signal)
    try:
        if embedded:
            # Supervised like the worker: restarted on the same port and data directory when
            # it dies, and stopped after everything that uses it.
            redis = supervisor.start("redis", embedded.command(), label="Redis", stop_last=True)
            embedded.wait_ready(redis)
        upgrade_database()
        supervisor.start(
            "api", api_command(settings.api_host, settings.api_port, settings.api_workers)
        )
        supervisor.start(
            "worker", worker_command(settings.worker_concurrency, settings.worker_threads)
        )
        with_ui = not getattr(args, "no_ui", False)
        if with_ui:
            supervisor.start("ui", ui_command(settings.ui_port, settings.ui_host))
        api_ok = wait_until_healthy(f"{settings.resolved_api_url}/live")
        app_line = "  App:    (not started: --no-ui)\n"
        if with_ui:
            ui_ok = wait_until_healthy(f"http://127.0.0.1:{settings.ui_port}/_stcore/health")
            app_line = f"  App:    http://localhost:{settings.ui_port}{_late(ui_ok)}\n"
        where = "embedded" if embedded else "external"
        print(
            "\nMarket Structure is running:\n"
            f"{app_line}"
            f"  API:    {settings.resolved_api_url}/docs{_late(api_ok)}\n"
            f"  Redis:  {env.get('REDIS_URL', settings.resolved_redis_url)} ({where})\n"
            f"  DB:     {settings.resolved_database_url}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        supervisor.watch()
    except KeyboardInterrupt:
        print("\n[market-structure] stopping…", flush=True)
    finally:
        supervisor.stop_all()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="market-structure", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="everything on one machine")
    up.add_argument(
        "--no-ui", action="store_true", help="without the app (when it starts the stack itself)"
    )
    up.set_defaults(func=cmd_up)
    api = sub.add_parser("api", help="the HTTP API (uvicorn)")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)
    worker = sub.add_parser("worker", help="Dramatiq worker processes")
    worker.add_argument("--queues", nargs="*", help="only these queues (default: all)")
    worker.set_defaults(func=cmd_worker)
    ui = sub.add_parser("ui", help="the Streamlit app")
    ui.add_argument("--host", help="interface to listen on (default UI_HOST, 127.0.0.1)")
    ui.add_argument("--port", type=int)
    ui.set_defaults(func=cmd_ui)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "migrate-storage", help="move datasets and artifacts from database blobs into storage"
    ).set_defaults(func=cmd_migrate_storage)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
