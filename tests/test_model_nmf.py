"""NMF: the blocked fit equals scikit-learn's own, recovery of known baskets, the sweep over
n_components, progress, cancel and refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from backend.errors import DataError
from backend.schemas.nmf import NMFParams
from tests.support.families import assert_export_tables, assert_reports_progress_and_cancels
from workers.models.base import BinaryMatrix, no_progress
from workers.models.nmf import elbow, fit

BASKETS = [range(0, 5), range(5, 10), range(10, 15)]


def simulate_baskets(n: int = 4000, seed: int = 0) -> BinaryMatrix:
    """Each household shops one or two of three 5-product baskets (each product of a basket
    bought with probability 0.7) plus 3 % background purchases."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 15)) < 0.03).astype(float)
    for i in range(n):
        for b in rng.choice(3, size=rng.integers(1, 3), replace=False):
            cols = list(BASKETS[b])
            X[i, cols] = np.maximum(X[i, cols], rng.random(5) < 0.7)
    return BinaryMatrix(X, [f"prod_{j + 1:02d}" for j in range(15)])


def test_blocked_fit_equals_scikit_learn_in_one_go() -> None:
    from sklearn.decomposition import NMF

    data = simulate_baskets(n=600)
    for solver in ("cd", "mu"):
        params = NMFParams(n_components=3, solver=solver, max_iter=40, tol=1e-15, random_state=0)
        result = fit(data, params, no_progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = NMF(3, init="nndsvda", solver=solver, max_iter=40, tol=0.0, random_state=0)
            W = model.fit_transform(data.values)
        assert result.n_iter == 40
        assert result.reconstruction_error == pytest.approx(model.reconstruction_err_, rel=1e-6)
        ours = np.array(result.components)
        theirs = model.components_
        order = [int(np.argmin(np.abs(theirs - row).sum(axis=1))) for row in ours]
        # Restarting between blocks drifts from one uninterrupted run by ~1e-5 (sklearn's
        # solvers keep small per-call state), far below anything a reader would see.
        np.testing.assert_allclose(ours, theirs[order], rtol=1e-4, atol=1e-4)
        rows = result.rows
        assert rows is not None
        weights = rows[[f"weight_{j}" for j in (1, 2, 3)]].to_numpy()
        # The table holds the components' transform of each household (what scoring gives a
        # household later, workers/models/nmf.py household_weights): after only 40 iterations
        # it is within 3e-4 of the factorisation's own W.
        np.testing.assert_allclose(weights, W[:, order], rtol=1e-3, atol=1e-3)


def test_recovers_known_baskets_and_the_sweep_finds_three() -> None:
    data = simulate_baskets()
    result = fit(data, NMFParams(n_components=[1, 2, 3, 4, 5, 6], random_state=0), no_progress)
    assert result.selected_by == "elbow" and result.n_components == 3
    errors = [row.reconstruction_error for row in result.sweep]
    assert [row.n_components for row in result.sweep] == [1, 2, 3, 4, 5, 6]
    assert errors == sorted(errors, reverse=True)
    found = sorted(sorted(int(t.product[5:]) - 1 for t in top[:5]) for top in result.top_products)
    assert found == [list(b) for b in BASKETS]
    assert np.allclose(result.component_share, 1 / 3, atol=0.05)
    assert result.explained is not None and 0.6 < result.explained < 0.9
    assert result.converged
    rows = result.rows
    assert rows is not None and list(rows.columns[:1]) == ["row"]
    # Households that bought nothing have no dominant component (0).
    bought_nothing = data.values.sum(axis=1) == 0
    assert (rows["dominant_component"][bought_nothing] == 0).all()
    assert rows["dominant_component"][~bought_nothing].between(1, 3).all()


def test_kullback_leibler_and_random_starts() -> None:
    data = simulate_baskets(n=1500)
    params = NMFParams(
        n_components=3,
        solver="mu",
        beta_loss="kullback-leibler",
        init="random",
        n_init=3,
        random_state=1,
    )
    result = fit(data, params, no_progress)
    found = sorted(sorted(int(t.product[5:]) - 1 for t in top[:5]) for top in result.top_products)
    assert found == [list(b) for b in BASKETS]
    assert result.explained is None
    again = fit(data, params, no_progress)
    # The same seed gives the same fit; its blocks of iterations are sized by time (progress
    # and cancel come between them), so the last digits may differ with the machine's load.
    assert again.reconstruction_error == pytest.approx(result.reconstruction_error, rel=1e-10)


def test_missing_cells_are_filled_and_reported() -> None:
    data = simulate_baskets(n=800)
    data.values[::7, 2] = np.nan
    result = fit(data, NMFParams(n_components=3, random_state=0), no_progress)
    assert result.n_missing_cells == int(np.ceil(800 / 7))
    assert any("missing cell" in w for w in result.provenance.warnings)


def test_elbow() -> None:
    assert elbow([1, 2, 3, 4, 5], [10.0, 6.0, 3.0, 2.8, 2.7]) == 3
    assert elbow([2, 4], [5.0, 4.0]) == 4


def test_progress_and_cancel() -> None:
    data = simulate_baskets(n=1000)
    sweep = NMFParams(n_components=[2, 3], random_state=0)
    calls = assert_reports_progress_and_cancels(fit, data, sweep, NMFParams(n_components=3))
    assert calls[-1]["iteration"] >= 1


def test_too_many_components_is_a_data_error() -> None:
    data = simulate_baskets(n=100)
    with pytest.raises(DataError, match="at most"):
        fit(data, NMFParams(n_components=16), no_progress)


def test_export_tables_and_product_embedding() -> None:
    assert_export_tables(
        "nmf",
        fit(simulate_baskets(n=500), NMFParams(n_components=[2, 3], random_state=0), no_progress),
        {"summary", "components", "sweep", "fit", "top_products"},
        n_dimensions=None,  # as many as the sweep selects
    )
