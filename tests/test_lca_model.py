"""The LCA fit function alone: recovery of a known model, determinism, missing cells, cancel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.errors import DataError
from backend.progress import RunCancelled
from backend.schemas.lca import LCAParams
from tests.support.data import match_classes, simulate_lca
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca import fit


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
    assert result.n_starts_at_best >= 2 and len(result.starts) == 5
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
    calls: list[dict[str, Any]] = []

    def progress(fraction: float, message: str, **fields: Any) -> None:
        calls.append({"fraction": fraction, "message": message, **fields})
        if len(calls) == 30:
            raise RunCancelled("test")

    with pytest.raises(RunCancelled):
        fit(data, LCAParams(n_classes=3, n_init=50, tol=1e-12), progress)
    assert len(calls) == 30
    assert all(0 <= c["fraction"] <= 1 for c in calls)
    assert [c["fraction"] for c in calls] == sorted(c["fraction"] for c in calls)
    assert calls[5]["iteration"] >= 1 and calls[5]["loglik"] < 0
