"""The LCA engine alone: the dense, pattern and sparse layouts agree; missing cells; float32;
SQUAREM; two-stage starts; determinism."""

from __future__ import annotations

import numpy as np
import pytest

from workers.models.lca import engine as E
from workers.models.lca.simulation import simulate_binary


def fit_best(
    X: np.ndarray, k: int, seeds: list[int], **layout: object
) -> tuple[E.Design, E.StartsOutcome]:
    design = E.prepare(X, **layout)  # type: ignore[arg-type]
    outcome = E.run_starts(design, k, seeds, max_iter=2000, tol=1e-10, n_final=len(seeds))
    return design, outcome


def test_patterns_dense_and_sparse_layouts_give_the_same_loglik() -> None:
    # Given data with few products (many repeated patterns)
    X, _, _ = simulate_binary(n=4000, p=10, k=3, seed=1)
    # When the same starts are fitted on each layout
    d_pat, pat = fit_best(X, 3, [1, 2, 3], compress=True)
    d_dense, dense = fit_best(X, 3, [1, 2, 3], compress=False, sparse=False)
    d_sparse, sparse = fit_best(X, 3, [1, 2, 3], compress=False, sparse=True)
    # Then they read the data differently and agree to a tight tolerance
    assert (d_pat.kind, d_dense.kind, d_sparse.kind) == ("patterns", "dense", "sparse")
    assert d_pat.n_rows < 1024 and d_pat.total_weight == d_dense.total_weight == 4000
    assert pat.loglik == pytest.approx(dense.loglik, rel=1e-10)
    assert sparse.loglik == pytest.approx(dense.loglik, rel=1e-10)
    # And the log-likelihood is the plain sum over households
    theta, log_pi = dense.theta, dense.log_pi
    assert dense.loglik == pytest.approx(plain_loglik(X, theta, log_pi), rel=1e-12)


def test_layouts_agree_with_missing_cells() -> None:
    X, _, _ = simulate_binary(n=3000, p=8, k=3, seed=2)
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    d_pat, pat = fit_best(X, 3, [5, 6], compress=True)
    d_dense, dense = fit_best(X, 3, [5, 6], compress=False, sparse=False)
    d_sparse, sparse = fit_best(X, 3, [5, 6], compress=False, sparse=True)
    # The fits stop at the same optimum (up to the stopping rule) ...
    assert pat.loglik == pytest.approx(dense.loglik, rel=1e-8)
    assert sparse.loglik == pytest.approx(dense.loglik, rel=1e-8)
    # ... and at the same parameters the three layouts compute the same log-likelihood
    at = [layout_loglik(d, dense.theta, dense.log_pi) for d in (d_pat, d_dense, d_sparse)]
    assert at[0] == pytest.approx(at[1], rel=1e-12) and at[2] == pytest.approx(at[1], rel=1e-12)
    # Full information: each household's likelihood over its observed cells only
    assert dense.loglik == pytest.approx(plain_loglik(X, dense.theta, dense.log_pi), rel=1e-12)


def test_wide_sparse_data_takes_the_sparse_path_by_itself() -> None:
    X, _, _ = simulate_binary(n=3000, p=150, k=3, seed=3, density=0.05)
    design = E.prepare(X)
    assert design.kind == "sparse"
    _, sparse = fit_best(X, 3, [1])
    _, dense = fit_best(X, 3, [1], compress=False, sparse=False)
    assert sparse.loglik == pytest.approx(dense.loglik, rel=1e-10)


def test_all_missing_rows_are_left_out() -> None:
    X, _, _ = simulate_binary(n=2000, p=8, k=2, seed=4)
    more = np.vstack([X, np.full((300, 8), np.nan)])
    d1, a = fit_best(X, 2, [1, 2])
    d2, b = fit_best(more, 2, [1, 2])
    assert d2.total_weight == d1.total_weight == 2000
    assert (d2.row_of[-300:] == -1).all()
    assert b.loglik == pytest.approx(a.loglik, rel=1e-12)
    np.testing.assert_allclose(np.exp(b.log_pi), np.exp(a.log_pi), atol=1e-10)


def test_float32_squarem_and_two_stages_do_not_change_the_answer() -> None:
    X, _, _ = simulate_binary(n=20000, p=20, k=4, seed=5, sep=0.8)
    design = E.prepare(X, compress=False)
    seeds = [11, 12, 13, 14, 15, 16]
    common = dict(max_iter=5000, tol=1e-9)
    plain = E.run_starts(design, 4, seeds, n_final=6, squarem=False, float32=False, **common)
    fast = E.run_starts(design, 4, seeds, n_final=6, **common)
    two = E.run_starts(design, 4, seeds, n_final=2, stage1_iter=30, **common)
    assert fast.loglik == pytest.approx(plain.loglik, rel=1e-8)
    assert two.loglik == pytest.approx(plain.loglik, rel=1e-8)
    # SQUAREM needs far fewer EM passes than plain EM
    assert sum(s.iterations for s in fast.starts) < 0.6 * sum(s.iterations for s in plain.starts)
    assert sum(s.finished for s in two.starts) >= 2
    assert all(s.converged for s in fast.starts)


def test_identical_inputs_identical_results() -> None:
    X, _, _ = simulate_binary(n=30000, p=30, k=4, seed=6)
    design = E.prepare(X)
    a = E.run_starts(design, 4, [1, 2, 3], max_iter=500, tol=1e-8, n_final=2)
    b = E.run_starts(E.prepare(X.copy()), 4, [1, 2, 3], max_iter=500, tol=1e-8, n_final=2)
    assert [s.loglik for s in a.starts] == [s.loglik for s in b.starts]
    assert np.array_equal(a.theta, b.theta)


def test_item_probabilities_stay_off_zero_and_one() -> None:
    # A product nobody in one group buys: its MLE is exactly 0 in that class
    X, _, _ = simulate_binary(n=2000, p=6, k=2, seed=7)
    X[:1000, 0] = 0.0
    X[1000:, 0] = 1.0
    _, out = fit_best(X, 2, [1, 2, 3])
    assert out.theta.min() >= E.THETA_MIN and out.theta.max() <= 1 - E.THETA_MIN
    assert np.isfinite(out.loglik)


def layout_loglik(design: E.Design, theta: np.ndarray, log_pi: np.ndarray) -> float:
    out = E.e_pass(design, theta[None], log_pi[None], np.float64, E.Pool(1), stats=False)
    return float(out.loglik[0])


def plain_loglik(X: np.ndarray, theta: np.ndarray, log_pi: np.ndarray) -> float:
    """Σ_i log Σ_k π_k Π_{j observed} θ_kj^x (1-θ_kj)^(1-x), written out directly."""
    obs = ~np.isnan(X)
    X0 = np.where(obs, X, 0.0)
    comp = X0 @ np.log(theta).T + ((1 - X0) * obs) @ np.log1p(-theta).T + log_pi
    keep = obs.any(axis=1)
    m = comp.max(axis=1, keepdims=True)
    return float((np.log(np.exp(comp - m).sum(axis=1)) + m[:, 0])[keep].sum())
