"""`market-structure up` brings everything up on embedded defaults, and Ctrl-C stops it all."""

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
from tests.support.data import simulate_lca
from tests.support.services import wait_for_http

CLEARED = ("DATABASE_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PREFIX", "AUTO_MIGRATE", "API_URL")


@pytest.mark.timeout(180)
def test_up_starts_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    api_port, ui_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(DATA_DIR=str(tmp_path / "data"), API_PORT=str(api_port), UI_PORT=str(ui_port))
    command = [str(Path(sys.executable).parent / "market-structure"), "up"]
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        api = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{api}/live", timeout=90, process=process)
        wait_for_http(f"http://127.0.0.1:{ui_port}/_stcore/health", timeout=90, process=process)
        health = httpx.get(f"{api}/health").json()
        assert health["status"] == "healthy", health

        # The embedded stack fits a run: worker and private Redis are really there
        sim = simulate_lca(n=300, seed=2)
        with httpx.Client(base_url=f"{api}/api/v1", timeout=30) as client:
            dataset = client.post("/datasets", files={"file": ("d.csv", sim.csv())}).json()
            run = client.post(
                "/runs",
                json={"model_type": "lca", "dataset_id": dataset["id"], "params": {"n_classes": 2}},
            ).json()
            deadline = time.monotonic() + 60
            while client.get(f"/runs/{run['id']}").json()["status"] != "completed":
                assert time.monotonic() < deadline, "run did not complete under `up`"
                time.sleep(0.2)
        assert (tmp_path / "data" / "market_structure.db").exists()
        assert (tmp_path / "data" / "redis").is_dir()
        output = (tmp_path / "up.log").read_text()
        assert f"http://localhost:{ui_port}" in output

        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 4  # redis, api, worker (+ its process), ui
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"
