"""Household IDs are text from the first byte to the last output, one per household.

Against the real API and a real worker: an ID column named at run time is checked then
(missing and repeated IDs are a 422 naming them), IDs reach the assignments exactly as the
file spelled them, and an ID column named like a model output keeps its IDs (under an `id_`
prefix) instead of being overwritten by the model's values.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from backend.db import session_scope
from backend.errors import InvalidInput
from backend.orm import Dataset
from backend.schemas.api import ColumnProfile
from backend.services.ingest import to_parquet
from tests.support.data import simulate_lca
from tests.support.runs import upload, wait_for


def households(ids: list[Any], n: int = 200, seed: int = 3, **extra: Any) -> pd.DataFrame:
    sim = simulate_lca(n=n, seed=seed, id_column=None)
    frame = sim.frame.iloc[:, :5].copy()
    frame.insert(0, "key", ids)
    for name, values in extra.items():
        frame[name] = values
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def submit(client: httpx.Client, dataset_id: str, model_type: str = "lca", **body: Any) -> Any:
    payload = {
        "model_type": model_type,
        "dataset_id": dataset_id,
        "params": body.pop("params", {"n_classes": 2, "n_init": 1, "random_state": 1}),
        **body,
    }
    return client.post("/runs", json=payload)


def assignments(client: httpx.Client, run_id: str) -> pd.DataFrame:
    response = client.get(f"/runs/{run_id}/assignments", params={"format": "parquet"})
    assert response.status_code == 200, response.text
    return pd.read_parquet(io.BytesIO(response.content))


def test_ids_named_at_run_time_are_checked_then(client: httpx.Client) -> None:
    # Given datasets whose "key" column repeats an ID, or lacks one, uploaded without an ID
    ids = [f"{k:05d}" for k in range(200)]
    repeated = upload(client, csv_bytes(households([*ids[:198], "00007", "00007"]))).json()
    missing = upload(client, csv_bytes(households([*ids[:50], "", *ids[51:]]))).json()
    # When a run names "key" as its ID column
    refused_repeat = submit(client, repeated["id"], id_column="key")
    refused_missing = submit(client, missing["id"], id_column="key")
    # Then both are refused before anything is queued, naming the IDs, counts and lines
    assert refused_repeat.status_code == 422, refused_repeat.text
    detail = refused_repeat.json()["detail"]
    assert '"key"' in detail and '"00007" (3 rows)' in detail and "1 ID(s) are repeated" in detail
    assert refused_missing.status_code == 422, refused_missing.text
    assert "1 row(s) have no ID (line 52)" in refused_missing.json()["detail"]
    # And without an ID column the same data is fine: rows are numbered
    assert submit(client, repeated["id"]).status_code == 202
    for dataset in (repeated, missing):
        client.delete(f"/datasets/{dataset['id']}", params={"force": "true"})


def test_ids_reach_the_assignments_as_the_file_wrote_them(client: httpx.Client) -> None:
    # Given IDs that all look like numbers: leading zeros ("7" and "007" are two households),
    # 19 digits (beyond a float's precision), an exponent
    ids = ["007", "7", "0012", "1e3", *(str(10**18 + k) for k in range(196))]
    body = upload(client, csv_bytes(households(ids)), id_column="key").json()
    # When an LCA run keyed by them completes
    run = submit(client, body["id"], id_column="key").json()
    assert wait_for(client, run["id"])["status"] == "completed"
    # Then every ID is in the assignments, exactly, as text
    rows = assignments(client, run["id"])
    assert rows["key"].tolist() == ids
    client.delete(f"/datasets/{body['id']}", params={"force": "true"})


@pytest.mark.parametrize(
    ("model_type", "id_name", "params", "output"),
    [
        ("lca", "modal_class", {"n_classes": 2, "n_init": 1, "random_state": 1}, "modal_class"),
        ("lca", "p_class_1", {"n_classes": 2, "n_init": 1, "random_state": 1}, "p_class_1"),
        ("factor_tetrachoric", "factor_1", {"n_factors": 1}, "factor_1"),
    ],
)
def test_an_id_named_like_an_output_is_kept_under_a_prefix(
    client: httpx.Client, model_type: str, id_name: str, params: dict[str, Any], output: str
) -> None:
    # Given households whose ID column has the name of one of the model's output columns
    ids = [f"HH-{k:04d}" for k in range(200)]
    frame = households(ids).rename(columns={"key": id_name})
    body = upload(client, csv_bytes(frame)).json()
    # When a run keyed by it completes
    run = submit(client, body["id"], model_type, id_column=id_name, params=params).json()
    finished = wait_for(client, run["id"])
    assert finished["status"] == "completed", finished["error"]
    # Then the IDs are kept, under id_<name>, and the output column holds the model's values
    rows = assignments(client, run["id"])
    assert rows[f"id_{id_name}"].tolist() == ids
    assert rows.columns.tolist().count(output) == 1
    assert pd.api.types.is_numeric_dtype(rows[output])
    warnings = finished["fit_summary"]["warnings"]
    assert any(f'"id_{id_name}"' in w for w in warnings), warnings
    client.delete(f"/datasets/{body['id']}", params={"force": "true"})


def test_numeric_household_features_stay_numbers_for_the_fit(client: httpx.Client) -> None:
    # Given an income column (stored as the file's text, like every non-0/1 column)
    rng = np.random.default_rng(4)
    income = [f"{v:06d}" for v in rng.integers(10_000, 90_000, size=200)]
    body = upload(client, csv_bytes(households(list(range(200)), income=income))).json()
    profile = {c["name"]: c for c in body["columns"]}["income"]
    assert profile["kind"] == "numeric" and not profile["is_binary"]
    # When lca_covariates uses it
    run = submit(
        client,
        body["id"],
        "lca_covariates",
        id_column="key",
        covariate_columns=["income"],
        params={"n_classes": 2, "n_init": 1, "random_state": 1},
    ).json()
    finished = wait_for(client, run["id"], timeout=180)
    assert finished["status"] == "completed", finished["error"]
    # Then it is one numeric term, not a category per value
    terms = client.get(f"/runs/{run['id']}/results").json()["terms"]
    assert [(t["covariate"], t["kind"]) for t in terms if t["kind"] != "intercept"] == [
        ("income", "numeric")
    ]
    client.delete(f"/datasets/{body['id']}", params={"force": "true"})


def test_a_dataset_stored_before_ids_were_profiled_is_checked_from_its_data() -> None:
    from backend.services.household_ids import check_id_column

    # Given a dataset row as older versions stored it: no repeats or missing rows in its profile
    frame = pd.DataFrame({"key": ["a", "b", "b", None], "p1": [0, 1, 0, 1], "p2": [1, 1, 0, 0]})
    old = ColumnProfile(
        name="key", dtype="object", kind="categorical", is_binary=False, n_missing=1, n_unique=2
    )
    with session_scope() as session:
        dataset = Dataset(
            name="old", filename="old.csv", file_format="csv", sha256="0" * 64, size_bytes=1,
            n_rows=4, n_columns=3, columns=[old.model_dump()], data=to_parquet(frame),
        )  # fmt: skip
        session.add(dataset)
        session.flush()
        # When a run names "key" as its ID, Then the stored data is read for the examples
        with pytest.raises(InvalidInput) as refused:
            check_id_column([old], "key", dataset)
        session.rollback()
    assert "1 row(s) have no ID (data row 4)" in refused.value.message
    assert '1 ID(s) are repeated, on 2 rows: "b" (2 rows)' in refused.value.message
