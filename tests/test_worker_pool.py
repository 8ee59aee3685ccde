"""Two worker processes share the work of one sweep (real Redis, real database)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.data import simulate_lca
from tests.support.runs import upload, wait_for
from tests.support.services import IsolatedStack


def test_two_worker_processes_share_a_sweep(tmp_path: Path) -> None:
    stack = IsolatedStack(tmp_path)
    stack.start_api()
    try:
        stack.start_worker(processes=2)
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", timeout=30) as client:
            dataset = upload(client, simulate_lca(n=4000, seed=3).csv()).json()
            parent = client.post(
                "/runs",
                json={
                    "model_type": "lca",
                    "dataset_id": dataset["id"],
                    "params": {"n_classes": "2-7", "n_init": 8, "max_iter": 200, "tol": 1e-12},
                },
            ).json()
            assert wait_for(client, parent["id"], timeout=240)["status"] == "completed"
            children = [client.get(f"/runs/{c}").json() for c in parent["child_ids"]]
        workers = {c["worker_id"] for c in children}
        assert all(c["status"] == "completed" and c["attempts"] == 1 for c in children)
        assert len(workers) == 2, workers  # both processes took children
    finally:
        stack.close()
