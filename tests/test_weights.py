"""Case weights: integer weights give exactly the fit of the data with rows repeated, for LCA,
tetrachoric factor analysis, MCA (households' cos² too) and the basket statistics; the
information criteria use the sum of the weights."""

from __future__ import annotations

import numpy as np
import pytest

from backend.schemas.factor import TetrachoricFactorParams
from backend.schemas.lca import LCAParams
from backend.schemas.mca import MCAParams
from tests.support.data import simulate_lca
from workers.models.base import BinaryMatrix, no_progress
from workers.models.factor.fit import fit as fit_factor
from workers.models.lca.fit import fit as fit_lca
from workers.models.mca import fit as fit_mca
from workers.models.pair_counts import pair_counts


def weighted_and_repeated(n: int = 600, seed: int = 4) -> tuple[BinaryMatrix, BinaryMatrix]:
    sim = simulate_lca(n=n, seed=seed)
    X = sim.frame[sim.products].to_numpy(dtype=float, copy=True)
    X[np.random.default_rng(seed).random(X.shape) < 0.03] = np.nan
    w = np.random.default_rng(seed + 1).integers(1, 4, n).astype(float)
    idx = np.repeat(np.arange(n), w.astype(int))
    return (
        BinaryMatrix(values=X, products=sim.products, weights=w),
        BinaryMatrix(values=X[idx], products=sim.products),
    )


def test_weighted_pair_counts_are_the_counts_of_repeated_rows() -> None:
    weighted, repeated = weighted_and_repeated()
    a = pair_counts(weighted.values, weights=weighted.weights)
    b = pair_counts(repeated.values)
    for x, y in zip(a.tables(), b.tables(), strict=True):
        assert np.array_equal(x, y)


def test_lca_with_integer_weights_is_the_fit_of_repeated_rows() -> None:
    weighted, repeated = weighted_and_repeated()
    params = LCAParams(n_classes=3, random_state=2, n_init=4)
    a = fit_lca(weighted, params, no_progress)
    b = fit_lca(repeated, params, no_progress)
    assert a.total_weight == b.total_weight == weighted.row_weights().sum()
    assert a.loglik == pytest.approx(b.loglik, rel=1e-9)
    assert a.bic == pytest.approx(b.bic, rel=1e-9)  # N = the sum of weights
    assert np.asarray(a.item_probabilities) == pytest.approx(
        np.asarray(b.item_probabilities), abs=1e-6
    )
    assert a.class_sizes == pytest.approx(b.class_sizes, abs=1e-6)


def test_factor_analysis_with_integer_weights_is_the_fit_of_repeated_rows() -> None:
    weighted, repeated = weighted_and_repeated()
    params = TetrachoricFactorParams(n_factors=2, random_state=1)
    a = fit_factor(weighted, params, no_progress)
    b = fit_factor(repeated, params, no_progress)
    assert np.asarray(a.loadings) == pytest.approx(np.asarray(b.loadings), abs=1e-8)


def test_mca_with_integer_weights_is_the_fit_of_repeated_rows() -> None:
    weighted, repeated = weighted_and_repeated()
    params = MCAParams(n_components=2)
    a = fit_mca(weighted, params, no_progress)
    b = fit_mca(repeated, params, no_progress)
    assert np.asarray(a.product_coordinates) == pytest.approx(
        np.asarray(b.product_coordinates), abs=1e-9
    )
    assert a.n_obs == 600
    # and each household's coordinates and cos² are those of its repeated copies
    idx = np.repeat(np.arange(600), weighted.row_weights().astype(int))
    assert a.rows is not None and b.rows is not None
    for column in ("dim_1", "cos2_1", "cos2_2"):
        ours = a.rows[column].to_numpy()[idx]
        assert ours == pytest.approx(b.rows[column].to_numpy(), abs=1e-9), column


def test_basket_statistics_with_integer_weights_are_those_of_repeated_rows() -> None:
    import pandas as pd

    from backend.services.basket import basket_statistics

    weighted, repeated = weighted_and_repeated()
    products = weighted.products[:5]
    frame = pd.DataFrame(weighted.values[:, :5], columns=products)
    copies = pd.DataFrame(repeated.values[:, :5], columns=products)
    a = basket_statistics(frame, products, weighted.row_weights())
    b = basket_statistics(copies, products)
    assert a["weighted"] and a["total_weight"] == b["n_households"]
    for key in ("penetration", "duplication", "lift", "buyers", "pair_buyers"):
        assert np.asarray(a[key], dtype=float) == pytest.approx(
            np.asarray(b[key], dtype=float), abs=1e-6
        ), key
