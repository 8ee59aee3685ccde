"""Honest VI (issue 18, item 3): the calibration check that says whether a variational fit's
intervals can be read as 94% intervals — its pieces here, the whole fit in the slow test."""

from __future__ import annotations

import numpy as np
import pytest

from workers.models.base import BinaryMatrix
from workers.models.bayes import factor_model as fm
from workers.models.bayes import factor_vi


def test_calibration_marks_intervals_approximate_only_below_two_standard_errors() -> None:
    # 60 intervals: nominal 94 %, sd 3.1 %: the floor is 87.9 %.
    fine = factor_vi.calibration_of(a_cov=19, a_n=20, l_cov=36, l_n=40)  # 55/60 = 91.7 %
    assert not fine.approximate
    assert fine.lower_limit == pytest.approx(0.94 - 2 * np.sqrt(0.94 * 0.06 / 60))
    assert "55 of 60" in fine.statement and "consistent with the nominal 94%" in fine.statement
    narrow = factor_vi.calibration_of(a_cov=18, a_n=20, l_cov=30, l_n=40)  # 48/60 = 80 %
    assert narrow.approximate
    assert narrow.coverage == pytest.approx(0.8)
    assert narrow.coverage_loadings == pytest.approx(0.75)
    assert "treat the intervals as approximate (too narrow)" in narrow.statement
    said = factor_vi.intervals_statement("advi", narrow)
    assert said.startswith("Variational approximation (mean-field ADVI)") and "approximate" in said
    assert "not checked" in factor_vi.intervals_statement("fullrank_advi", None)


def test_coverage_counts_intervals_containing_the_truth_on_estimated_loadings_only() -> None:
    rng = np.random.default_rng(3)
    data = BinaryMatrix(
        values=(rng.random((200, 5)) < 0.4).astype(float), products=list("abcde")
    )
    fd = fm.prepare(data, 2)
    truth_l = rng.normal(0, 1, (5, 2))
    truth_l[fd.anchors[0], 1] = 0.0  # the fixed zero
    truth_a = rng.normal(0, 1, 5)
    draws_a = truth_a + rng.normal(0, 0.1, (4000, 5))
    draws_l = truth_l + rng.normal(0, 0.1, (4000, 5, 2))
    draws_l[:, fd.anchors[0], 1] = 0.0
    draws_a[:, 0] += 1.0  # this intercept's interval misses its truth
    a_cov, a_n, l_cov, l_n = factor_vi.coverage(draws_a, draws_l, truth_a, truth_l, fd)
    assert (a_cov, a_n) == (4, 5)
    assert (l_cov, l_n) == (9, 9)  # 10 entries, one fixed at zero


def test_simulation_from_the_fit_keeps_shape_anchors_and_missing_cells() -> None:
    rng = np.random.default_rng(4)
    values = (rng.random((300, 6)) < 0.3).astype(float)
    values[rng.random(values.shape) < 0.05] = np.nan
    fd = fm.prepare(BinaryMatrix(values=values, products=list("abcdef")), 2)
    loadings = np.zeros((6, 2))
    loadings[:3, 0], loadings[3:, 1] = 2.0, 2.0
    sim = factor_vi.simulate_from(fd, np.full(6, -0.5), loadings, "logit", seed=1)
    assert sim.anchors == fd.anchors and sim.products == fd.products
    assert sim.mask is not None and fd.mask is not None
    assert np.array_equal(sim.mask, fd.mask)
    assert not sim.y[fd.mask == 0].any()
    assert sim.observed_rates.min() > 0 and sim.observed_rates.max() < 1
    # Products loading on the same simulated factor go together.
    corr = np.corrcoef(sim.y.T)
    assert corr[0, 1] > 0.15 and corr[3, 4] > 0.15 and abs(corr[0, 4]) < 0.12
