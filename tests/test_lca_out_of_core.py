"""Out of core: a design several times one Dask worker's memory limit fits on a LocalCluster.

The partitions stay persisted on the workers; what does not fit under a worker's limit Dask
spills to its local disk and reads back for each pass. Scaled to CI (workers of 600 MB, about
1.8 GB of design); the full-size measurement (1 GB workers, a 3 GB dataset) is in
docs/scaling.md."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.dask_cluster import local_cluster, scheduler_set
from workers.models.lca import engine as E

MEMORY_LIMIT = 600 << 20


@pytest.mark.slow
def test_a_design_larger_than_a_workers_memory_fits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # Given 1M households × 150 products: 1.8 GB of design (float64 and float32 copies), three
    # times one worker's memory limit
    rng = np.random.default_rng(3)
    X = (rng.random((1_000_000, 150)) < 0.2).astype(np.float64)
    design = E.prepare(X, compress=False, sparse=False)
    del X
    data_bytes = sum(a.nbytes for a in (design.dense or {}).values())
    assert data_bytes > 2.5 * MEMORY_LIMIT
    seeds = [1, 2]

    def run() -> E.StartsOutcome:
        return E.run_starts(design, 3, seeds, max_iter=6, tol=1e-12, float32=False)

    here = run()
    # When the same starts run on two workers limited to MEMORY_LIMIT each
    with (
        local_cluster(memory_limit=MEMORY_LIMIT, local_directory=str(tmp_path)) as lc,
        scheduler_set(monkeypatch, lc.scheduler_address),
    ):
        there = run()
    # Then the fit completes with the in-process answer
    assert there.loglik == pytest.approx(here.loglik, rel=1e-9)
    np.testing.assert_allclose(there.theta, here.theta, atol=1e-8)
