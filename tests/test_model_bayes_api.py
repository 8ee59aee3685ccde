"""The Bayesian models through the API and a real worker: submit, live progress, results,
assignments, cancel (slow: the worker compiles PyMC models)."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.support.runs import read_events, wait_for, wait_for_phase

pytestmark = pytest.mark.slow


def purchases_csv(n: int = 300, p: int = 6, seed: int = 1) -> tuple[bytes, list[str]]:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(n)
    prob = 1 / (1 + np.exp(-(-0.3 + 1.5 * np.outer(scores, np.ones(p)))))
    frame = pd.DataFrame(
        (rng.random((n, p)) < prob).astype(int), columns=[f"prod_{j + 1}" for j in range(p)]
    )
    frame.insert(0, "household_id", [f"h{i}" for i in range(n)])
    frame["income"] = rng.normal(50, 10, n).round(1)
    frame["region"] = rng.choice(["north", "south"], n)
    return frame.to_csv(index=False).encode(), [f"prod_{j + 1}" for j in range(p)]


def submit(client: httpx.Client, model_type: str, params: dict[str, Any], **extra: Any) -> str:
    content, products = purchases_csv()
    body = {
        "model_type": model_type,
        "name": f"{model_type} test",
        "params": params,
        "data": {"csv_base64": base64.b64encode(content).decode()},
        "product_columns": products,
        "id_column": "household_id",
        **extra,
    }
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_vi_factor_model_runs_with_live_progress(client: httpx.Client, live_stack: str) -> None:
    run_id = submit(
        client,
        "bayesian_factor_vi",
        {"n_factors": 1, "max_iter": 3000, "draws": 200, "random_state": 1},
    )
    run = wait_for(client, run_id, timeout=300)
    assert run["status"] == "completed", run["error"]
    result = client.get(f"/runs/{run_id}/results").json()
    assert len(result["loadings"]) == 6 and result["vi"]["iterations"] > 0
    assert result["comparison"]["elpd_loo"] < 0
    events = read_events(live_stack, run_id)
    stages = {e.data.get("details", {}).get("stage") for e in events if e.data}
    assert "optimising" in stages
    assignments = client.get(f"/runs/{run_id}/assignments", params={"format": "csv"})
    assert assignments.status_code == 200 and "factor_1_hdi_low" in assignments.text
    # The full posterior is kept as a NetCDF artifact (HDF5 inside), downloadable
    artifacts = {a["name"]: a for a in client.get(f"/runs/{run_id}/artifacts").json()}
    assert artifacts["posterior"]["content_type"] == "application/x-netcdf"
    posterior = client.get(f"/runs/{run_id}/artifacts/posterior")
    assert posterior.content[:4] == b"\x89HDF"
    assert posterior.headers["content-disposition"].endswith('.nc"')


def test_dcm_uses_household_features(client: httpx.Client) -> None:
    run_id = submit(
        client,
        "dcm",
        {"draws": 200, "tune": 200, "random_state": 1},
        covariate_columns=["income", "region"],
    )
    run = wait_for(client, run_id, timeout=400)
    assert run["status"] == "completed", run["error"]
    result = client.get(f"/runs/{run_id}/results").json()
    assert result["household_features"] == ["income", "region=south"]
    assert len(result["household_effects"]) == 2 * 6


def test_nuts_run_cancels_while_sampling(client: httpx.Client) -> None:
    run_id = submit(
        client,
        "bayesian_factor_pymc",
        {"n_factors": 1, "draws": 20000, "tune": 5000, "random_state": 1},
    )
    progress = wait_for_phase(client, run_id, "sampling", timeout=400)
    assert progress["total_draws"] == 2 * 25000
    started = time.monotonic()
    assert client.post(f"/runs/{run_id}/cancel").status_code in (200, 202)
    run = wait_for(client, run_id, timeout=30)
    assert run["status"] == "cancelled"
    assert time.monotonic() - started < 10
