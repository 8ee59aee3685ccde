"""The LCA fit function alone: recovery of a known model, determinism, missing cells, cancel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from backend.errors import DataError
from backend.progress import RunCancelled
from backend.schemas.lca import LCAParams
from tests.support.data import match_classes, simulate_lca
from tests.support.progress import Recorder
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca.fit import fit
from workers.models.lca.summary import class_warnings


def matrix(n: int = 3000, seed: int = 7) -> tuple[BinaryMatrix, Any]:
    sim = simulate_lca(n=n, seed=seed)
    return BinaryMatrix.from_frame(sim.frame, sim.products, "household_id"), sim


def test_recovers_the_simulating_model() -> None:
    data, sim = matrix()
    result = fit(data, LCAParams(n_classes=3, n_init=5, random_state=3), no_progress)
    probs = np.asarray(result.item_probabilities)
    perm = match_classes(probs, sim.probs)
    assert np.abs(np.asarray(result.class_sizes)[perm] - sim.sizes).max() < 0.03
    assert np.abs(probs[perm] - sim.probs).max() < 0.05
    assert result.class_sizes == sorted(result.class_sizes, reverse=True)
    assert abs(sum(result.class_sizes) - 1) < 1e-9 and sum(result.class_counts) == 3000
    assert result.n_starts_at_best >= 2 and len(result.starts) >= 5
    assert 0 < result.entropy < 1
    # Information criteria from their definitions
    n, ll, k = 3000, result.loglik, result.npar
    assert result.aic == pytest.approx(-2 * ll + 2 * k)
    assert result.sabic == pytest.approx(-2 * ll + k * np.log((n + 2) / 24))
    assert result.caic == pytest.approx(-2 * ll + k * (np.log(n) + 1))
    rows = result.rows
    assert rows is not None and rows.columns[0] == "household_id"
    assert rows["modal_class"].between(1, 3).all()


def test_same_seed_same_result_and_seed_recorded() -> None:
    data, _ = matrix(n=800)
    a = fit(data, LCAParams(n_classes=3, n_init=3, random_state=42), no_progress)
    b = fit(data, LCAParams(n_classes=3, n_init=3, random_state=42), no_progress)
    assert a.model_dump() == b.model_dump()
    c = fit(data, LCAParams(n_classes=3, n_init=2), no_progress)
    assert c.provenance.random_state is not None
    again = fit(
        data, LCAParams(n_classes=3, n_init=2, random_state=c.provenance.random_state), no_progress
    )
    assert again.loglik == c.loglik


def test_missing_cells_use_full_information() -> None:
    data, _ = matrix(n=1500)
    rng = np.random.default_rng(0)
    holes = rng.random(data.values.shape) < 0.05
    data.values[holes] = np.nan
    result = fit(data, LCAParams(n_classes=3, n_init=3, random_state=1), no_progress)
    assert result.n_missing_cells == int(holes.sum())
    assert result.n_obs == 1500  # no row deleted
    assert np.isfinite(result.loglik)


def test_too_few_rows_is_a_data_error() -> None:
    data, _ = matrix(n=5)
    with pytest.raises(DataError, match="too few"):
        fit(data, LCAParams(n_classes=3), no_progress)


def test_progress_reports_iterations_and_cancel_stops_the_fit() -> None:
    data, _ = matrix(n=2000)
    recorder = Recorder(cancel_when=lambda r: len(r.calls) == 30)
    with pytest.raises(RunCancelled):
        fit(data, LCAParams(n_classes=3, n_init=50, tol=1e-12), recorder)
    calls = recorder.calls
    assert len(calls) == 30
    assert all(0 <= c["fraction"] <= 1 for c in calls)
    assert [c["fraction"] for c in calls] == sorted(c["fraction"] for c in calls)
    assert calls[5]["iteration"] >= 1 and calls[5]["loglik"] < 0


# --- What every LCA result contains ------------------------------------------------------------


def test_result_carries_every_statistic_of_the_issue() -> None:
    data, sim = matrix(n=4000, seed=11)
    result = fit(data, LCAParams(n_classes=3, n_init=8, random_state=2), no_progress)
    k, p, n = 3, len(sim.products), 4000
    assert result.npar == (k - 1) + k * p
    assert result.bic == pytest.approx(-2 * result.loglik + result.npar * np.log(n))
    assert result.total_weight == n and result.layout == "patterns" and result.n_patterns < n
    assert result.smallest_class_share == pytest.approx(min(result.class_sizes))
    assert len(result.avg_posterior) == k and all(0.5 < a <= 1 for a in result.avg_posterior)
    # Every start is listed; at least the finalists were carried to convergence
    assert len(result.starts) == result.n_starts >= 8 and result.n_starts_finished >= 2
    assert all(s.iterations >= 1 for s in result.starts)
    # Index against the overall purchase rate: 100 = average; class sizes weight back to it
    rates = np.asarray(result.overall_rates)
    assert rates == pytest.approx(np.nanmean(data.values, axis=0))
    index = np.asarray(result.item_index)
    probs = np.asarray(result.item_probabilities)
    assert index == pytest.approx(100 * probs / rates)
    assert np.asarray(result.class_sizes) @ probs == pytest.approx(rates, abs=1e-6)
    # Bivariate residuals: every pair, largest first, flagged above 3.84
    pairs = result.bivariate_residuals
    assert len(pairs) == p * (p - 1) // 2
    assert [x.bvr for x in pairs] == sorted((x.bvr for x in pairs), reverse=True)
    assert result.n_bvr_flagged == sum(x.flagged for x in pairs)
    # Per-household probabilities keyed by the ID column
    rows = result.rows
    assert rows is not None and list(rows.columns) == [
        "household_id",
        "p_class_1",
        "p_class_2",
        "p_class_3",
        "modal_class",
    ]
    assert np.allclose(rows.filter(like="p_class_").sum(axis=1), 1.0)
    assert (np.asarray(result.class_counts) == np.bincount(rows["modal_class"] - 1)).all()


def test_bivariate_residuals_flag_local_dependence() -> None:
    # Given two products bought together beyond what the classes explain
    data, _ = matrix(n=4000, seed=12)
    rng = np.random.default_rng(1)
    copy = rng.random(4000) < 0.6
    data.values[copy, 1] = data.values[copy, 0]
    result = fit(data, LCAParams(n_classes=3, n_init=5, random_state=1), no_progress)
    top = result.bivariate_residuals[0]
    assert {top.product_a, top.product_b} == {"prod_1", "prod_2"} and top.flagged
    assert any("local dependence" in w for w in result.provenance.warnings)


def test_bvr_matches_a_direct_computation() -> None:
    data, _ = matrix(n=1000, seed=13)
    data.values[np.random.default_rng(2).random(data.values.shape) < 0.05] = np.nan
    result = fit(data, LCAParams(n_classes=2, n_init=3, random_state=1), no_progress)
    probs, sizes = np.asarray(result.item_probabilities), np.asarray(result.class_sizes)
    X = data.values
    both = ~np.isnan(X[:, 2]) & ~np.isnan(X[:, 5])
    chi2 = 0.0
    for a in (0, 1):
        for b in (0, 1):
            observed = np.sum(both & (X[:, 2] == a) & (X[:, 5] == b))
            pa = probs[:, 2] if a else 1 - probs[:, 2]
            pb = probs[:, 5] if b else 1 - probs[:, 5]
            expected = both.sum() * float(sizes @ (pa * pb))
            chi2 += (observed - expected) ** 2 / expected
    pair = next(
        x for x in result.bivariate_residuals if {x.product_a, x.product_b} == {"prod_3", "prod_6"}
    )
    assert pair.bvr == pytest.approx(chi2, rel=1e-9)


@pytest.mark.parametrize("sep", [0.8, 1.2, 2.5])
def test_recovery_from_weak_to_strong_separation(sep: float) -> None:
    from workers.models.lca.simulation import simulate_binary

    X, sizes, probs = simulate_binary(n=20000, p=12, k=3, seed=21, sep=sep)
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(12)])
    result = fit(data, LCAParams(n_classes=3, n_init=10, random_state=4), no_progress)
    est = np.asarray(result.item_probabilities)
    perm = match_classes(est, probs)
    # Tolerances grow as the classes overlap more (relative entropy about 0.27, 0.48, 0.89); at
    # sep 0.8 the maximum-likelihood estimate itself (EM from the true values ends there too) is
    # 0.078 from the truth: 20,000 households do not pin weak classes down closer
    tol = {0.8: 0.09, 1.2: 0.04, 2.5: 0.02}[sep]
    assert np.abs(est[perm] - probs).max() < tol
    assert np.abs(np.asarray(result.class_sizes)[perm] - sizes).max() < tol
    assert result.converged


def test_all_missing_rows_do_not_disturb_the_class_sizes() -> None:
    data, _ = matrix(n=2000, seed=14)
    base = fit(data, LCAParams(n_classes=3, n_init=4, random_state=3), no_progress)
    holes = np.vstack([data.values, np.full((500, data.n_products), np.nan)])
    ids = pd.concat(
        [data.row_index(), pd.Series([f"EMPTY{i}" for i in range(500)], name="household_id")],
        ignore_index=True,
    )
    more = BinaryMatrix(values=holes, products=data.products, row_ids=ids)
    result = fit(more, LCAParams(n_classes=3, n_init=4, random_state=3), no_progress)
    assert result.class_sizes == pytest.approx(base.class_sizes, abs=1e-9)
    assert sum(result.class_sizes) == pytest.approx(1.0)
    assert result.loglik == pytest.approx(base.loglik, rel=1e-10)
    assert result.bic == pytest.approx(base.bic, rel=1e-10)  # N = households with data
    assert result.n_rows_all_missing == 500 and result.n_obs == 2500
    assert sum(result.class_counts) == 2000
    rows = result.rows
    assert rows is not None and len(rows) == 2500
    empty = rows.iloc[-500:]
    assert empty["modal_class"].isna().all()
    assert np.allclose(empty.filter(like="p_class_").to_numpy(), result.class_sizes)


def test_product_never_observed_is_a_data_error() -> None:
    data, _ = matrix(n=200)
    data.values[:, 3] = np.nan
    with pytest.raises(DataError, match="prod_4"):
        fit(data, LCAParams(n_classes=2), no_progress)


def test_unidentified_empty_and_duplicate_classes_are_reported() -> None:
    # Six classes on five products: more parameters than distinct patterns can carry
    from workers.models.lca.simulation import simulate_binary

    X, _, _ = simulate_binary(n=300, p=5, k=2, seed=3, sep=2.0)
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(5)])
    result = fit(data, LCAParams(n_classes=6, n_init=5, random_state=1), no_progress)
    assert any("not identified" in w for w in result.provenance.warnings)
    # Empty and duplicate classes are named
    theta = np.array([[0.2, 0.8], [0.205, 0.795], [0.9, 0.1]])
    text = " ".join(class_warnings(theta, np.array([0.6, 0.4, 1e-5]), 1000.0))
    assert "Class(es) [3] are empty" in text and "Classes 1 and 2" in text


def test_sparse_wide_data_fits_on_the_sparse_layout() -> None:
    from workers.models.lca.simulation import simulate_binary

    X, _, _ = simulate_binary(n=3000, p=120, k=3, seed=5, density=0.04)
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(120)])
    result = fit(data, LCAParams(n_classes=3, n_init=4, random_state=1), no_progress)
    assert result.layout == "sparse" and np.isfinite(result.loglik)
    # 7140 pairs: the 5000 largest are listed
    assert len(result.bivariate_residuals) == 5000 and result.bvr_truncated


def test_one_forced_update_per_finished_start() -> None:
    data, _ = matrix(n=1500)
    recorder = Recorder()
    result = fit(data, LCAParams(n_classes=3, n_init=8, random_state=5), recorder)
    calls = recorder.calls
    ended = [c for c in calls if c.get("force") and " of 8 converged" in c["message"]]
    converged = [s for s in result.starts if s.converged]
    assert len(ended) == len(converged) >= 2
    assert {c["details"]["start"] for c in ended} == {s.start for s in converged}
    assert all(c["loglik"] < 0 and c["iteration"] >= 1 for c in ended)
    assert any("First stage done" in c["message"] for c in calls)
    fractions = [c["fraction"] for c in calls]
    assert fractions == sorted(fractions) and fractions[-1] <= 1
