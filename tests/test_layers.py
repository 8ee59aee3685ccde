"""The layers hold at run time: the API process, having served every route once (a completed
run's results, exports, product map and clustering included), holds no model code and none of
the scientific libraries the workers use."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from tests.support.services import REPO, TestEnvironment


def test_the_api_serves_every_route_without_model_libraries(
    client: httpx.Client, session_environment: TestEnvironment
) -> None:
    dataset = upload(client, simulate_lca(n=300, seed=3).csv()).json()
    run = wait_for(client, submit_lca(client, dataset["id"], n_classes=2)["id"])
    assert run["status"] == "completed"
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.serve_every_route", run["id"], dataset["id"]],
        cwd=REPO,
        env=session_environment.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    answered = report["answered"]
    assert len(answered) >= 20, answered
    assert not {route: code for route, code in answered.items() if code >= 500}
    for route in (
        "GET /api/v1/runs/{run_id}/results",
        "GET /api/v1/runs/{run_id}/product-map",
        "POST /api/v1/runs/{run_id}/clustering",
        "GET /api/v1/runs/{run_id}/export",
    ):
        assert answered[route] == 200, (route, answered[route])
