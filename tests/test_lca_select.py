"""Choosing the number of classes: comparison table, recommendation by BIC, bootstrap LRT."""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import DataError
from backend.progress import RunCancelled
from backend.schemas.lca import LCAParams
from tests.support.data import simulate_lca
from tests.support.progress import Recorder
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca.fit import fit
from workers.models.lca.selection import bootstrap_lrt, compare_solutions, fit_range


def data(n: int = 1500, seed: int = 3) -> BinaryMatrix:
    sim = simulate_lca(n=n, seed=seed)
    return BinaryMatrix.from_frame(sim.frame, sim.products, "household_id")


def test_comparison_recommends_the_true_number_by_bic() -> None:
    results, comparison = fit_range(
        data(), [1, 2, 3, 4], LCAParams(n_init=5, random_state=1), no_progress
    )
    assert [r.n_classes for r in comparison.table] == [1, 2, 3, 4]
    assert comparison.recommended == 3 and comparison.best_by_criterion["bic"] == 3
    assert set(comparison.best_by_criterion) == {"aic", "bic", "sabic", "caic"}
    row = comparison.table[2]
    assert row.bic == results[2].bic and row.npar == 2 + 3 * 8
    assert comparison.table[0].entropy is None  # one class
    # The same table whatever order the solutions come in
    assert compare_solutions(results[::-1]) == comparison


def test_bootstrap_lrt_rejects_too_few_classes_and_not_the_true_number() -> None:
    d = data()
    too_few = bootstrap_lrt(d, 3, 19, LCAParams(n_classes=3, n_init=4, random_state=1), no_progress)
    right = bootstrap_lrt(d, 4, 19, LCAParams(n_classes=4, n_init=4, random_state=1), no_progress)
    assert too_few.p_value == pytest.approx(1 / 20)  # no bootstrap LR reaches the observed one
    assert right.p_value > 0.05
    assert len(right.bootstrap_lr) == 19 and all(x >= 0 for x in right.bootstrap_lr)
    assert too_few.lr == pytest.approx(2 * (too_few.loglik - too_few.null_loglik))


def test_bootstrap_reports_each_sample_and_can_be_cancelled() -> None:
    recorder = Recorder(cancel_when=lambda r: len(r.with_details("bootstrap_sample")) == 3)
    with pytest.raises(RunCancelled):
        bootstrap_lrt(
            data(n=600), 2, 50, LCAParams(n_classes=2, n_init=3, random_state=2), recorder
        )
    calls = recorder.calls
    samples = [
        c["details"]["bootstrap_sample"]
        for c in calls
        if "bootstrap_sample" in (c.get("details") or {})
    ]
    assert samples == [1, 2, 3]


def test_lca_fit_can_run_the_bootstrap_itself() -> None:
    result = fit(
        data(n=800), LCAParams(n_classes=3, n_init=4, random_state=1, bootstrap_lrt=9), no_progress
    )
    assert result.blrt is not None and result.blrt.n_boot == 9
    assert result.blrt.loglik == result.loglik
    assert compare_solutions([result]).table[0].blrt_p_value == result.blrt.p_value


def test_bootstrap_needs_two_classes() -> None:
    with pytest.raises(DataError):
        bootstrap_lrt(data(n=200), 1, 5, LCAParams(n_classes=1), no_progress)


def test_bootstrap_keeps_the_missing_cells() -> None:
    d = data(n=800)
    d.values[np.random.default_rng(0).random(d.values.shape) < 0.1] = np.nan
    out = bootstrap_lrt(d, 2, 5, LCAParams(n_classes=2, n_init=3, random_state=1), no_progress)
    assert np.isfinite(out.lr) and 0 < out.p_value <= 1
