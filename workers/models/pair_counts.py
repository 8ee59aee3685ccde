"""Pair counts of binary columns in one pass, for every product pair.

All 2×2 tables of all product pairs come from one pass over row chunks: the entries of Xᵀ·X
(and Xᵀ·O, Oᵀ·O with the observed-cell mask O when cells are missing), computed on
bit-packed columns, never from a loop over rows or pairs. The tetrachoric correlations
(factor/tetrachoric.py), MCA's Burt table and the co-purchase network are built from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workers.models.base import Progress

CHUNK_ROWS = 65_536  # row chunks of the float passes (scores, coordinates)
PACKED_CHUNK_ROWS = 262_144  # row chunks of the bit-packed pair counts
# Rows per partition when the counts are summed on a Dask cluster (DASK_SCHEDULER_ADDRESS).
CLUSTER_PARTITION_ROWS = 4 * PACKED_CHUNK_ROWS
# The counts go to the cluster only with at least this many products: counting costs p²·n/64
# word operations, moving the rows there n·p bytes, so only wide data repay the move. Measured
# at 2M × 100 on two cores: 1.02 s in process, 9.65 s on a two-worker LocalCluster (the move
# and the packing on the workers); from those costs the cluster breaks even near p ≈ 3,400 with
# two worker threads and p ≈ 900 with many (docs/scaling.md).
CLUSTER_MIN_PRODUCTS = 1000


@dataclass
class PairCounts:
    """Counts of every product pair over the households where both cells are observed.

    `n11[i, j]`: bought both; `bought_where_observed[i, j]`: bought i among households with j
    observed; `n_obs[i, j]`: households with both observed. Diagonals are per-product counts.
    """

    n11: np.ndarray
    bought_where_observed: np.ndarray
    n_obs: np.ndarray
    n_rows: int
    has_missing: bool
    # With case weights: the sum of the weights, the base every count is a share of.
    total_weight: float | None = None

    @property
    def base(self) -> float:
        return float(self.n_rows if self.total_weight is None else self.total_weight)

    @property
    def bought(self) -> np.ndarray:
        return np.diag(self.n11).copy()

    @property
    def observed(self) -> np.ndarray:
        return np.diag(self.n_obs).copy()

    @staticmethod
    def total(parts: list[PairCounts]) -> PairCounts:
        """The counts over the union of disjoint row ranges: every count is a sum over rows."""
        weights = [p.total_weight for p in parts]
        return PairCounts(
            sum((p.n11 for p in parts[1:]), parts[0].n11.copy()),
            sum(
                (p.bought_where_observed for p in parts[1:]), parts[0].bought_where_observed.copy()
            ),
            sum((p.n_obs for p in parts[1:]), parts[0].n_obs.copy()),
            sum(p.n_rows for p in parts),
            any(p.has_missing for p in parts),
            None if weights[0] is None else float(sum(w or 0.0 for w in weights)),
        )

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n00, n01, n10, n11) for every pair: first index i, second j (1 = bought)."""
        n11 = self.n11
        n10 = self.bought_where_observed - n11
        n01 = self.bought_where_observed.T - n11
        n00 = self.n_obs - n11 - n10 - n01
        return n00, n01, n10, n11


def _packed(columns: np.ndarray) -> np.ndarray:
    """Boolean rows × products → products × words: each product's column as 64-bit words."""
    bits = np.packbits(columns.T, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


def _and_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """counts[i, j] = number of rows where product i is set in `a` and product j in `b`."""
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int64)
    for i in range(a.shape[0]):
        out[i] = np.bitwise_count(a[i] & b).sum(axis=1, dtype=np.int64)
    return out


def pair_counts(
    values: np.ndarray,
    progress: Progress | None = None,
    chunk_rows: int = PACKED_CHUNK_ROWS,
    message: str = "Counting product pairs",
    weights: np.ndarray | None = None,
) -> PairCounts:
    """All pair counts of an n×p 0/1 matrix with NaN for missing cells, in row chunks.

    The counts are the entries of Xᵀ·X (and Xᵀ·O, Oᵀ·O with the observed-cell mask O), computed
    on bit-packed columns: each product's chunk of rows becomes 64-bit words, and a pair's count
    is the popcount of the AND of two such rows — p²·n/64 word operations, several times
    faster than a float matrix product, exact, and with memory bounded by the chunk. With a Dask
    cluster configured (DASK_SCHEDULER_ADDRESS) large data are counted there, partition by
    partition, and the partitions' counts summed.
    """
    on_cluster = _on_cluster(values, weights, progress, message)
    if on_cluster is not None:
        return on_cluster
    if weights is not None:
        return weighted_pair_counts(values, np.asarray(weights, dtype=np.float64), progress)
    return packed_pair_counts(values, progress, chunk_rows, message)


