"""3-step estimation as part of a run: a plain LCA with household features and distal outcomes
(`params.distal_columns`) on a real worker answers `three_step` (BCH and ML covariate effects
and outcome means), its charts and export tables; outcome columns are checked at submit (422
naming the column) and never picked as products."""

from __future__ import annotations

import io
import zipfile

import httpx
import numpy as np
import pytest

from tests.support.data import simulate_lca
from tests.support.runs import wait_for

N = 600


def survey_csv(n: int = N) -> bytes:
    sim = simulate_lca(n=n, seed=4)
    frame = sim.frame
    rng = np.random.default_rng(1)
    classes = np.asarray(sim.classes)
    frame["region"] = np.where(rng.random(n) < 0.3 + 0.4 * (classes == 0), "north", "south")
    frame["spend"] = (20 + 15 * classes + rng.normal(0, 5, n)).round(2)
    frame["churned"] = (rng.random(n) < np.array([0.1, 0.5, 0.3])[classes]).astype(int)
    frame["channel"] = rng.choice(["web", "shop", "phone"], n)
    frame["same"] = "x"
    frame["note"] = [f"n{i}" for i in range(n)]
    return frame.to_csv(index=False).encode()


def submit(client: httpx.Client, dataset_id: str, **body: object) -> httpx.Response:
    params = {
        "n_classes": 3,
        "n_init": 4,
        "random_state": 2,
        "replicate": 1,
        "stability_samples": 0,
    }
    params |= body.pop("params", {})  # type: ignore[arg-type]
    return client.post(
        "/runs",
        json={
            "model_type": "lca",
            "dataset_id": dataset_id,
            "id_column": "household_id",
            "params": params,
            **body,
        },
    )


def test_a_plain_lca_run_relates_its_segments_by_3_step(client: httpx.Client) -> None:
    # Given a survey with purchases, a household feature and three outcomes
    dataset = client.post("/datasets", files={"file": ("s.csv", survey_csv())}).json()
    # When a plain LCA names the feature and the outcomes (no product columns given)
    response = submit(
        client,
        dataset["id"],
        covariate_columns=["region"],
        params={"distal_columns": ["spend", "churned", "channel"]},
    )
    assert response.status_code == 202, response.text
    # Then the binary outcome is not taken for a product
    assert "churned" not in response.json()["product_columns"]
    run = wait_for(client, response.json()["id"], timeout=120)
    assert run["status"] == "completed", run.get("error")
    found = client.get(f"/runs/{run['id']}/results").json()["three_step"]
    # and the result holds both corrections of the feature's effect and of every outcome
    assert [c["correction"] for c in found["covariates"]] == ["BCH", "ML"]
    assert {t["covariate"] for c in found["covariates"] for t in c["wald_tests"]} == {"region"}
    kinds = {(d["outcome"], d["kind"], d["correction"]) for d in found["distal"]}
    assert kinds == {
        (o, k, c)
        for o, k in (("spend", "numeric"), ("churned", "binary"), ("channel", "categorical"))
        for c in ("BCH", "ML")
    }
    spend = next(d for d in found["distal"] if d["outcome"] == "spend" and d["correction"] == "ML")
    means = sorted(e["estimate"] for e in spend["estimates"])
    assert means == pytest.approx([20, 35, 50], abs=3)  # simulated 20 + 15 × class
    assert spend["test"]["p_value"] < 1e-6
    channel = next(d for d in found["distal"] if d["outcome"] == "channel")
    assert channel["test"]["p_value"] > 1e-3  # no difference simulated
    assert len(found["classification_error"]) == 3
    # and the charts and exports serve it
    sections = {s["id"] for s in client.get(f"/runs/{run['id']}/charts").json()["sections"]}
    assert {"who", "three_step_odds", "three_step_outcomes"} <= sections
    for chart in ("three_step_odds", "three_step_outcomes"):
        assert client.get(f"/runs/{run['id']}/charts/{chart}").status_code == 200
    ml = client.get(f"/runs/{run['id']}/charts/three_step_odds", params={"correction": "ML"})
    assert ml.status_code == 200
    # and the report and the ZIP export hold the 3-step sections and tables
    report = client.get(f"/runs/{run['id']}/report")
    assert report.status_code == 200
    assert "How the segments differ in the outcomes (3-step)" in report.text
    export = client.get(f"/runs/{run['id']}/export", params={"format": "zip"})
    names = set(zipfile.ZipFile(io.BytesIO(export.content)).namelist())
    assert {"three_step_coefficients.csv", "three_step_outcomes.csv"} <= names


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"params": {"distal_columns": ["same"]}}, ['"same"', "same value on every row"]),
        ({"params": {"distal_columns": ["note"]}}, ['"note"', "an ID"]),
        ({"params": {"distal_columns": ["nothing"]}}, ["Unknown outcome", '"nothing"']),
        ({"params": {"distal_columns": ["spend", "spend"]}}, ['"spend"', "twice"]),
        (
            {"covariate_columns": ["region"], "params": {"distal_columns": ["region"]}},
            ['"region"', "both an outcome"],
        ),
        (
            {
                "product_columns": ["prod_1", "prod_2", "prod_3"],
                "params": {"distal_columns": ["prod_1"]},
            },
            ['"prod_1"', "cannot be both a product"],
        ),
    ],
)
def test_bad_outcome_columns_are_a_422_naming_them(
    app_client: httpx.Client, body: dict, words: list[str]
) -> None:
    dataset = app_client.post("/api/v1/datasets", files={"file": ("s.csv", survey_csv(60))}).json()
    params = {"n_classes": 2, "n_init": 2, **body.pop("params")}
    response = app_client.post(
        "/api/v1/runs",
        json={
            "model_type": "lca",
            "dataset_id": dataset["id"],
            "id_column": "household_id",
            "params": params,
            **body,
        },
    )
    assert response.status_code == 422, response.text
    for word in words:
        assert word in response.json()["detail"], response.json()["detail"]
