"""Real services for the test session: a database and a Redis of its own, an API server and a
Dramatiq worker as subprocesses.

PostgreSQL and a shared Redis are used when TEST_DATABASE_URL / TEST_REDIS_URL name them
(.ci/run does); otherwise a SQLite file and an embedded redis-server. Every session gets its own
database and its own Redis key prefix, so runs never see each other's data.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.cli import api_command
from backend.embedded_redis import EmbeddedRedis, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class TestEnvironment:
    database_url: str
    redis_url: str
    prefix: str
    data_dir: Path
    embedded_redis: EmbeddedRedis | None = None
    admin_url: str | None = None
    database_name: str | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=self.prefix,
            DATA_DIR=str(self.data_dir),
            ENVIRONMENT="test",
            PROGRESS_MIN_INTERVAL_SECONDS="0.05",
            HEARTBEAT_SECONDS="1",
            AUTO_MIGRATE="false",
            # Tests submit as one client ("anonymous") and leave runs queued: no cap unless a
            # test sets one (tests/test_fairness.py).
            MAX_ACTIVE_RUNS_PER_CLIENT="1000000",
            # Never the app's embedded stack (ui/embedded.py): a process of the suite that ran
            # the app's script with no API address started `up --no-ui` on this session's
            # database and Redis, a second worker on its queues that outlived the test.
            EMBEDDED_STACK="0",
        )
        env.update(extra)
        return env

    def teardown(self) -> None:
        for process in self.processes:
            stop_process(process)
        try:
            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(f"{self.prefix}*", count=1000):
                client.delete(key)
        except redis.RedisError:
            pass
        if self.embedded_redis:
            self.embedded_redis.stop()
        if self.admin_url and self.database_name:
            from backend.db import get_engine

            get_engine().dispose()
            engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)'))
            engine.dispose()


def make_environment(tmp: Path) -> TestEnvironment:
    tag = uuid.uuid4().hex[:10]
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    admin_url = os.environ.get("TEST_DATABASE_URL")
    database_name = None
    if admin_url:
        admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
        database_name = f"ms_test_{tag}"
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database_name}"'))
        engine.dispose()
        database_url = (
            make_url(admin_url).set(database=database_name).render_as_string(hide_password=False)
        )
    else:
        database_url = f"sqlite:///{data_dir / 'test.db'}"
    embedded = None
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        embedded = EmbeddedRedis(port=free_port(), persist=False)
        redis_url = embedded.start()
    return TestEnvironment(
        database_url=database_url,
        redis_url=redis_url,
        prefix=f"mstest-{tag}",
        data_dir=data_dir,
        embedded_redis=embedded,
        admin_url=admin_url,
        database_name=database_name,
    )


def wait_for_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_process(
    command: list[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    import signal

    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_api(environment: TestEnvironment, log_path: Path, env: dict[str, str]) -> str:
    """The API as `market-structure api` runs it, on a free loopback port."""
    port = free_port()
    process = start_process(api_command("127.0.0.1", port, 1), env, log_path)
    environment.processes.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/live", process=process)
    return url


def start_worker(
    environment: TestEnvironment, log_path: Path, env: dict[str, str], processes: int = 1
) -> subprocess.Popen[bytes]:
    # The `dramatiq` command the package installs, pointed at the `workers` package; with
    # WORKER_CONCURRENCY as `market-structure worker` sets it (fits size their threads by it).
    dramatiq = str(Path(sys.executable).parent / "dramatiq")
    command = [dramatiq, "workers", "--processes", str(processes), "--threads", "1"]
    process = start_process(command, {"WORKER_CONCURRENCY": str(processes), **env}, log_path)
    environment.processes.append(process)
    return process


class IsolatedStack:
    """A stack of its own (database, Redis prefix, API, workers) for tests that kill processes
    or flush Redis without disturbing the session's shared stack."""

    def __init__(self, tmp: Path, **settings: str) -> None:
        self.environment = make_environment(tmp)
        self.settings = {"AUTO_MIGRATE": "true", **settings}
        self.log_dir = tmp
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api_url = ""

    def env(self) -> dict[str, str]:
        return self.environment.env(**self.settings)

    def start_api(self) -> str:
        self.api_url = start_api(self.environment, self.log_dir / "api.log", self.env())
        return self.api_url

    def start_worker(self, processes: int = 1) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"worker{len(self.workers)}.log"
        process = start_worker(self.environment, log, self.env(), processes)
        self.workers.append(process)
        return process

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.environment.redis_url, decode_responses=True)

    def flush_redis(self) -> int:
        """Delete every key of this stack (what a Redis restart without persistence does)."""
        client = self.redis()
        keys = list(client.scan_iter(f"{self.environment.prefix}*", count=1000))
        return int(client.delete(*keys)) if keys else 0

    def close(self) -> None:
        self.environment.teardown()
