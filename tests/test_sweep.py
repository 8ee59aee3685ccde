"""Class-number sweeps: one child run per value, shared by the workers, compared by BIC."""

from __future__ import annotations

import httpx
import pytest

from tests.support.data import simulate_lca, slow_fit_table, slow_lca_params
from tests.support.runs import read_events, upload, wait_for, wait_for_phase


def submit(
    client: httpx.Client, dataset_id: str, n_classes: object, **params: object
) -> httpx.Response:
    body = {
        "model_type": "lca",
        "name": "sweep",
        "dataset_id": dataset_id,
        "params": {"n_classes": n_classes, "n_init": 3, "random_state": 5, **params},
        "id_column": "household_id",
    }
    return client.post("/runs", json=body)


@pytest.mark.slow  # a sweep of real fits with the defaults: about 40 s
def test_sweep_recommends_the_true_number_of_classes(client: httpx.Client, live_stack: str) -> None:
    sim = simulate_lca(n=3000, seed=13)
    dataset = upload(client, sim.csv()).json()
    response = submit(client, dataset["id"], "1-4", bootstrap_lrt=19)
    assert response.status_code == 202, response.text
    parent = response.json()
    assert parent["params"]["n_classes"] == [1, 2, 3, 4] and len(parent["child_ids"]) == 4

    events = read_events(live_stack, parent["id"])
    assert events[-1].event == "close" and events[-1].data["phase"] == "completed"
    parent = wait_for(client, parent["id"])
    assert parent["status"] == "completed", parent["error"]
    assert parent["fit_summary"]["recommended"] == 3

    result = client.get(f"/runs/{parent['id']}/results").json()
    sweep = result["sweep"]
    # Each child ran a bootstrap test of k against k - 1 (asked for in the sweep's params)
    assert all(0 < row["blrt_p_value"] <= 1 for row in sweep["table"] if row["n_classes"] > 1)
    assert sweep["table"][2]["blrt_p_value"] < 0.2  # 3 classes clearly beat 2
    assert sweep["recommended"] == 3 and sweep["param"] == "n_classes"
    assert [row["n_classes"] for row in sweep["table"]] == [1, 2, 3, 4]
    bics = [row["bic"] for row in sweep["table"]]
    assert min(bics) == bics[2]
    assert all(row["status"] == "completed" for row in sweep["table"])
    # The parent reads like the recommended solution, with its assignments
    assert result["n_classes"] == 3 and len(result["class_sizes"]) == 3
    assert "p_class_3" in client.get(f"/runs/{parent['id']}/assignments").text.splitlines()[0]

    # Each solution is kept as a child run, listed under its parent only
    children = client.get("/runs", params={"parent_id": parent["id"]}).json()
    assert children["total"] == 4
    assert {c["sweep_value"] for c in children["items"]} == {1, 2, 3, 4}
    top = client.get("/runs", params={"limit": 200}).json()["items"]
    assert parent["id"] in {r["id"] for r in top}
    assert not {c["id"] for c in children["items"]} & {r["id"] for r in top}
    one = client.get(f"/runs/{children['items'][0]['id']}/results").json()
    assert one["n_classes"] == children["items"][0]["sweep_value"]


def test_a_sweep_whose_range_ends_too_low_extends_it(client: httpx.Client) -> None:
    # Given three simulated classes and a range that stops at two
    dataset = upload(client, simulate_lca(n=3000, seed=13).csv()).json()
    response = submit(client, dataset["id"], "1-2", stability_samples=0, max_classes=6)
    assert response.status_code == 202, response.text
    parent = wait_for(client, response.json()["id"], timeout=120)
    # Then the sweep fitted 3 (BIC still fell at 2) and 4 (where it rises), and says why
    assert parent["status"] == "completed", parent["error"]
    assert parent["params"]["n_classes"] == [1, 2, 3, 4] and len(parent["child_ids"]) == 4
    sweep = client.get(f"/runs/{parent['id']}/results").json()["sweep"]
    assert sweep["recommended"] == 3 and sweep["extended"] == [3, 4]
    assert sweep["requested"] == [1, 2] and sweep["reason"].startswith("BIC is lowest at 3")
    row = sweep["table"][2]
    assert {"classification_error", "l_squared", "n_starts_at_best", "replicated"} <= set(row)
    children = client.get("/runs", params={"parent_id": parent["id"]}).json()
    assert {c["sweep_value"] for c in children["items"]} == {1, 2, 3, 4}
    assert all(c["status"] == "completed" for c in children["items"])


def test_cancelling_a_sweep_cancels_its_children(client: httpx.Client) -> None:
    dataset = upload(client, slow_fit_table()).json()
    params = {**slow_lca_params(900), "n_classes": [4, 5, 6]}
    body = {"model_type": "lca", "dataset_id": dataset["id"], "params": params}
    parent = client.post("/runs", json=body).json()
    wait_for_phase(client, parent["child_ids"][0], "fitting")  # one child running, two queued
    response = client.post(f"/runs/{parent['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    for child_id in parent["child_ids"]:
        assert wait_for(client, child_id, timeout=15)["status"] == "cancelled"
    assert client.delete(f"/runs/{parent['id']}").status_code == 204
    for child_id in parent["child_ids"]:
        assert client.get(f"/runs/{child_id}").status_code == 404


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("5-2", "backwards"),
        ("two to four", "range"),
        ([2, "x"], "whole numbers"),
        ("1-30", "at most"),
    ],
)
def test_bad_sweeps_are_refused(app_client: httpx.Client, value: object, words: str) -> None:
    dataset = app_client.post(
        "/api/v1/datasets", files={"file": ("d.csv", simulate_lca(n=50).csv())}
    ).json()
    response = app_client.post(
        "/api/v1/runs",
        json={"model_type": "lca", "dataset_id": dataset["id"], "params": {"n_classes": value}},
    )
    assert response.status_code == 422 and words in response.json()["detail"], response.text
    app_client.delete(f"/api/v1/datasets/{dataset['id']}", params={"force": "true"})
