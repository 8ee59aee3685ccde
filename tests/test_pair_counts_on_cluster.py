"""Pair counts summed on a Dask LocalCluster equal the counts in process, exactly, and so do
the fits built on them: the tetrachoric factor model and MCA (its Burt table)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.schemas.factor import TetrachoricFactorParams
from backend.schemas.mca import MCAParams
from tests.support.dask_cluster import both_ways, dask_address
from workers.models import mca
from workers.models import pair_counts as counts
from workers.models.base import BinaryMatrix, no_progress
from workers.models.factor.fit import fit as fit_factor
from workers.models.lca.simulation import simulate_binary
from workers.models.pair_counts import pair_counts

__all__ = ["dask_address"]  # the shared cluster fixture

PARTITION_ROWS = 20_000  # small partitions, so small data make several


@pytest.fixture(autouse=True)
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small, narrow data on the cluster: the test is about equal answers, not about paying.
    monkeypatch.setattr(counts, "CLUSTER_PARTITION_ROWS", PARTITION_ROWS)
    monkeypatch.setattr(counts, "CLUSTER_MIN_PRODUCTS", 1)


def data(n: int, p: int) -> BinaryMatrix:
    X, _, _ = simulate_binary(n=n, p=p, k=3, seed=5)
    X[np.random.default_rng(3).random(X.shape) < 0.01] = np.nan
    return BinaryMatrix(values=X, products=[f"p{j}" for j in range(p)])


@pytest.mark.parametrize("weighted", [False, True], ids=["counts", "weighted"])
def test_pair_counts_on_the_cluster_are_the_counts_in_process(
    dask_address: str, monkeypatch: pytest.MonkeyPatch, weighted: bool
) -> None:
    d = data(int(2.5 * PARTITION_ROWS), 12)
    w = np.random.default_rng(0).integers(1, 4, d.n_rows).astype(float) if weighted else None
    here, there, scattered = both_ways(
        monkeypatch, dask_address, lambda: pair_counts(d.values, weights=w)
    )
    assert scattered == [3]  # three partitions
    for name in ("n11", "bought_where_observed", "n_obs"):
        np.testing.assert_allclose(getattr(there, name), getattr(here, name), rtol=1e-12)
    assert (there.n_rows, there.has_missing, there.total_weight) == (
        here.n_rows,
        here.has_missing,
        here.total_weight,
    )


def test_narrow_data_are_counted_in_process_even_with_a_scheduler(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts, "CLUSTER_MIN_PRODUCTS", 1000)
    d = data(int(2.5 * PARTITION_ROWS), 12)
    _, _, scattered = both_ways(monkeypatch, dask_address, lambda: pair_counts(d.values))
    assert scattered == []


def test_factor_and_mca_fits_on_the_cluster_equal_the_fits_in_process(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = data(PARTITION_ROWS + 5000, 10)

    def fits() -> tuple:
        factor = fit_factor(d, TetrachoricFactorParams(n_factors=2, n_parallel=0), no_progress)
        burt = mca.fit(d, MCAParams(n_components=2), no_progress)
        return factor, burt

    (f1, m1), (f2, m2), scattered = both_ways(monkeypatch, dask_address, fits)
    assert scattered == [2, 2]  # two partitions for each fit's counts
    np.testing.assert_allclose(f2.loadings, f1.loadings, atol=1e-10)
    np.testing.assert_allclose(m2.eigenvalues, m1.eigenvalues, rtol=1e-10)
