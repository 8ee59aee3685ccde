"""The five dimension/map families end to end: HTTP submit, a real worker, progress, results,
per-household downloads, export tables and product clustering."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.support.runs import upload, wait_for

# A live stack and five fits: about a minute on a busy 2-core machine; CI runs it.
pytestmark = pytest.mark.slow

CSV = (Path(__file__).parent / "expected" / "factor_binary.csv").read_bytes()

CASES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    # model_type: (params, a result key, first per-household column after the ID)
    "factor_tetrachoric": ({"n_factors": None, "n_parallel": 5, "random_state": 1}, "loadings",
                           "factor_1"),
    "mca": ({"n_components": 3}, "eigenvalues", "dim_1"),
    "nmf": ({"n_components": [2, 3, 4], "random_state": 1}, "sweep", "weight_1"),
    "lda": ({"n_topics": 3, "max_iter": 10, "random_state": 1}, "topic_product", "topic_1"),
    "network": ({"measure": "phi", "random_state": 1}, "communities", None),
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset_id(live_stack: str) -> str:
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=30) as client:
        response = upload(client, CSV, "factor_binary.csv")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.mark.parametrize("model_type", sorted(CASES))
def test_runs_through_the_api(client: httpx.Client, dataset_id: str, model_type: str) -> None:
    params, key, first_column = CASES[model_type]
    body = {
        "model_type": model_type,
        "name": f"{model_type} e2e",
        "dataset_id": dataset_id,
        "id_column": "household_id",
        "params": params,
    }
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"], timeout=180)
    assert run["status"] == "completed", run["error"]
    assert run["library_versions"] and run["data_hash"]

    result = client.get(f"/runs/{run['id']}/results").json()
    assert result[key] and result["provenance"]["model_type"] == model_type
    if model_type == "factor_tetrachoric":
        assert result["n_factors"] == result["n_factors_suggested"] == 3

    assignments = client.get(f"/runs/{run['id']}/assignments")
    if first_column is None:
        assert assignments.status_code in (404, 409)
    else:
        rows = pd.read_csv(io.StringIO(assignments.text))
        assert list(rows.columns[:2]) == ["household_id", first_column] and len(rows) == 3000

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/runs/{run['id']}/export").content))
    assert len(archive.namelist()) > 2

    clusters = client.post(f"/runs/{run['id']}/clustering", json={"method": "kmeans", "max_k": 4})
    assert clusters.status_code == 200, clusters.text
    assert len(clusters.json()["labels"]) == 12
