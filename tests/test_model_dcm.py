"""Discrete choice model: feature encoding and validation (fast), recovery of known household-
and product-feature effects from simulated purchases (slow)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from backend.errors import DataError
from backend.families import family
from backend.presentation.tables import result_tables
from backend.schemas.dcm import DCMParams, DCMResult
from tests.support.families import NUTS_PARAMETERS
from workers.executor import stored_payload
from workers.models.base import BinaryMatrix, no_progress
from workers.models.bayes import features


def simulate(n: int = 400, p: int = 8, seed: int = 2) -> tuple[BinaryMatrix, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 10, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.3, 0.3, 0.4])
    income_z = (income - income.mean()) / income.std()
    beta_income = np.linspace(-1, 1, p)
    price = np.linspace(1, 3, p)
    price_z = (price - price.mean()) / price.std()
    alpha = -0.5 - 0.8 * price_z + rng.normal(0, 0.2, p)
    u = rng.normal(0, 0.8, n)
    eta = alpha + np.outer(income_z, beta_income) + 0.7 * (region == "south")[:, None] + u[:, None]
    y = (rng.random((n, p)) < 1 / (1 + np.exp(-eta))).astype(float)
    covariates = pd.DataFrame({"income": income, "region": region})
    products = [f"prod_{j + 1}" for j in range(p)]
    data = BinaryMatrix(values=y, products=products, covariates=covariates)
    truth = {
        "beta_income": beta_income,
        "south": 0.7,
        "gamma_price": -0.8,
        "sigma_household": 0.8,
        "price": price,
        "u": u,
    }
    return data, truth


def test_params_schema() -> None:
    schema = DCMParams.model_json_schema()["properties"]
    assert {*NUTS_PARAMETERS, "random_intercepts", "n_latent", "product_features"} <= set(schema)
    with pytest.raises(ValidationError):
        DCMParams(n_latent=9)


def test_household_features_are_standardised_and_one_hot_encoded() -> None:
    frame = pd.DataFrame(
        {
            "income": [10.0, 20.0, np.nan, 30.0],
            "member": [0, 1, 1, 0],
            "region": ["a", "b", "a", None],
            "constant": [1, 1, 1, 1],
        }
    )
    enc = features.encode(frame, 20, "Household feature")
    assert enc.names == ["income", "income_missing", "member", "region=(missing)", "region=b"]
    income = enc.matrix[:, 0]
    assert income.mean() == pytest.approx(0.0) and income[2] == pytest.approx(0.0)
    assert enc.matrix[:, 1].tolist() == [0, 0, 1, 0]
    assert enc.matrix[:, 2].tolist() == [0, 1, 1, 0]  # 0/1 stays 0/1
    kinds = {e.column: e for e in enc.encodings}
    assert kinds["income"].kind == "numeric" and kinds["income"].mean == pytest.approx(20.0)
    assert kinds["region"].reference == "a" and kinds["member"].kind == "binary"
    assert "constant" in " ".join(enc.warnings)
    with pytest.raises(DataError, match="max_categories=2"):
        features.encode(pd.DataFrame({"x": ["a", "b", "c"]}), 2, "Household feature")


def test_product_table_must_cover_every_product_once() -> None:
    products = ["a", "b"]
    table = features.product_table(
        [{"product": "b", "price": 2}, {"product": "a", "price": 1}], products
    )
    assert table is not None and table["price"].tolist() == [1, 2]
    with pytest.raises(DataError, match="no row for product"):
        features.product_table([{"product": "a", "price": 1}], products)
    with pytest.raises(DataError, match="not among"):
        features.product_table([{"product": "a"}, {"product": "b"}, {"product": "z"}], products)
    with pytest.raises(DataError, match='"product" key'):
        features.product_table([{"name": "a"}], products)


@pytest.mark.slow
def test_dcm_recovers_household_and_product_feature_effects() -> None:
    from workers.models.bayes import dcm

    data, truth = simulate()
    product_features = [
        {"product": name, "price": float(price)}
        for name, price in zip(data.products, truth["price"], strict=True)
    ]
    params = DCMParams(
        draws=500, tune=500, chains=2, random_state=1, product_features=product_features
    )
    result = dcm.fit(data, params, no_progress)

    assert result.household_features == ["income", "region=north", "region=south"]
    effects = np.asarray(result.household_effect_means)
    assert np.abs(effects[0] - truth["beta_income"]).max() < 0.45
    assert np.corrcoef(effects[0], truth["beta_income"])[0, 1] > 0.9
    south = next(r for r in result.household_effect_average if r.name.endswith("south]"))
    assert south.hdi_low < truth["south"] < south.hdi_high and south.credible
    gamma = result.product_feature_effects[0]
    assert gamma.hdi_low < truth["gamma_price"] < gamma.hdi_high and gamma.credible
    hyper = {r.name: r for r in result.hyperparameters}
    assert abs(hyper["sigma_household"].mean - truth["sigma_household"]) < 0.2
    assert result.diagnostics.max_r_hat is not None and result.diagnostics.max_r_hat < 1.05
    assert result.comparison is not None and len(result.predictive_check) == 8
    assert len(result.baseline_probabilities) == 8
    rows = result.rows
    assert rows is not None and list(rows.columns[:2]) == ["row", "household_intercept"]
    assert np.corrcoef(rows["household_intercept"], truth["u"])[0, 1] > 0.5
    assert "posterior" in result.artifacts
    stored = stored_payload(family("dcm"), result)
    DCMResult.model_validate(stored)
    tables = result_tables("dcm", stored)
    assert len(tables["household_effects"]) == 3 * 8 and len(tables["encoding"]) == 3
    assert family("dcm").embedding(stored).shape == (8, 3)


@pytest.mark.slow
def test_dcm_without_household_features_with_latent_interaction() -> None:
    from workers.models.bayes import dcm

    data, _ = simulate(n=200, p=6, seed=5)
    data.covariates = None
    params = DCMParams(
        draws=200, tune=200, chains=2, random_state=2, random_intercepts=False, n_latent=1
    )
    result = dcm.fit(data, params, no_progress)
    assert result.household_features == [] and result.latent_loadings is not None
    assert np.asarray(result.latent_loadings).shape == (6, 1)
    assert result.rows is not None and "latent_1" in result.rows.columns
