"""Basket statistics per dataset and the product map stored with every result."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from backend.services.basket import basket_statistics
from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for


def test_basket_statistics_follow_their_definitions() -> None:
    frame = pd.DataFrame({"a": [1, 1, 1, 0, 0, None], "b": [1, 0, 1, 1, 0, 1], "c": [0] * 6})
    stats = basket_statistics(frame, ["a", "b", "c"])
    # a: observed on 5 rows, bought on 3
    assert stats["penetration"][0] == pytest.approx(3 / 5)
    assert stats["buyers"] == [3, 4, 0]
    # duplication: of a's buyers (b observed on all of them), 2 of 3 buy b
    assert stats["duplication"][0][1] == pytest.approx(2 / 3)
    # lift(a, b) on the 5 rows where both are observed: P(ab)=2/5, P(a)=3/5, P(b)=3/5
    assert stats["lift"][0][1] == pytest.approx((2 / 5) / ((3 / 5) * (3 / 5)))
    assert stats["lift"][0][1] == pytest.approx(stats["lift"][1][0])
    assert stats["duplication"][2][0] is None  # nobody bought c


def test_basket_endpoint_and_product_map_over_http(client: httpx.Client) -> None:
    sim = simulate_lca(n=1500, seed=17)
    dataset = upload(client, sim.csv()).json()
    basket = client.get(f"/datasets/{dataset['id']}/basket").json()
    assert basket["products"] == sim.products
    X = sim.frame[sim.products].to_numpy()
    assert np.allclose(basket["penetration"], X.mean(axis=0), atol=1e-6)
    subset = client.get(f"/datasets/{dataset['id']}/basket", params={"products": "prod_2,prod_1"})
    assert subset.json()["products"] == ["prod_2", "prod_1"]
    bad = client.get(f"/datasets/{dataset['id']}/basket", params={"products": "prod_1,nope"})
    assert bad.status_code == 422 and '"nope"' in bad.json()["detail"]

    run = submit_lca(client, dataset["id"], n_classes=3, id_column="household_id")
    assert wait_for(client, run["id"])["status"] == "completed"
    stored = client.get(f"/runs/{run['id']}/results").json()["product_map"]
    served = client.get(f"/runs/{run['id']}/product-map").json()
    assert served == stored
    assert served["products"] == sim.products and len(served["coordinates"]) == 8
    assert len(served["dendrogram"]) == 7  # n - 1 merges
    assert set(served["closest_competitors"]) == set(sim.products)
    # Products 1-3 share a segment in the simulating model: each one's closest competitor
    # is one of the other two.
    for product in ("prod_2", "prod_3"):
        assert served["closest_competitors"][product][0]["product"] in {
            "prod_1",
            "prod_2",
            "prod_3",
        }
    assert 2 <= served["clusters"]["k"] <= 7
