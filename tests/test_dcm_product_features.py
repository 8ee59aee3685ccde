"""DCM product features as a table (issue 18, item 5): a product-feature file uploaded as a
dataset of its own and named by `params.product_features_dataset`; checked at submit (422s
naming the problem) and stored as the run's `product_features` records, which keep working."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest


def upload(
    client: httpx.Client, content: bytes, filename: str, kind: str = "households"
) -> httpx.Response:
    return client.post("/api/v1/datasets", files={"file": (filename, content)}, data={"kind": kind})


PRODUCTS = ["milk", "bread", "beer", "wine"]


def purchases(app_client: httpx.Client) -> str:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame((rng.random((60, 4)) < 0.4).astype(int), columns=PRODUCTS)
    answer = upload(app_client, frame.to_csv(index=False).encode(), "baskets.csv")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def feature_table(app_client: httpx.Client, text: str) -> str:
    answer = upload(app_client, text.encode(), "product_features.csv", kind="product_features")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def submit(app_client: httpx.Client, dataset_id: str, **params: Any) -> httpx.Response:
    body = {
        "model_type": "dcm",
        "name": "choice with product features",
        "dataset_id": dataset_id,
        "product_columns": PRODUCTS,
        "params": {"draws": 50, "tune": 50, "random_state": 1, **params},
    }
    return app_client.post("/api/v1/runs", json=body)


GOOD = (
    "product,price,category\nmilk,1.2,dairy\nbread,2.5,bakery\nbeer,3.0,drinks\nwine,9.5,drinks\n"
)


def test_an_uploaded_feature_table_becomes_the_runs_product_features(
    app_client: httpx.Client,
) -> None:
    baskets = purchases(app_client)
    table = feature_table(app_client, GOOD)
    answer = submit(app_client, baskets, product_features_dataset=table)
    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert run["params"]["product_features_dataset"] == table
    assert run["params"]["product_features"] == [
        {"product": "milk", "price": 1.2, "category": "dairy"},
        {"product": "bread", "price": 2.5, "category": "bakery"},
        {"product": "beer", "price": 3.0, "category": "drinks"},
        {"product": "wine", "price": 9.5, "category": "drinks"},
    ]
    app_client.post(f"/api/v1/runs/{run['id']}/cancel")
    # The records path still works on its own.
    records = [{"product": p, "price": float(i)} for i, p in enumerate(PRODUCTS)]
    answer = submit(app_client, baskets, product_features=records)
    assert answer.status_code == 202, answer.text
    assert answer.json()["params"]["product_features"] == records
    app_client.post(f"/api/v1/runs/{answer.json()['id']}/cancel")


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (GOOD.replace("wine,", "cider,"), "product(s) \"cider\" are not among the run's products"),
        (GOOD.replace("wine,9.5", "wine,pricey"), "feature \"price\" is numeric but holds text: "
         "\"pricey\" (product(s) wine)"),
        (GOOD.replace("wine,9.5,drinks\n", ""), "no row for product(s) \"wine\""),
        (GOOD + "milk,1.3,dairy\n", "product(s) listed twice: \"milk\""),
        ("product\nmilk\nbread\nbeer\nwine\n", "has no feature column beside \"product\""),
    ],
)  # fmt: skip
def test_problems_with_the_table_are_422s_naming_them(
    app_client: httpx.Client, table: str, words: str
) -> None:
    baskets = purchases(app_client)
    answer = submit(app_client, baskets, product_features_dataset=feature_table(app_client, table))
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["detail"]


def test_a_missing_table_or_both_ways_at_once_are_refused(app_client: httpx.Client) -> None:
    # Without kind=product_features, a 4-row table is refused as a household dataset.
    answer = upload(app_client, GOOD.encode(), "features.csv")
    assert answer.status_code == 422 and "at least 10 are needed" in answer.json()["detail"]
    baskets = purchases(app_client)
    answer = submit(app_client, baskets, product_features_dataset="4242")
    assert answer.status_code == 404 and "does not exist" in answer.json()["detail"]
    table = feature_table(app_client, GOOD)
    answer = submit(
        app_client,
        baskets,
        product_features_dataset=table,
        product_features=[{"product": p, "price": 1.0} for p in PRODUCTS],
    )
    assert answer.status_code == 422 and "not both" in answer.json()["detail"]
