"""Scoring runs (issue 15): a finished run's stored model applied to new households, on the
queue. Done means: scoring the training data reproduces the fit's own per-household table to
1e-9, for every family with one (one test each), through the real API, worker and database."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.support.data import simulate_lca
from tests.support.runs import upload, wait_for

N_ROWS = 600

# Small, quick fits of each family that has a per-household table.
FITS: dict[str, dict[str, Any]] = {
    "lca": {"params": {"n_classes": 3, "n_init": 3, "replicate": 1, "stability_samples": 0}},
    "lca_covariates": {
        "params": {"n_classes": 3, "n_init": 3, "replicate": 1, "stability_samples": 0},
        "covariate_columns": ["region", "age"],
    },
    "factor_tetrachoric": {"params": {"n_factors": 2, "n_parallel": 0}},
    "nmf": {"params": {"n_components": 3, "max_iter": 200}},
    "lda": {"params": {"n_topics": 3, "max_iter": 20}},
    "mca": {"params": {"n_components": 3}},
}


def training_frame(seed: int = 3) -> pd.DataFrame:
    """Simulated segments with a few missing cells, two households with every product missing,
    a category feature tied to the segments and a numeric one missing on one row."""
    sim = simulate_lca(N_ROWS, seed=seed)
    frame = sim.frame.astype(object)
    rng = np.random.default_rng(seed)
    products = sim.products
    for i, j in zip(rng.integers(0, N_ROWS, 40), rng.integers(0, len(products), 40), strict=True):
        frame.loc[i, products[j]] = None
    frame.loc[[5, 6], products] = None
    regions = np.array(["north", "south", "east"])
    frame["region"] = np.where(rng.random(N_ROWS) < 0.6, regions[sim.classes], rng.choice(regions))
    frame["age"] = np.round(30 + 10 * sim.classes + rng.normal(0, 8, N_ROWS), 1)
    frame.loc[9, "age"] = None
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def training(live_stack: str) -> dict[str, Any]:
    frame = training_frame()
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=60) as c:
        response = upload(c, csv_bytes(frame), "training.csv")
        assert response.status_code == 201, response.text
    products = [c for c in frame.columns if c.startswith("prod_")]
    return {"frame": frame, "dataset_id": response.json()["id"], "products": products}


_FITTED: dict[tuple[str, str], dict[str, Any]] = {}


def fit(client: httpx.Client, training: dict[str, Any], model_type: str) -> dict[str, Any]:
    """A finished fit of `model_type` on the training data (one per family and session)."""
    key = (training["dataset_id"], model_type)
    if key not in _FITTED:
        _FITTED[key] = _fit(client, training, model_type)
    return _FITTED[key]


def _fit(client: httpx.Client, training: dict[str, Any], model_type: str) -> dict[str, Any]:
    spec = FITS[model_type]
    body = {
        "model_type": model_type,
        "name": f"{model_type} to score",
        "dataset_id": training["dataset_id"],
        "product_columns": training["products"],
        "id_column": "household_id",
        "params": {**spec["params"], **({} if model_type == "mca" else {"random_state": 1})},
        **({"covariate_columns": spec["covariate_columns"]} if "covariate_columns" in spec else {}),
    }
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"], timeout=180)
    assert run["status"] == "completed", run["error"]
    return run


def score(client: httpx.Client, run_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/runs/{run_id}/score", json=body)
    assert response.status_code == 202, response.text
    scoring = response.json()
    assert scoring["kind"] == "score" and scoring["source_run_id"] == run_id
    done = wait_for(client, scoring["id"], timeout=120)
    assert done["status"] == "completed", done["error"]
    return done


def assignments(client: httpx.Client, run_id: str) -> pd.DataFrame:
    response = client.get(f"/runs/{run_id}/assignments", params={"format": "parquet"})
    assert response.status_code == 200, response.text
    return pd.read_parquet(io.BytesIO(response.content))


@pytest.mark.parametrize("model_type", list(FITS))
def test_scoring_the_training_data_reproduces_the_fits_table(
    client: httpx.Client, training: dict[str, Any], model_type: str
) -> None:
    # Given a finished fit
    run = fit(client, training, model_type)
    # When its model scores the very households it was fitted on
    scoring = score(client, run["id"], dataset_id=training["dataset_id"], id_column="household_id")
    # Then the scored table is the fit's own table, keyed by the same IDs, to 1e-9
    fitted = assignments(client, run["id"])
    scored = assignments(client, scoring["id"])
    assert list(scored.columns) == list(fitted.columns)
    assert scored["household_id"].tolist() == fitted["household_id"].tolist()
    for column in fitted.columns[1:]:
        if column.endswith("_name"):  # the unit's name beside its number: the same text
            assert scored[column].astype(str).tolist() == fitted[column].astype(str).tolist()
            continue
        ours = pd.to_numeric(scored[column]).to_numpy(dtype=float, na_value=np.nan)
        theirs = pd.to_numeric(fitted[column]).to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=column)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9, equal_nan=True, err_msg=column)
    # And its drift report sees no drift on the same households
    result = client.get(f"/runs/{scoring['id']}/results").json()
    assert result["n_rows"] == N_ROWS and result["source_run_id"] == run["id"]
    for product in result["drift"]["products"]:
        assert product["change_points"] == pytest.approx(0.0, abs=1e-9)
    for share in result["drift"]["shares"]:
        assert share["share_now"] == pytest.approx(share["share_training"], abs=1e-12)
    if result["drift"]["mean_loglik_training"] is not None:
        assert result["drift"]["mean_loglik_now"] == pytest.approx(
            result["drift"]["mean_loglik_training"], rel=1e-9
        )
    assert result["drift"]["summary"]


def test_extra_columns_are_ignored_and_products_matched_by_name(
    client: httpx.Client, training: dict[str, Any]
) -> None:
    # Given a fitted LCA and new households whose file has its columns in another order, an
    # extra column and only some of the training households
    run = fit(client, training, "lca")
    frame = training["frame"].iloc[100:250]
    shuffled = frame[["region", *reversed(training["products"]), "household_id"]].copy()
    shuffled["loyalty_card"] = "yes"
    dataset = upload(client, csv_bytes(shuffled), "new.csv").json()
    # When they are scored
    scoring = score(client, run["id"], dataset_id=dataset["id"], id_column="household_id")
    # Then each household gets the probabilities it had in the fit
    scored = assignments(client, scoring["id"]).set_index("household_id")
    fitted = assignments(client, run["id"]).set_index("household_id").loc[scored.index]
    np.testing.assert_allclose(
        scored.filter(like="p_class_").to_numpy(),
        fitted.filter(like="p_class_").to_numpy(),
        atol=1e-9,
    )


def test_inline_data_and_idempotent_retries(client: httpx.Client, training: dict[str, Any]) -> None:
    import base64

    run = fit(client, training, "lca")
    body = {
        "data": {"csv_base64": base64.b64encode(csv_bytes(training["frame"].head(50))).decode()}
    }
    headers = {"Idempotency-Key": f"score-{run['id']}"}
    first = client.post(f"/runs/{run['id']}/score", json=body, headers=headers)
    again = client.post(f"/runs/{run['id']}/score", json=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 202
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    done = wait_for(client, first.json()["id"])
    assert done["status"] == "completed"
    # listed among the runs made from its source
    made = client.get("/runs", params={"source_run_id": run["id"], "kind": "score"}).json()
    assert done["id"] in [r["id"] for r in made["items"]]
    assert all(r["kind"] == "score" for r in made["items"])
    fits = client.get("/runs", params={"kind": "fit", "limit": 500}).json()["items"]
    assert done["id"] not in [r["id"] for r in fits]
    # a run like every run: its progress and its stream end completed
    assert client.get(f"/progress/{done['id']}").json()["phase"] == "completed"
    with client.stream("GET", f"/progress/{done['id']}/stream") as stream:
        text = "".join(stream.iter_text())
    assert "event: close" in text and '"phase": "completed"' in text.replace('":"', '": "')
    scored = assignments(client, done["id"])
    assert list(scored["row"]) == list(range(1, 51))  # no ID column named: the row number


def test_requests_that_cannot_score_are_refused_naming_the_column(
    client: httpx.Client, training: dict[str, Any]
) -> None:
    lca = fit(client, training, "lca")
    frame = training["frame"]

    def refused(run_id: str, table: pd.DataFrame, **extra: Any) -> str:
        dataset = upload(client, csv_bytes(table), "bad.csv").json()
        response = client.post(f"/runs/{run_id}/score", json={"dataset_id": dataset["id"], **extra})
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    assert "prod_3" in refused(lca["id"], frame.drop(columns=["prod_3"]))
    wrong = frame.copy()
    wrong.loc[0, "prod_2"] = 2
    detail = refused(lca["id"], wrong)
    assert "prod_2" in detail and "2" in detail
    missing_ids = frame.copy()
    missing_ids.loc[3, "household_id"] = None
    assert "household_id" in refused(lca["id"], missing_ids, id_column="household_id")
    covariates = fit(client, training, "lca_covariates")
    unseen = frame.copy()
    unseen.loc[0, "region"] = "west"
    detail = refused(covariates["id"], unseen)
    assert "region" in detail and "west" in detail
    assert "age" in refused(covariates["id"], frame.drop(columns=["age"]))
    texts = frame.astype({"age": object})
    texts.loc[0, "age"] = "old"
    assert "age" in refused(covariates["id"], texts)


def test_the_model_document_holds_what_scoring_reads(
    client: httpx.Client, training: dict[str, Any]
) -> None:
    run = fit(client, training, "lca_covariates")
    response = client.get(f"/runs/{run['id']}/model")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["products"] == training["products"]
    assert document["household_features"] == ["region", "age"]
    assert document["library_versions"]["numpy"]
    model = document["model"]
    assert len(model["item_probabilities"]) == 3 and len(model["coefficients"]) > 0
    assert model["scoring"]["levels"]["region"][0] in {"north", "south", "east"}
    assert sorted(model["scoring"]["levels"]["region"]) == ["east", "north", "south"]
    assert "product_map" not in model


def test_drift_report_names_what_moved(client: httpx.Client, training: dict[str, Any]) -> None:
    # Given new households among whom everyone buys prod_1 and half the segment mixes changed
    run = fit(client, training, "lca")
    rng = np.random.default_rng(5)
    new = training["frame"].copy()
    new["prod_1"] = 1
    products = training["products"]
    new[products[4:]] = (rng.random((len(new), len(products) - 4)) < 0.5).astype(int)
    dataset = upload(client, csv_bytes(new), "drifted.csv").json()
    # When they are scored
    scoring = score(client, run["id"], dataset_id=dataset["id"], id_column="household_id")
    drift = client.get(f"/runs/{scoring['id']}/results").json()["drift"]
    # Then the report says the fit is worse and names prod_1's penetration
    first = drift["summary"][0]
    assert "lower, so the segments describe these households worse" in first, drift["summary"]
    assert drift["mean_loglik_now"] < drift["mean_loglik_training"]
    prod_1 = next(p for p in drift["products"] if p["product"] == "prod_1")
    assert prod_1["penetration_now"] == 1.0 and prod_1["change_points"] > 5
    assert any("prod_1" in sentence for sentence in drift["summary"])


def test_audiences_from_a_fit_and_a_scoring_run_are_formula_safe(
    client: httpx.Client, training: dict[str, Any]
) -> None:
    import zipfile

    # Given a fitted LCA whose second segment has a name that is a formula, and new households
    # whose IDs are formulas
    run = fit(client, training, "lca")
    client.patch(f"/runs/{run['id']}", json={"labels": {"Class 2": "=SUM(A1:A9)"}})
    new = training["frame"].head(120).copy()
    new["household_id"] = [f'=HYPERLINK("http://x/{i}")' for i in range(len(new))]
    dataset = upload(client, csv_bytes(new), "formulas.csv").json()
    scoring = score(client, run["id"], dataset_id=dataset["id"], id_column="household_id")
    for run_id in (run["id"], scoring["id"]):
        # When the audiences at 0.6 are downloaded
        response = client.get(f"/runs/{run_id}/audiences", params={"threshold": 0.6})
        assert response.status_code == 200, response.text
        table = pd.read_csv(io.StringIO(response.text))
        # Then they are the households at or above the threshold in each segment
        scored = assignments(client, run_id)
        expected = sum(int((scored[f"p_class_{c}"] >= 0.6).sum()) for c in (1, 2, 3))
        assert len(table) == expected
        assert (table["probability"] >= 0.6).all()
        # And no cell is a formula
        cells = table.astype(str).to_numpy().ravel().tolist() + list(table.columns)
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert set(table["segment_name"]) <= {"Segment 1", "'=SUM(A1:A9)", "Segment 3"}
    # One CSV per segment, too
    zipped = client.get(
        f"/runs/{scoring['id']}/audiences", params={"threshold": 0.6, "format": "zip"}
    )
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert "README.txt" in names and any(n.startswith("audience_2_SUM_A1_A9") for n in names)
    # A factor analysis has no segments
    factors = fit(client, training, "factor_tetrachoric")
    assert client.get(f"/runs/{factors['id']}/audiences").status_code == 409


@pytest.mark.parametrize(
    "model_type, params",
    [
        pytest.param(
            "bayesian_factor_vi",
            {"n_factors": 1, "max_iter": 2000, "draws": 200, "calibration": False},
            marks=pytest.mark.slow,  # about a minute on a busy machine: PyMC compiles first
        ),
        pytest.param(
            "bayesian_factor_pymc",
            {"n_factors": 1, "draws": 300, "tune": 300, "chains": 2},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_bayesian_factor_scores_agree_with_the_joint_posterior(
    client: httpx.Client, training: dict[str, Any], model_type: str, params: dict[str, Any]
) -> None:
    # Given a finished Bayesian factor model (of the households with some data: it refuses
    # empty ones)
    frame = training["frame"].drop(index=[5, 6])
    dataset_id = upload(client, csv_bytes(frame), "bayes.csv").json()["id"]
    body = {
        "model_type": model_type,
        "dataset_id": dataset_id,
        "product_columns": training["products"],
        "id_column": "household_id",
        "params": {**params, "random_state": 1},
    }
    response = client.post("/runs", json=body)
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"], timeout=600)
    assert run["status"] == "completed", run["error"]
    # When its model scores the households it was fitted on
    scoring = score(client, run["id"], dataset_id=dataset_id, id_column="household_id")
    fitted = assignments(client, run["id"])
    scored = assignments(client, scoring["id"])
    # Then the posterior means and sds agree with those sampled jointly with the parameters
    # (these integrate the household's factor given the posterior draws of the parameters:
    # equal up to Monte Carlo error and the fit's own approximation, not to the digit)
    assert list(scored.columns) == list(fitted.columns)
    kept = fitted["factor_1"].notna()
    ours, theirs = scored.loc[kept, "factor_1"], fitted.loc[kept, "factor_1"]
    assert np.corrcoef(ours, theirs)[0, 1] > 0.97
    assert float(np.abs(ours - theirs).mean()) < 0.15
    ratio = scored.loc[kept, "factor_1_sd"].mean() / fitted.loc[kept, "factor_1_sd"].mean()
    assert 0.5 < ratio < 2.0


def test_a_scoring_runs_other_outputs_answer_without_a_server_error(
    client: httpx.Client, training: dict[str, Any]
) -> None:
    run = fit(client, training, "factor_tetrachoric")
    scoring = score(client, run["id"], dataset_id=training["dataset_id"], id_column="household_id")
    answers = {
        path: client.get(f"/runs/{scoring['id']}/{path}").status_code
        for path in ("charts", "export", "report", "product-map", "model", "results")
    }
    assert answers == {
        "charts": 409,
        "export": 409,
        "report": 409,
        "product-map": 409,
        "model": 422,
        "results": 200,
    }, answers
