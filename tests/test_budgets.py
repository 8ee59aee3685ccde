"""Budgets (issue 12, item 7): a run's cost is estimated from its params and the data's size
before it is queued; past MAX_RUN_SECONDS / MAX_RUN_MEMORY_MB it is refused with a 422 that
gives the estimate and what to change; an accepted run's record carries its estimate, which is
within a factor of about 3 of what the fit takes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pandas as pd
import pytest

from backend.families import family
from backend.families.builtin import BUILTIN
from backend.families.spec import Cost, DataShape
from backend.services import budgets
from backend.settings import get_settings
from tests.support.data import simulate_lca
from tests.support.runs import upload, upload_dataset, wait_for
from workers.models.lca.simulation import simulate_binary


def schema_maximum(model_type: str) -> dict[str, Any]:
    """Every whole-number parameter of the family at the largest value its schema allows (the
    seed left out), as /models publishes it."""
    schema = family(model_type).params.model_json_schema()["properties"]
    params: dict[str, Any] = {}
    for name, prop in schema.items():
        if name == "random_state":
            continue
        options = prop.get("anyOf", [prop])
        whole = [o for o in options if o.get("type") == "integer" and "maximum" in o]
        if whole:
            params[name] = whole[0]["maximum"]
    return params


@pytest.fixture(scope="module")
def households(live_stack: str) -> str:
    """5,000 households × 8 products, uploaded once."""
    return upload_dataset(live_stack, simulate_lca(n=5000, seed=3).csv())


def test_every_builtin_family_estimates_time_and_memory() -> None:
    shape = DataShape(n_rows=5000, n_products=20, n_covariates=2)
    for spec in BUILTIN:
        assert spec.cost is not None, spec.model_type
        cost = spec.cost(spec.params(), shape)
        assert cost.seconds > 0 and cost.memory_mb > 100, (spec.model_type, cost)


def test_a_schema_maximum_lca_request_is_refused_with_its_estimate(
    client: httpx.Client, households: str
) -> None:
    # Given the largest LCA the schema allows, on 5,000 households
    before = client.get("/runs").json()["total"]
    body = {"model_type": "lca", "dataset_id": households, "params": schema_maximum("lca")}
    # When it is submitted
    answer = client.post("/runs", json=body)
    # Then it is refused before it is queued, with the estimate and what to change
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "would take about" in detail and "MAX_RUN_SECONDS" in detail, detail
    assert "lower bootstrap_lrt (999)" in detail and "fit a sample of the 5,000" in detail
    estimate = answer.json()["estimate"]
    assert estimate["seconds"] > get_settings().max_run_seconds
    assert client.get("/runs").json()["total"] == before


def test_an_accepted_run_and_sweep_carry_their_estimates(
    client: httpx.Client, households: str, live_stack: str
) -> None:
    # Given a normal request and a sweep of three class numbers on the same data
    single = client.post(
        "/runs", json={"model_type": "lca", "dataset_id": households, "params": {"n_classes": 3}}
    )
    sweep = client.post(
        "/runs",
        json={"model_type": "lca", "dataset_id": households, "params": {"n_classes": "2-4"}},
    )
    assert single.status_code == 202 and sweep.status_code == 202, (single.text, sweep.text)
    # Then each record carries its estimate, the sweep's the sum of its children's seconds
    run = client.get(f"/runs/{single.json()['id']}").json()
    assert run["estimate"]["seconds"] > 0 and run["estimate"]["memory_mb"] > 100
    parent = client.get(f"/runs/{sweep.json()['id']}").json()
    children = [client.get(f"/runs/{c}").json()["estimate"] for c in parent["child_ids"]]
    assert len(children) == 3
    assert parent["estimate"]["seconds"] == pytest.approx(
        sum(c["seconds"] for c in children), abs=0.2
    )
    assert parent["estimate"]["memory_mb"] == max(c["memory_mb"] for c in children)
    # The child with 3 classes was estimated like the single fit with 3 classes
    assert children[1]["seconds"] == pytest.approx(run["estimate"]["seconds"], rel=1e-6)
    # and the first progress event (queued) says it too
    first = _first_event(live_stack, run["id"])
    assert first["phase"] == "queued" and first["details"]["estimate"] == run["estimate"]


def _first_event(base_url: str, run_id: str) -> dict[str, Any]:
    """The data of the first event of the run's progress stream."""
    url = f"{base_url}/api/v1/progress/{run_id}/stream"
    with httpx.stream("GET", url, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                return dict(json.loads(line[5:]))
    raise AssertionError("no event")


def _purchases(n: int, p: int) -> bytes:
    X, _, _ = simulate_binary(n, p, 5, seed=11)
    frame = pd.DataFrame(X.astype(int), columns=[f"p{j + 1}" for j in range(p)])
    frame.insert(0, "household_id", [f"H{i:06d}" for i in range(n)])
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize(
    ("model_type", "n", "p", "params"),
    [
        ("factor_tetrachoric", 20_000, 60, {"n_factors": 4, "random_state": 1}),
        ("nmf", 20_000, 50, {"n_components": 6, "random_state": 1}),
    ],
)
def test_the_estimate_is_within_a_factor_of_three_of_the_fit(
    client: httpx.Client, model_type: str, n: int, p: int, params: dict[str, Any]
) -> None:
    # Given a fit of a few seconds
    dataset = upload(client, _purchases(n, p)).json()
    answer = client.post(
        "/runs",
        json={
            "model_type": model_type,
            "dataset_id": dataset["id"],
            "id_column": "household_id",
            "params": params,
        },
    )
    assert answer.status_code == 202, answer.text
    # When it has run
    run = wait_for(client, answer.json()["id"], timeout=180)
    assert run["status"] == "completed", run["error"]
    # Then its estimate is within a factor of 3 of its own recorded duration
    ratio = run["estimate"]["seconds"] / run["duration_seconds"]
    assert 1 / 3 <= ratio <= 3, (run["estimate"], run["duration_seconds"])


def test_a_run_past_the_memory_limit_is_refused_naming_the_limit(
    app_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose runs may use at most 300 MB, less than PyMC's libraries take
    monkeypatch.setattr(get_settings(), "max_run_memory_mb", 300.0)
    dataset = app_client.post(
        "/api/v1/datasets", files={"file": ("d.csv", simulate_lca(n=300, seed=2).csv())}
    ).json()
    # When a Bayesian factor model is submitted
    answer = app_client.post(
        "/api/v1/runs",
        json={"model_type": "bayesian_factor_pymc", "dataset_id": dataset["id"], "params": {}},
    )
    # Then it is refused with its memory estimate
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "of memory" in detail and "MAX_RUN_MEMORY_MB" in detail and "300 MB" in detail
    assert answer.json()["estimate"]["memory_mb"] > 300


def test_nuts_memory_stays_bounded_as_draws_grow() -> None:
    # The measured case of issue 12: 8,403 households, 4 chains × 5,000 draws, 2 factors. Its
    # per-household draws (2.7 GB as float64, about 19 GB at the peak before) go to disk past
    # NUTS_DRAWS_MEMORY_MB, so the estimate stays near the budget whatever the draws.
    spec = family("bayesian_factor_pymc")
    shape = DataShape(8403, 12)
    assert spec.cost is not None
    small = spec.cost(spec.params.model_validate({"chains": 4, "draws": 1000}), shape)
    large = spec.cost(spec.params.model_validate({"chains": 4, "draws": 5000}), shape)
    assert large.memory_mb < 2 * get_settings().nuts_draws_memory_mb + 1000
    assert large.memory_mb - small.memory_mb < 100
    assert large.seconds > 2 * small.seconds


def test_a_sweeps_cost_adds_seconds_and_keeps_the_largest_memory() -> None:
    total = budgets.total([Cost(10, 300, ("n_init",)), Cost(20, 500, ("max_iter",))])
    assert total.seconds == 30 and total.memory_mb == 500
    assert total.time_drivers == ("n_init", "max_iter")


def test_durations_read_like_a_person_would_say_them() -> None:
    assert budgets.duration(15_619) == "about 4.3 h"
    assert budgets.duration(861_480) == "about 10 days"
    assert budgets.duration(1500) == "about 25 min"
    assert budgets.duration(40) == "about 40 s"
    assert budgets.memory(19_000) == "about 18.6 GB"


def test_the_data_shape_counts_design_columns_of_household_features() -> None:
    from backend.schemas.api import ColumnProfile

    def profile(name: str, kind: str, unique: int) -> ColumnProfile:
        return ColumnProfile(
            name=name, dtype="x", kind=kind, is_binary=False, n_missing=0, n_unique=unique
        )

    profiles = [profile("age", "numeric", 50), profile("region", "categorical", 4)]
    shape = budgets.data_shape(100, ["a", "b"], ["age", "region"], profiles)
    assert (shape.n_rows, shape.n_products, shape.n_covariates) == (100, 2, 1 + 3)
