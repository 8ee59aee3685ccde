"""Household features and weights at submit time: a feature that is empty, constant, an ID or
numbers with text, and a weight column that is not a positive finite number on every row, are
422s naming the column (and the rows); a good weight column is kept with the run."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support.data import simulate_lca

N = 60


def dataset(client: httpx.Client) -> str:
    sim = simulate_lca(n=N, seed=2)
    frame = sim.frame
    rng = np.random.default_rng(0)
    frame["region"] = rng.choice(["north", "south", "east"], N)
    frame["empty"] = ""
    frame["same"] = "x"
    frame["code"] = [f"C{i:04d}" for i in range(N)]
    frame["age"] = [str(20 + i % 40) for i in range(N - 2)] + ["unknown", "n/a?"]
    frame["weight"] = rng.uniform(0.5, 2.0, N).round(3)
    frame["bad_weight"] = frame["weight"].astype(object)
    frame.loc[3, "bad_weight"] = -1
    frame.loc[7, "bad_weight"] = 0
    frame.loc[9, "bad_weight"] = "heavy"
    response = client.post(
        "/api/v1/datasets", files={"file": ("survey.csv", frame.to_csv(index=False).encode())}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def submit(client: httpx.Client, dataset_id: str, **body: object) -> httpx.Response:
    products = [f"prod_{j + 1}" for j in range(8)]
    return client.post(
        "/api/v1/runs",
        json={
            "model_type": "lca",
            "dataset_id": dataset_id,
            "product_columns": products,
            "id_column": "household_id",
            "params": {"n_classes": 2, "n_init": 2},
            **body,
        },
    )


@pytest.mark.parametrize(
    ("feature", "words"),
    [
        ("empty", ['"empty"', "every value is missing"]),
        ("same", ['"same"', "same value on every row"]),
        ("code", ['"code"', "an ID"]),
        ("age", ['"age"', "numeric", '"unknown"', "data rows 59, 60"]),
    ],
)
def test_a_bad_household_feature_is_a_422_naming_it(
    app_client: httpx.Client, feature: str, words: list[str]
) -> None:
    response = submit(app_client, dataset(app_client), covariate_columns=["region", feature])
    assert response.status_code == 422, response.text
    for word in words:
        assert word in response.json()["detail"], response.json()["detail"]


def test_a_bad_weight_column_is_a_422_naming_the_rows(app_client: httpx.Client) -> None:
    response = submit(app_client, dataset(app_client), weight_column="bad_weight")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert '"bad_weight"' in detail and "3 row(s)" in detail
    assert "4 ('-1')" in detail and "8 ('0')" in detail and "10 ('heavy')" in detail


def test_unknown_weight_column_is_a_422(app_client: httpx.Client) -> None:
    response = submit(app_client, dataset(app_client), weight_column="nope")
    assert response.status_code == 422 and '"nope"' in response.json()["detail"]


def test_a_good_weight_column_is_kept_with_the_run(app_client: httpx.Client) -> None:
    response = submit(
        app_client, dataset(app_client), weight_column="weight", covariate_columns=["region"]
    )
    # (without Redis the run cannot be queued; with it, it is: either way it was validated)
    assert response.status_code in (202, 503), response.text
    if response.status_code == 202:
        assert response.json()["weight_column"] == "weight"


def test_basket_statistics_are_weighted_by_a_weight_column(app_client: httpx.Client) -> None:
    dataset_id = dataset(app_client)
    products = ",".join(f"prod_{j + 1}" for j in range(8))
    url = f"/api/v1/datasets/{dataset_id}/basket"
    plain = app_client.get(url, params={"products": products}).json()
    weighted = app_client.get(url, params={"products": products, "weight_column": "weight"})
    assert weighted.status_code == 200, weighted.text
    body = weighted.json()
    assert body["weighted"] and not plain["weighted"]
    assert body["total_weight"] != plain["total_weight"] == N
    assert body["penetration"] != plain["penetration"]
    bad = app_client.get(url, params={"products": products, "weight_column": "bad_weight"})
    assert bad.status_code == 422 and '"bad_weight"' in bad.json()["detail"]
