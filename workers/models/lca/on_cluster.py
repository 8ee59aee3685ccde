"""EM's passes on a Dask cluster: the design's rows as partitions on the workers, each pass a
map (the E-step's sums of every start on one partition) and a reduce (their sum, in partition
order, here; the M-step and SQUAREM stay on the Dramatiq worker).

A partition is `Design.part` of a row range, and its pass is `e_pass` itself on it: the code
that sums a pass in process is the code that sums a partition, so the answers agree to rounding
(the partition sums are added in another grouping than one long run of blocks).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from workers.models import cluster
from workers.models.lca.engine import SPARSE_BLOCK_ROWS, Design, PassOut, Pool, Tick, e_pass

# A partition's data (float64 and float32 copies of its rows) is kept near this size: large
# enough that a pass's per-task overhead (a few ms) is small against its arithmetic, small
# enough that a worker holds or loads one with room to spare under its memory limit.
PARTITION_BYTES = 16 << 20
# At least this many partitions per worker thread, so a slow worker does not hold a pass up.
PARTITIONS_PER_THREAD = 2


def partition_rows(design: Design, threads: int) -> int:
    """Rows per partition: about PARTITION_BYTES of data, at least PARTITIONS_PER_THREAD per
    thread of the cluster, a multiple of SPARSE_BLOCK_ROWS (whole blocks)."""
    per_row = 12 * design.n_products  # float64 + float32 copies of a dense row
    if design.sparse_blocks is not None:
        nnz = sum(sp.csr_matrix(b.x[np.float64]).nnz for b in design.sparse_blocks)
        per_row = max(1, 16 * nnz // max(design.n_rows, 1))
    by_bytes = PARTITION_BYTES // per_row
    by_threads = -(-design.n_rows // max(1, threads * PARTITIONS_PER_THREAD))
    rows = max(1, min(by_bytes, by_threads))
    return -(-rows // SPARSE_BLOCK_ROWS) * SPARSE_BLOCK_ROWS


class DaskRows:
    """A design's rows on the cluster (engine.RemoteRows): e_pass sums there."""

    def __init__(self, partitions: cluster.Partitions) -> None:
        self.partitions = partitions

    def e_pass(
        self, theta: np.ndarray, log_pi: np.ndarray, dtype: type, tick: Tick | None, stats: bool
    ) -> PassOut:
        parts = self.partitions.run(partition_pass, theta, log_pi, dtype, stats, tick=tick)
        return PassOut.total(parts)


def partition_pass(
    part: Design, theta: np.ndarray, log_pi: np.ndarray, dtype: type, stats: bool
) -> PassOut:
    """One partition's share of a pass, on a Dask worker thread."""
    _one_blas_thread()
    return e_pass(part, theta, log_pi, dtype, Pool(threads=1), stats=stats)


@functools.cache
def _one_blas_thread() -> None:
    """BLAS on one thread in this (Dask worker) process, set once: a worker's threads are its
    parallelism (Dask's nanny sets the same through OMP/OPENBLAS_NUM_THREADS; a worker started
    without one may not). Once, because threadpoolctl's context manager costs ~2.4 ms a call
    here — almost a tenth of a 16 MB partition's pass."""
    threadpool_limits(1, user_api="blas")


@contextmanager
def on_cluster(design: Design) -> Iterator[Design]:
    """The design with its passes on the cluster of DASK_SCHEDULER_ADDRESS while the block runs
    (its partitions released after), or the design itself when no scheduler is configured."""
    c = cluster.client_for(design.n_rows * design.n_products)
    if c is None or design.n_rows == 0:
        yield design
        return
    threads = max(1, sum(c.nthreads().values()))
    rows = partition_rows(design, threads)
    parts = [design.part(a, min(a + rows, design.n_rows)) for a in range(0, design.n_rows, rows)]
    partitions = cluster.Partitions(c, parts)
    try:
        yield replace(design, remote=DaskRows(partitions), _cache={})
    finally:
        partitions.release()
