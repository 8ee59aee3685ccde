"""EM on a Dask LocalCluster (two worker processes) gives the in-process answer: the same
log-likelihood to 1e-9 relative and the same parameters to 1e-8, on every data layout and for
the whole `lca` and `lca_covariates` fits; a cancel stops a distributed pass; an unreachable
scheduler is one clear, transient error."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from backend.progress import RunCancelled
from backend.schemas.lca import LCACovariatesParams, LCAParams
from tests.support.dask_cluster import both_ways, dask_address, scheduler_set
from workers.models import cluster
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca import covariates as C
from workers.models.lca import engine as E
from workers.models.lca.fit import fit as fit_lca
from workers.models.lca.simulation import simulate_binary

__all__ = ["dask_address"]  # the shared cluster fixture


def assert_same_fit(a: E.StartsOutcome, b: E.StartsOutcome) -> None:
    """Start by start (two starts at one optimum with their classes in another order would
    make "the best" a coin toss between equal answers)."""
    assert b.loglik == pytest.approx(a.loglik, rel=1e-9)
    assert [s.iterations for s in b.starts] == [s.iterations for s in a.starts]
    for sa, sb in zip(a.starts, b.starts, strict=True):
        assert sb.loglik == pytest.approx(sa.loglik, rel=1e-9)
        np.testing.assert_allclose(sb.theta, sa.theta, rtol=0, atol=1e-8)
        np.testing.assert_allclose(np.exp(sb.log_pi), np.exp(sa.log_pi), rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("layout", "p", "density"),
    [
        ({"compress": False, "sparse": False}, 20, None),
        ({"compress": True}, 16, None),
        ({"compress": False, "sparse": True}, 120, 0.05),
    ],
    ids=["dense", "patterns", "sparse"],
)
def test_distributed_starts_equal_in_process_starts(
    dask_address: str,
    monkeypatch: pytest.MonkeyPatch,
    layout: dict[str, bool],
    p: int,
    density: float | None,
) -> None:
    # Given data with missing cells, fitted with four starts on one layout
    X, _, _ = simulate_binary(n=30_000, p=p, k=3, seed=4, density=density)
    X[np.random.default_rng(1).random(X.shape) < 0.02] = np.nan
    design = E.prepare(X, **layout)  # type: ignore[arg-type]

    def run() -> E.StartsOutcome:
        return E.run_starts(design, 3, [11, 12, 13, 14], max_iter=300, tol=1e-8, n_final=2)

    # When the same starts run in process and on the cluster
    here, there, scattered = both_ways(monkeypatch, dask_address, run)
    # Then the cluster held the rows in several partitions and the answers are the same
    assert scattered and scattered[0] >= 2
    assert_same_fit(here, there)


def test_whole_lca_fit_on_the_cluster_equals_the_fit_in_process(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _, _ = simulate_binary(n=20_000, p=24, k=4, seed=7)
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(X.shape[1])])
    # No time budget (the cluster is slower here: a budget would stop the searches apart) and
    # no stability resamples (each one another search).
    params = LCAParams(
        n_classes=4, n_init=4, max_starts=8, random_state=3, max_seconds=None, stability_samples=0
    )
    here, there, scattered = both_ways(
        monkeypatch, dask_address, lambda: fit_lca(data, params, no_progress)
    )
    assert scattered
    assert there.loglik == pytest.approx(here.loglik, rel=1e-9)
    np.testing.assert_allclose(there.item_probabilities, here.item_probabilities, atol=1e-8)
    np.testing.assert_allclose(there.class_sizes, here.class_sizes, atol=1e-8)


def test_lca_with_covariates_on_the_cluster_equals_the_fit_in_process(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _, _ = simulate_binary(n=20_000, p=16, k=3, seed=8)
    z = np.random.default_rng(2).normal(size=X.shape[0])
    data = BinaryMatrix(
        values=X,
        products=[f"p{j}" for j in range(X.shape[1])],
        covariates=pd.DataFrame({"age": z}),
    )
    params = LCACovariatesParams(
        n_classes=3, n_init=3, random_state=5, max_seconds=None, stability_samples=0
    )
    here, there, scattered = both_ways(
        monkeypatch, dask_address, lambda: C.fit(data, params, no_progress)
    )
    assert scattered  # the measurement model's start search ran on the cluster
    assert there.loglik == pytest.approx(here.loglik, rel=1e-9)
    np.testing.assert_allclose(there.item_probabilities, here.item_probabilities, atol=1e-8)


def test_a_cancel_during_a_distributed_pass_stops_the_fit(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _, _ = simulate_binary(n=100_000, p=40, k=4, seed=9)
    design = E.prepare(X, compress=False, sparse=False)
    # Ticks every 10 ms while a pass runs, so the cancel lands inside one however fast it is.
    monkeypatch.setattr(cluster, "TICK_SECONDS", 0.01)

    def tick() -> None:  # the fit's progress, called while a pass runs, says "cancelled"
        raise RunCancelled()

    with scheduler_set(monkeypatch, dask_address):
        with pytest.raises(RunCancelled):
            E.run_starts(design, 4, list(range(40)), max_iter=1000, tol=1e-14, tick=tick)
        # Then the pass's tasks were cancelled: nothing of it keeps the workers busy
        c = cluster.client()
        assert c is not None
        deadline = time.monotonic() + 5
        while any(c.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(c.processing().values())


def test_an_unreachable_scheduler_is_a_clear_transient_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.executor import TRANSIENT

    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 1.0)
    X, _, _ = simulate_binary(n=2000, p=10, k=2, seed=1)
    design = E.prepare(X)
    with (
        scheduler_set(monkeypatch, "tcp://127.0.0.1:9"),
        pytest.raises(
            cluster.SchedulerLost, match=re.escape("DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:9")
        ),
    ):
        E.run_starts(design, 2, [1], max_iter=50, tol=1e-6)
    assert issubclass(cluster.SchedulerLost, TRANSIENT)


def test_without_a_scheduler_or_below_the_size_threshold_nothing_goes_to_dask(
    dask_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _, _ = simulate_binary(n=2000, p=10, k=2, seed=1)
    design = E.prepare(X)
    assert cluster.client_for(design.n_rows * design.n_products) is None
    with scheduler_set(monkeypatch, dask_address, min_cells=10**9):
        assert cluster.client_for(design.n_rows * design.n_products) is None


@pytest.mark.slow
def test_a_worker_killed_during_a_fit_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import threading

    from tests.support.dask_cluster import local_cluster

    X, _, _ = simulate_binary(n=150_000, p=30, k=3, seed=10)
    design = E.prepare(X, compress=False, sparse=False)
    seeds = list(range(8))

    def run() -> E.StartsOutcome:
        return E.run_starts(design, 3, seeds, max_iter=300, tol=1e-8, n_final=2)

    here = run()
    with local_cluster() as lc, scheduler_set(monkeypatch, lc.scheduler_address):
        victim = next(iter(lc.workers.values())).process.pid
        killed: list[int] = []

        def kill() -> None:  # a few seconds into the fit: SIGKILL one worker process
            killed.append(victim)
            os.kill(victim, signal.SIGKILL)

        timer = threading.Timer(3.0, kill)
        timer.start()
        there = run()
        timer.cancel()
    # The nanny restarts the worker, the lost partitions are scattered again, the pass repeated
    assert killed
    assert_same_fit(here, there)


@pytest.mark.slow
def test_a_scheduler_lost_during_a_fit_fails_it_as_scheduler_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from tests.support.dask_cluster import local_cluster

    X, _, _ = simulate_binary(n=150_000, p=30, k=3, seed=11)
    design = E.prepare(X, compress=False, sparse=False)
    with local_cluster() as lc, scheduler_set(monkeypatch, lc.scheduler_address):
        # A few seconds into the fit the scheduler goes away (its workers stay)
        timer = threading.Timer(3.0, lambda: lc.sync(lc.scheduler.close))
        timer.start()
        with pytest.raises(cluster.SchedulerLost, match="was lost during the fit"):
            E.run_starts(design, 3, list(range(40)), max_iter=5000, tol=1e-14)
        timer.cancel()