def packed_pair_counts(
    values: np.ndarray,
    progress: Progress | None = None,
    chunk_rows: int = PACKED_CHUNK_ROWS,
    message: str = "Counting product pairs",
) -> PairCounts:
    """The unweighted counts in process, on bit-packed row chunks."""
    n, p = values.shape
    n11 = np.zeros((p, p), dtype=np.int64)
    bought_obs = np.zeros((p, p), dtype=np.int64)
    n_obs = np.zeros((p, p), dtype=np.int64)
    has_missing = False
    n_chunks = max(1, -(-n // chunk_rows))
    for c, start in enumerate(range(0, n, chunk_rows)):
        chunk = values[start : start + chunk_rows]
        bought = _packed(chunk == 1)
        n11 += _and_counts(bought, bought)
        missing = np.isnan(chunk)
        if missing.any():
            has_missing = True
            observed = _packed(~missing)
            bought_obs += _and_counts(bought, observed)
            n_obs += _and_counts(observed, observed)
        else:
            bought_obs += (chunk == 1).sum(axis=0)[:, None]
            n_obs += chunk.shape[0]
        if progress is not None:
            done = min(start + chunk_rows, n)
            progress(
                (c + 1) / n_chunks,
                f"{message}: {done:,} of {n:,} households.",
                details={"rows_done": done, "n_rows": n},
            )
    return PairCounts(
        n11.astype(float), bought_obs.astype(float), n_obs.astype(float), n, has_missing
    )


def _on_cluster(
    values: np.ndarray, weights: np.ndarray | None, progress: Progress | None, message: str
) -> PairCounts | None:
    """The counts summed on the Dask cluster when one is configured and the data are large and
    wide (None otherwise). Partitions travel as one byte per cell (0, 1, 2 = missing), an eighth of
    the float64 matrix; each is counted by pair_counts itself on a worker."""
    from workers.models import cluster

    n, p = values.shape
    if p < CLUSTER_MIN_PRODUCTS or n <= CLUSTER_PARTITION_ROWS:
        return None
    c = cluster.client_for(values.size)
    if c is None:
        return None
    codes = np.where(np.isnan(values), 2, values).astype(np.uint8)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    parts = [
        (
            codes[a : a + CLUSTER_PARTITION_ROWS],
            None if w is None else w[a : a + CLUSTER_PARTITION_ROWS],
        )
        for a in range(0, n, CLUSTER_PARTITION_ROWS)
    ]

    def tick() -> None:
        if progress is not None:
            progress(0.0, f"{message}: {n:,} households in {len(parts)} partitions on the cluster.")

    return PairCounts.total(cluster.over_partitions(c, parts, _partition_counts, tick=tick))


def _partition_counts(part: tuple[np.ndarray, np.ndarray | None]) -> PairCounts:
    """One partition's counts, on a Dask worker (codes back to 0/1/NaN, then counted here)."""
    codes, weights = part
    values = np.where(codes == 2, np.nan, codes.astype(np.float64))
    if weights is not None:
        return weighted_pair_counts(values, weights)
    return packed_pair_counts(values)


def weighted_pair_counts(
    values: np.ndarray, weights: np.ndarray, progress: Progress | None = None
) -> PairCounts:
    """The same counts with case weights: each household counts as its weight (Xᵀ·diag(w)·X
    in float products, row chunks). Integer weights give exactly the counts of repeated rows;
    `n_rows` stays the number of rows (the sum of weights is the counts' diagonal)."""
    n, p = values.shape
    n11 = np.zeros((p, p))
    bought_obs = np.zeros((p, p))
    n_obs = np.zeros((p, p))
    has_missing = bool(np.isnan(values).any())
    for start, stop in iter_chunks(n):
        chunk = values[start:stop]
        w = weights[start:stop, None]
        bought = (chunk == 1).astype(np.float64)
        observed = (~np.isnan(chunk)).astype(np.float64)
        n11 += (bought * w).T @ bought
        bought_obs += (bought * w).T @ observed
        n_obs += (observed * w).T @ observed
        if progress is not None:
            progress(stop / n, f"Counting product pairs: {stop:,} of {n:,} households.")
    return PairCounts(n11, bought_obs, n_obs, n, has_missing, float(weights.sum()))


def iter_chunks(n: int, chunk_rows: int = CHUNK_ROWS) -> list[tuple[int, int]]:
    return [(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]
