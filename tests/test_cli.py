"""`market-structure up` brings everything up on embedded defaults, keeps its private Redis
running, and Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from backend.embedded_redis import free_port
from backend.supervisor import STABLE_SECONDS, Supervisor
from tests.support.data import simulate_lca
from tests.support.services import wait_for_http

CLEARED = ("DATABASE_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PREFIX", "AUTO_MIGRATE", "API_URL")


def start_up(tmp_path: Path, api_port: int, ui_port: int, *options: str) -> subprocess.Popen[bytes]:
    """`market-structure up` as a person starts it, in an empty directory with its own ports."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DATA_DIR=str(tmp_path / "data"), API_PORT=str(api_port), UI_PORT=str(ui_port))
    command = [str(Path(sys.executable).parent / "market-structure"), "up", *options]
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    return subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def ctrl_c(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a person stops `up`; killed (and the test failed) when it does not stop, so
    a failure leaves nothing running."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def fit_one_run(api: str, timeout: float = 60) -> None:
    sim = simulate_lca(n=300, seed=2)
    with httpx.Client(base_url=f"{api}/api/v1", timeout=30) as client:
        dataset = client.post("/datasets", files={"file": ("d.csv", sim.csv())}).json()
        run = client.post(
            "/runs",
            json={"model_type": "lca", "dataset_id": dataset["id"], "params": {"n_classes": 2}},
        ).json()
        deadline = time.monotonic() + timeout
        while client.get(f"/runs/{run['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "run did not complete under `up`"
            time.sleep(0.2)


def redis_servers(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(process.pid).children()
        if p.status() != psutil.STATUS_ZOMBIE and "redis-server" in p.name()
    ]


def wait_for_output(path: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in the output of `up`"
        time.sleep(0.2)
    return path.read_text()


@pytest.mark.timeout(180)
def test_up_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    api_port, ui_port = free_port(), free_port()
    process = start_up(tmp_path, api_port, ui_port)
    try:
        api = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{api}/live", timeout=90, process=process)
        wait_for_http(f"http://127.0.0.1:{ui_port}/_stcore/health", timeout=90, process=process)
        health = httpx.get(f"{api}/health").json()
        assert health["status"] == "healthy", health

        # The embedded stack fits a run: worker and private Redis are really there
        fit_one_run(api)
        assert (tmp_path / "data" / "market_structure.db").exists()
        assert (tmp_path / "data" / "redis").is_dir()
        output = (tmp_path / "up.log").read_text()
        assert f"http://localhost:{ui_port}" in output

        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 4  # redis, api, worker (+ its process), ui
    finally:
        ctrl_c(process)
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


def listening_ports(process: psutil.Process) -> set[int]:
    return {c.laddr.port for c in process.net_connections() if c.status == psutil.CONN_LISTEN}


@pytest.mark.timeout(180)
def test_up_restarts_its_redis_when_it_is_killed_and_runs_go_on(tmp_path: Path) -> None:
    api_port = free_port()
    process = start_up(tmp_path, api_port, free_port(), "--no-ui")
    try:
        api = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{api}/live", timeout=90, process=process)
        [redis] = redis_servers(process)
        port, data = listening_ports(redis), redis.cwd()  # redis-server works in its --dir
        assert data == str(tmp_path / "data" / "redis")

        # When its private Redis is killed (as the OOM killer would)
        redis.send_signal(signal.SIGKILL)

        # Then `up` says so, reaps it (no zombie left) and starts it again, same port and data
        output = wait_for_output(tmp_path / "up.log", "Redis restarted", timeout=15)
        assert "Redis stopped (exit -9, SIGKILL); restarting in 1 s." in output
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(redis.pid).status()
        [again] = redis_servers(process)
        assert again.pid != redis.pid and again.cwd() == data
        deadline = time.monotonic() + 10
        while listening_ports(again) != port:
            assert time.monotonic() < deadline, "the new redis-server is not on the old port"
            time.sleep(0.1)

        # And a run submitted afterwards completes
        fit_one_run(api)
    finally:
        ctrl_c(process)


def test_a_child_that_keeps_dying_is_restarted_later_and_later() -> None:
    now = [0.0]
    said: list[str] = []
    supervisor = Supervisor(dict(os.environ), clock=lambda: now[0], say=said.append)
    supervisor.start("redis", [sys.executable, "-c", "raise SystemExit(3)"], label="Redis")
    child = supervisor.children["redis"]

    def next_delay() -> float:
        child.process.wait()
        supervisor.check()  # reaps it and schedules the restart
        delay = float(said[-1].split("restarting in ")[1].split(" s")[0])
        assert said[-1] == f"Redis stopped (exit 3); restarting in {delay:g} s."
        now[0] += delay - 0.01
        supervisor.check()
        assert said[-1].startswith("Redis stopped")  # not before its delay
        now[0] += 0.01
        supervisor.check()
        assert said[-1].startswith("Redis restarted (pid ")
        return delay

    try:
        assert [next_delay() for _ in range(6)] == [1, 2, 5, 10, 30, 30]
        # One that ran a while before dying is restarted promptly again
        child.process.wait()
        now[0] += STABLE_SECONDS
        assert next_delay() == 1
    finally:
        supervisor.stop_all()
