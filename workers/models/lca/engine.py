"""The EM engine behind `lca` and `lca_covariates`: binary latent class model in the log domain.

Everything here is NumPy/SciPy and knows nothing about results, Redis or the database.

* `prepare(values)` turns the n × p matrix (0/1, NaN = missing) into a `Design`: the distinct
  response patterns with their counts as weights when that is smaller, a CSR matrix when the
  data is wide and sparse, the dense matrix otherwise. Rows with every product missing are left
  out (they carry no information; the caller gives them the class sizes as probabilities).
* `run_starts(design, ...)` fits many random starts together: every pass over the data computes
  the E-step and the M-step's sufficient statistics for all active starts at once (one GEMM of
  the data with a p × (starts·classes) matrix), in row blocks spread over threads. EM is
  accelerated with SQUAREM (Varadhan & Roland 2008, scheme S3, with monotonicity control), runs
  in float32 until the starts are close and in float64 to the end, and uses two stages: all
  starts for a few iterations, then only the best few to convergence (Mplus's STARTS).

Convergence rule (docs/lca.md): a start has converged when, on one plain EM step, the change of
the mean per-row log-likelihood (total weight in the denominator) projected to the end of the
climb, Δ/(1 − λ²), is below `tol`, and the largest change of an item probability or class share,
projected the same way, Δθ/(1 − λ), is below √tol; λ is EM's contraction rate measured on the
two plain steps of the SQUAREM cycle. On a flat stretch (λ near 1) a small step no longer passes
for convergence.

`search(...)` keeps starting until the best log-likelihood has been reached by `replicate`
starts (Mplus's advice: at least two) or a start or time budget is spent: rounds of fresh starts,
each twice as large as the one before.

With a Dask scheduler configured (DASK_SCHEDULER_ADDRESS) and a large design, `search` holds the
rows as partitions on the cluster for its whole run (on_cluster.py): `e_pass` then runs on each
partition (`Design.part`) and the partitions' sums are added (`PassOut.total`); everything else
here is unchanged.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

# Item probabilities are kept inside [THETA_MIN, 1 - THETA_MIN]: logits clipped at ±15, as
# Mplus does. Costs at most about N_k·3e-7 of log-likelihood per boundary parameter.
LOGIT_BOUND = 15.0
THETA_MIN = float(1.0 / (1.0 + math.exp(LOGIT_BOUND)))
# Class shares are kept at or above this (log π finite, so SQUAREM can extrapolate).
PI_MIN = 1e-12
# float32 passes until one EM step moves the mean log-likelihood less than max(tol, this), then
# float64 passes until it moves less than tol (the answer is always checked in float64).
FLOAT32_UNTIL = 1e-6
# Convergence is declared only on cycles of plain EM (two steps each, no SQUAREM jump between
# them), once the contraction rate they measure has settled: the rate measured right after an
# extrapolation is that of the fast components SQUAREM left behind, not EM's asymptotic rate. On
# a flat ridge it read 0.97 where EM's rate is 0.99996, and the start stopped 3e-4 log-likelihood
# units below where plain EM goes on to climb; it takes 10-20 plain steps to see that rate. So a
# start whose rule holds goes on by plain cycles until two of them agree on the rate (the
# remaining gain 1/(1 - λ) it implies moves by less than half), at least CONFIRM_CYCLES of them:
# about six passes on well-conditioned data, more on a ridge, where the rule then usually fails.
# A ridge's slow component can still hide under a faster one whose rate has settled (0.96 over
# a few cycles while the slow one is 0.99996), so the rule also takes the rate to be at least
# RATE_FLOOR: a start stops only once a step moves the mean log-likelihood less than 2 % of tol.
# On well-conditioned data that is a few more passes (the change shrinks geometrically).
CONFIRM_CYCLES = 2
RATE_FLOOR = 0.99
# Compress to distinct patterns when they are at most this share of the rows.
COMPRESS_RATIO = 0.8
# CSR instead of dense when at least this many products and at most this density of 1s.
SPARSE_MIN_PRODUCTS = 100
SPARSE_MAX_DENSITY = 0.15
# Elements of the rows × (starts·classes) work array per block (at most 8 MB in float32), and
# at most BLOCK_MAX_ROWS rows: with 60 columns a 4,096-row block's work array (1 MB in float32)
# and data (0.8 MB) stay in a core's L2 cache (4 MB here) through the log-sum-exp's passes;
# 16,384 rows (3.9 MB + 3.3 MB) spill it. A small effect on this shared machine (on average
# 1.25x the two bare GEMMs against 1.32x over five side-by-side runs: bench/README.md).
BLOCK_ELEMENTS = 1 << 21
BLOCK_MAX_ROWS = 4096
SPARSE_BLOCK_ROWS = 8192

Tick = Callable[[], None]


def n_threads() -> int:
    """Threads per fit: the cores shared by the worker processes and threads of this machine
    (WORKER_CONCURRENCY × WORKER_THREADS fits may run at once), at most 8."""
    from backend.settings import get_settings

    settings = get_settings()
    fits = max(1, settings.worker_concurrency * settings.worker_threads)
    return max(1, min((os.cpu_count() or 1) // fits, 8))


# ---------------------------------------------------------------------------------------------
# Data layout


@dataclass
class Block:
    """A block of design rows. `x` is dense or CSR; `miss` is the CSR missing-cell indicator or
    None when the block has no missing cell. Both are kept in float32 and float64."""

    x: dict[type, np.ndarray | sp.csr_matrix]
    xt: dict[type, sp.csr_matrix] | None
    miss: dict[type, sp.csr_matrix] | None
    misst: dict[type, sp.csr_matrix] | None
    w: np.ndarray
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


@dataclass
class Design:
    """What EM fits: weighted rows (distinct patterns or households) and how to map back."""

    kind: str  # "dense", "patterns" or "sparse"
    n_products: int
    weights: np.ndarray  # per design row (float64)
    total_weight: float
    row_of: np.ndarray  # per input row: its design row, or -1 when every product is missing
    n_missing_cells: int
    dense: dict[type, np.ndarray] | None  # design rows × products, NaN → 0 (dense/patterns)
    sparse_blocks: list[Block] | None
    miss: dict[type, sp.csr_matrix] | None  # whole missing indicator (dense kind only)
    missing_rows: np.ndarray  # design rows that have a missing cell
    observed_rate: np.ndarray  # weighted purchase rate per product over observed cells
    _cache: dict[tuple[int, type], list[Block]] = field(default_factory=dict)
    # Set when the rows are also held on a Dask cluster: e_pass then sums there
    # (workers/models/lca/on_cluster.py).
    remote: RemoteRows | None = None

    @property
    def n_rows(self) -> int:
        return int(self.weights.shape[0])

    def blocks(self, columns: int, dtype: type) -> list[Block]:
        """Row blocks sized so a block's rows × `columns` work array stays small."""
        if self.sparse_blocks is not None:
            return self.sparse_blocks
        assert self.dense is not None
        # Block sizes do not depend on the number of threads: the same sums in the same order
        # on any machine configuration.
        rows = int(np.clip(BLOCK_ELEMENTS // max(columns, 1), 512, BLOCK_MAX_ROWS))
        key = (rows, dtype)
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = list(self._dense_blocks(rows))
        return self._cache[key]

    def part(self, start: int, stop: int) -> Design:
        """Design rows [start, stop) as a design of their own: what one Dask partition holds.
        Its e_pass sums are that range's share of the whole design's; `start` is a multiple of
        SPARSE_BLOCK_ROWS so a sparse design's blocks are whole."""
        assert start % SPARSE_BLOCK_ROWS == 0
        lo, hi = np.searchsorted(self.missing_rows, [start, stop])
        miss = None
        if self.miss is not None and hi > lo:
            miss = {t: m[start:stop] for t, m in self.miss.items()}
        blocks = None
        if self.sparse_blocks is not None:
            blocks = [
                replace(b, start=b.start - start, stop=b.stop - start)
                for b in self.sparse_blocks
                if start <= b.start < stop
            ]
        weights = self.weights[start:stop]
        missing = [m[np.float64].nnz for m in [miss] + [b.miss for b in blocks or []] if m]
        return Design(
            kind=self.kind,
            n_products=self.n_products,
            weights=weights,
            total_weight=float(weights.sum()),
            row_of=np.zeros(0, dtype=np.int64),
            n_missing_cells=int(sum(missing)),
            dense=None if self.dense is None else {t: a[start:stop] for t, a in self.dense.items()},
            sparse_blocks=blocks,
            miss=miss,
            missing_rows=self.missing_rows[lo:hi] - start,
            observed_rate=self.observed_rate,
        )

    def _dense_blocks(self, rows: int) -> Iterator[Block]:
        assert self.dense is not None
        for start in range(0, self.n_rows, rows):
            stop = min(start + rows, self.n_rows)
            x = {t: a[start:stop] for t, a in self.dense.items()}
            miss = misst = None
            if self.miss is not None:
                lo, hi = np.searchsorted(self.missing_rows, [start, stop])
                if hi > lo:
                    miss = {t: m[start:stop] for t, m in self.miss.items()}
                    misst = {t: m.T.tocsr() for t, m in miss.items()}
            yield Block(x, None, miss, misst, self.weights[start:stop], start, stop)


def _pattern_keys(codes: np.ndarray) -> np.ndarray | None:
    """One integer per row identifying its pattern (codes 0/1/2 = no/yes/missing)."""
    n, p = codes.shape
    if p <= 40:  # 3**40 < 2**64: exact base-3 key
        powers = (3 ** np.arange(p, dtype=np.uint64)).astype(np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        for j in range(p):
            key += codes[:, j].astype(np.uint64) * powers[j]
        return key
    return None


def _unique_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows: (index of first occurrence, inverse, counts)."""
    key = _pattern_keys(codes)
    if key is None:
        packed = np.ascontiguousarray(codes)
        key = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    return first, inverse.ravel(), counts


def _worth_compressing(codes: np.ndarray, rng: np.random.Generator) -> bool:
    n = codes.shape[0]
    if n < 64:
        return False
    if codes.shape[1] > 40 and n > 20000:
        # Estimate on a sample first: wide data rarely repeats, and sorting it all costs.
        sample = codes[rng.choice(n, 20000, replace=False)]
        _, _, counts = _unique_rows(sample)
        if len(counts) > 0.95 * len(sample):
            return False
    return True


def prepare(
    values: np.ndarray,
    compress: bool | None = None,
    sparse: bool | None = None,
    weights: np.ndarray | None = None,
) -> Design:
    """Lays out the data for EM. `compress`/`sparse` force a path (tests, benchmarks); None
    chooses: distinct patterns when they are at most 80% of the rows, else CSR when the data is
    wide and sparse, else dense. `weights` are case weights per row (None: ones): every EM sum
    multiplies a row's contribution by its weight, and a pattern's weight is the sum of its rows'
    weights, so integer weights give exactly the design of the data with rows repeated."""
    case = None if weights is None else np.asarray(weights, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n, p = values.shape
    nan = np.isnan(values)
    n_missing = int(nan.sum())
    any_missing = n_missing > 0
    keep = ~nan.all(axis=1) if any_missing else np.ones(n, dtype=bool)
    kept = np.flatnonzero(keep)
    X = values[kept] if not keep.all() else values
    nanx = nan[kept] if any_missing else None
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[kept] = np.arange(len(kept))
    weights = np.ones(len(kept), dtype=np.float64) if case is None else case[kept].copy()

    kind = "dense"
    if compress is None or compress:
        codes = np.where(nanx, 2, X).astype(np.uint8) if nanx is not None else X.astype(np.uint8)
        do = (
            compress
            if compress is not None
            else _worth_compressing(codes, np.random.default_rng(0))
        )
        if do:
            first, inverse, counts = _unique_rows(codes)
            if compress or len(first) <= COMPRESS_RATIO * len(kept):
                kind = "patterns"
                X = X[first]
                nanx = nanx[first] if nanx is not None else None
                weights = (
                    counts.astype(np.float64)
                    if case is None
                    else np.bincount(inverse, weights=weights, minlength=len(first))
                )
                row_of[kept] = inverse
    X0 = np.where(nanx, 0.0, X) if nanx is not None else X
    observed = (
        weights @ (~nanx).astype(np.float64) if nanx is not None else np.full(p, weights.sum())
    )
    rate = (weights @ X0) / np.maximum(observed, 1e-300)
    if kind == "dense":
        density = float(X0.sum()) / max(X0.size, 1)
        use_sparse = (
            sparse
            if sparse is not None
            else (p >= SPARSE_MIN_PRODUCTS and density <= SPARSE_MAX_DENSITY)
        )
        if use_sparse:
            kind = "sparse"
    elif sparse:
        kind = "sparse"
    missing_rows = np.flatnonzero(nanx.any(axis=1)) if nanx is not None else np.zeros(0, int)
    miss64 = sp.csr_matrix(nanx.astype(np.float64)) if nanx is not None else None

    design = Design(
        kind=kind,
        n_products=p,
        weights=weights,
        total_weight=float(weights.sum()),
        row_of=row_of,
        n_missing_cells=n_missing,
        dense=None,
        sparse_blocks=None,
        miss=_both_csr(miss64) if miss64 is not None else None,
        missing_rows=missing_rows,
        observed_rate=rate,
    )
    if kind == "sparse":
        xs = sp.csr_matrix(X0)
        blocks = []
        for start in range(0, X0.shape[0], SPARSE_BLOCK_ROWS):
            stop = min(start + SPARSE_BLOCK_ROWS, X0.shape[0])
            xb = _both_csr(xs[start:stop])
            mb = _both_csr(miss64[start:stop]) if miss64 is not None else None
            if mb is not None and mb[np.float64].nnz == 0:
                mb = None
            blocks.append(
                Block(
                    x=xb,
                    xt={t: m.T.tocsr() for t, m in xb.items()},
                    miss=mb,
                    misst={t: m.T.tocsr() for t, m in mb.items()} if mb else None,
                    w=weights[start:stop],
                    start=start,
                    stop=stop,
                )
            )
        design.sparse_blocks = blocks
        design.miss = None
    else:
        x64 = np.ascontiguousarray(X0, dtype=np.float64)
        design.dense = {np.float64: x64, np.float32: x64.astype(np.float32)}
    return design


def _both_csr(m: sp.csr_matrix) -> dict[type, sp.csr_matrix]:
    m = sp.csr_matrix(m, dtype=np.float64)
    m.sort_indices()
    m32 = sp.csr_matrix((m.data.astype(np.float32), m.indices, m.indptr), shape=m.shape)
    return {np.float64: m, np.float32: m32}


# ---------------------------------------------------------------------------------------------
# One pass: E-step for all starts and the M-step's sufficient statistics


@dataclass
class PassOut:
    loglik: np.ndarray  # (S,) weighted log-likelihood per start at the given parameters
    nk: np.ndarray  # (S, K) expected class weights
    xr: np.ndarray  # (S, K, p) expected purchases
    mr: np.ndarray | None  # (S, K, p) expected weight of missing cells

    @staticmethod
    def total(parts: list[PassOut]) -> PassOut:
        """The pass over the union of disjoint row ranges: every field is a sum over rows."""
        mrs = [p.mr for p in parts if p.mr is not None]
        return PassOut(
            loglik=sum((p.loglik for p in parts[1:]), parts[0].loglik.copy()),
            nk=sum((p.nk for p in parts[1:]), parts[0].nk.copy()),
            xr=sum((p.xr for p in parts[1:]), parts[0].xr.copy()),
            mr=sum(mrs[1:], mrs[0].copy()) if mrs else None,
        )


class RemoteRows(Protocol):
    """Design rows held elsewhere (on a Dask cluster): one E-pass over them returns the sums
    e_pass would compute in process."""

    def e_pass(
        self, theta: np.ndarray, log_pi: np.ndarray, dtype: type, tick: Tick | None, stats: bool
    ) -> PassOut: ...


class Pool:
    """A thread pool over row blocks; BLAS kept to one thread per block while it is in use."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or n_threads()
        self._executor: ThreadPoolExecutor | None = None

    @contextmanager
    def running(self) -> Iterator[Pool]:
        if self.threads > 1:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="lca-em")
        try:
            with threadpool_limits(1, user_api="blas"):
                yield self
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None

    def map(self, fn: Callable[[Block], tuple], blocks: list[Block], tick: Tick | None) -> list:
        if self._executor is None or len(blocks) == 1:
            out = []
            for b in blocks:
                out.append(fn(b))
                if tick is not None:
                    tick()
            return out
        results: list[tuple] = []
        step = self.threads * 2
        for i in range(0, len(blocks), step):
            results.extend(self._executor.map(fn, blocks[i : i + step]))
            if tick is not None:
                tick()
        return results


def log_params(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logit θ, log(1-θ)) for θ of shape (S, K, p)."""
    log1m = np.log1p(-theta)
    return np.log(theta) - log1m, log1m


def e_pass(
    design: Design,
    theta: np.ndarray,
    log_pi: np.ndarray,
    dtype: type,
    pool: Pool,
    tick: Tick | None = None,
    stats: bool = True,
) -> PassOut:
    """E-step at (θ, π) for S starts at once, plus the sufficient statistics of the M-step.

    log P(x_i, k) = log π_k + Σ_j x_ij·logit θ_kj + Σ_j log(1-θ_kj) - Σ_{j miss} log(1-θ_kj)
    (x_ij = 0 in missing cells): one product with the data, one with the missing indicator.

    The work array is laid out classes × starts × rows (A = Wᵀ·Xᵀ, the rows of Wᵀ class-major),
    so every step of the log-sum-exp over classes is one contiguous NumPy operation on a
    starts × rows slab, and the M-step's sums are one product A·X (docs/lca.md, "Speed").
    """
    if design.remote is not None:
        return design.remote.e_pass(theta, log_pi, dtype, tick, stats)
    S, K, p = theta.shape
    SK = S * K
    logit, log1m = log_params(theta)
    # Row k·S + s of Wt holds class k of start s.
    Wt: np.ndarray = np.ascontiguousarray(logit.transpose(1, 0, 2).reshape(SK, p), dtype=dtype)
    Vt: np.ndarray = np.ascontiguousarray(log1m.transpose(1, 0, 2).reshape(SK, p), dtype=dtype)
    const = (log1m.sum(axis=2) + log_pi).T.reshape(K, S, 1).astype(dtype)
    with_missing = design.n_missing_cells > 0

    def work(block: Block) -> tuple:
        x = block.x[dtype]
        if isinstance(x, np.ndarray):
            A: np.ndarray = Wt @ x.T
        else:  # CSR rows × p: the product comes out rows × SK
            A = np.ascontiguousarray((x @ Wt.T).T)
        A3 = A.reshape(K, S, block.rows)
        A3 += const
        if block.miss is not None:
            A -= (block.miss[dtype] @ Vt.T).T
        m = A3.max(axis=0)
        A3 -= m
        np.exp(A, out=A)
        s = A3[0].copy()
        for k in range(1, K):
            s += A3[k]
        scale = block.w.astype(dtype) / s if stats else None
        np.log(s, out=s)
        s += m
        ll = s.astype(np.float64) @ block.w
        if not stats:
            return ll, None, None, None
        A3 *= scale
        nk = (A @ np.ones(block.rows, dtype=dtype)).astype(np.float64)  # GEMV: a third of a sum
        if isinstance(x, np.ndarray):
            xr = A @ x
        else:
            assert block.xt is not None
            xr = (block.xt[dtype] @ A.T).T
        mr = None
        if block.misst is not None:
            mr = np.asarray((block.misst[dtype] @ A.T).T, dtype=np.float64)
        return ll, nk, np.asarray(xr, dtype=np.float64), mr

    parts = pool.map(work, design.blocks(SK, dtype), tick)
    loglik = np.zeros(S)
    nk = np.zeros(SK)
    xr = np.zeros((SK, p))
    mr = np.zeros((SK, p)) if with_missing else None
    for ll, n_, x_, m_ in parts:  # fixed order: identical sums for identical inputs
        loglik += ll
        if stats:
            nk += n_
            xr += x_
            if m_ is not None and mr is not None:
                mr += m_
    if not stats:
        return PassOut(loglik, np.zeros((S, K)), np.zeros((S, K, p)), None)
    return PassOut(
        loglik=loglik,
        nk=nk.reshape(K, S).T,
        xr=xr.reshape(K, S, p).transpose(1, 0, 2),
        mr=mr.reshape(K, S, p).transpose(1, 0, 2) if mr is not None else None,
    )


def m_step(out: PassOut, theta_prev: np.ndarray, total: float) -> tuple[np.ndarray, np.ndarray]:
    """θ_kj = E[purchases] / E[observed cells] in class k, clipped; π_k = E[class weight] / N."""
    nk = out.nk
    denom = nk[:, :, None] - (out.mr if out.mr is not None else 0.0)
    ok = denom > 1e-12 * max(total, 1.0)
    theta = np.where(ok, out.xr / np.where(ok, denom, 1.0), theta_prev)
    np.clip(theta, THETA_MIN, 1.0 - THETA_MIN, out=theta)
    pi = np.maximum(nk / total, PI_MIN)
    return theta, np.log(pi / pi.sum(axis=1, keepdims=True))


def posterior(
    design: Design, theta: np.ndarray, log_pi: np.ndarray, pool: Pool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior class probabilities (design rows × K) and per-row log-likelihood, float64."""
    K = theta.shape[0]
    logit, log1m = log_params(theta[None])
    W, V = logit[0].T, log1m[0].T
    const = log1m[0].sum(axis=1) + log_pi
    out = np.empty((design.n_rows, K))
    ll = np.empty(design.n_rows)
    for block in design.blocks(K, np.float64):
        A = np.asarray(block.x[np.float64] @ W) + const
        if block.miss is not None:
            A -= block.miss[np.float64] @ V
        m = A.max(axis=1, keepdims=True)
        e = np.exp(A - m)
        s = e.sum(axis=1, keepdims=True)
        out[block.start : block.stop] = e / s
        ll[block.start : block.stop] = (np.log(s) + m)[:, 0]
    return out, ll


# ---------------------------------------------------------------------------------------------
# Many starts: SQUAREM, float32 then float64, two stages


@dataclass
class StartState:
    seed: int
    theta: np.ndarray  # (K, p)
    log_pi: np.ndarray  # (K,)
    loglik: float = -np.inf
    iterations: int = 0
    converged: bool = False
    finished: bool = False  # ran to convergence or max_iter (not dropped after stage 1)
    change: float = np.inf  # last plain-EM change of the mean log-likelihood
    step_max: float = 1.0
    use64: bool = False
    index: int = 0
    rate: float = 0.0  # EM's contraction rate λ measured on the last cycle
    confirmed: int = 0  # plain-EM cycles in a row on which the convergence rule held
    confirmed_rate: float = 0.0  # the rate measured on the previous of those cycles
    round: int = 0  # the round of the search that drew it (0 = the first n_init starts)


@dataclass
class StartsOutcome:
    starts: list[StartState]
    best: int  # index into starts
    rounds: int = 1
    n_at_best: int = 1  # finished starts within `tolerance` of the best
    tolerance: float = 1e-3
    stopped_by: str = "starts"  # replicated, starts (the seeds given), max_starts, max_seconds
    seconds: float = 0.0

    @property
    def theta(self) -> np.ndarray:
        return self.starts[self.best].theta

    @property
    def log_pi(self) -> np.ndarray:
        return self.starts[self.best].log_pi

    @property
    def loglik(self) -> float:
        return self.starts[self.best].loglik


def random_start(
    rng: np.random.Generator, k: int, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Item probabilities scattered around each product's overall rate (logit + N(0, 1.5²));
    equal class shares."""
    base = np.log(np.clip(rate, 0.01, 0.99)) - np.log1p(-np.clip(rate, 0.01, 0.99))
    logit = base[None, :] + rng.normal(0.0, 1.5, size=(k, rate.shape[0]))
    theta = 1.0 / (1.0 + np.exp(-np.clip(logit, -LOGIT_BOUND, LOGIT_BOUND)))
    return theta, np.full(k, -math.log(k))


def _to_phi(theta: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.log(theta) - np.log1p(-theta), log_pi


def _from_phi(logit: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logit = np.clip(logit, -LOGIT_BOUND, LOGIT_BOUND)
    theta = 1.0 / (1.0 + np.exp(-logit))
    log_pi = np.maximum(log_pi, math.log(PI_MIN))
    m = log_pi.max(axis=-1, keepdims=True)
    log_pi = log_pi - (m + np.log(np.exp(log_pi - m).sum(axis=-1, keepdims=True)))
    return theta, log_pi


ProgressHook = Callable[[list[StartState], int, str], None]
# EM's contraction rate is kept below this: the projections stay finite on a flat stretch.
RATE_MAX = 0.99999


def _rate_and_move(
    theta0: np.ndarray,
    lp0: np.ndarray,
    theta1: np.ndarray,
    lp1: np.ndarray,
    theta2: np.ndarray,
    lp2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per start: EM's contraction rate λ = ‖φ2 − φ1‖ / ‖φ1 − φ0‖ over two plain steps (φ =
    logit θ, log π; clipped to [0, RATE_MAX]) and the largest change of an item probability or
    class share in the first step."""
    f0, f1, f2 = _to_phi(theta0, lp0), _to_phi(theta1, lp1), _to_phi(theta2, lp2)
    n = theta0.shape[0]

    def sq(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return sum(((x - y) ** 2).reshape(n, -1).sum(axis=1) for x, y in zip(a, b, strict=True))

    d1, d2 = sq(f1, f0), sq(f2, f1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(d1 > 0, np.sqrt(d2 / d1), 0.0)
    rate = np.clip(np.nan_to_num(rate, nan=0.0), 0.0, RATE_MAX)
    moved = np.maximum(
        np.abs(theta1 - theta0).reshape(n, -1).max(axis=1),
        np.abs(np.exp(lp1) - np.exp(lp0)).max(axis=1),
    )
    return rate, moved


def _dtype(s: StartState, float32: bool) -> type:
    return np.float64 if (s.use64 or not float32) else np.float32


def run_em(
    design: Design,
    states: list[StartState],
    *,
    max_iter: int,
    tol: float,
    budget: int | None,
    pool: Pool,
    hook: ProgressHook | None = None,
    tick: Tick | None = None,
    squarem: bool = True,
    float32: bool = True,
    stage: int = 2,
) -> None:
    """Advances the given starts together until each has converged, used `max_iter` EM steps,
    or used `budget` more steps (stage 1). Mutates the states."""
    N = design.total_weight
    spent = {id(s): 0 for s in states}

    def active() -> list[StartState]:
        return [
            s
            for s in states
            if not s.converged
            and s.iterations < max_iter
            and (budget is None or spent[id(s)] < budget)
        ]

    def em(group: list[StartState], theta: np.ndarray, log_pi: np.ndarray, dtype: type):
        out = e_pass(design, theta, log_pi, dtype, pool, tick)
        for s in group:
            s.iterations += 1
            spent[id(s)] += 1
        new_theta, new_log_pi = m_step(out, theta, N)
        return out.loglik, new_theta, new_log_pi

    while True:
        group = active()
        if not group:
            return
        # float32 and float64 starts go in separate passes.
        for dtype in (np.float32, np.float64):
            sub = [s for s in group if _dtype(s, float32) is dtype]
            if not sub:
                continue
            theta0 = np.stack([s.theta for s in sub])
            lp0 = np.stack([s.log_pi for s in sub])
            ll0, theta1, lp1 = em(sub, theta0, lp0, dtype)
            ll1, theta2, lp2 = em(sub, theta1, lp1, dtype)
            change = (ll1 - ll0) / N
            rate, moved = _rate_and_move(theta0, lp0, theta1, lp1, theta2, lp2)
            # The rule never assumes EM faster than RATE_FLOOR (see CONFIRM_CYCLES).
            rule_rate = np.maximum(rate, RATE_FLOOR)
            done = (np.abs(change) / (1.0 - rule_rate**2) < tol) & (
                moved / (1.0 - rule_rate) < math.sqrt(tol)
            )
            # A start leaves float32 once its steps are small; it then repeats in float64.
            for i, s in enumerate(sub):
                s.change = float(change[i])
                s.rate = float(rate[i])
                s.loglik = float(ll1[i])
                if dtype == np.float32:
                    # Never converged in float32: close enough, the start goes on in float64.
                    done[i] = False
                    if abs(change[i]) < max(tol, FLOAT32_UNTIL):
                        s.use64 = True
                elif done[i]:
                    settled = s.rate - s.confirmed_rate < 0.5 * (1.0 - s.rate)
                    s.confirmed += 1
                    s.confirmed_rate = s.rate
                    if s.confirmed >= CONFIRM_CYCLES and settled:
                        s.converged = True
                        s.theta, s.log_pi = theta1[i], lp1[i]
                    else:
                        done[i] = False
                else:
                    s.confirmed, s.confirmed_rate = 0, 0.0
            # Starts confirming their convergence take the plain steps (no extrapolation).
            plain = {i for i, s in enumerate(sub) if not done[i] and (s.confirmed or not squarem)}
            for i in plain:
                sub[i].theta, sub[i].log_pi = theta2[i], lp2[i]
            rest = [i for i in range(len(sub)) if not done[i] and i not in plain]
            if not rest:
                continue
            idx = np.array(rest)
            # SQUAREM (S3): φ' = φ0 - 2αr + α²v with α = -‖r‖/‖v‖, clamped to [-step_max, -1].
            f0 = _to_phi(theta0[idx], lp0[idx])
            f1 = _to_phi(theta1[idx], lp1[idx])
            f2 = _to_phi(theta2[idx], lp2[idx])
            r = [a - b for a, b in zip(f1, f0, strict=True)]
            v = [c - 2 * b + a for a, b, c in zip(f0, f1, f2, strict=True)]
            rr = sum((x * x).reshape(len(idx), -1).sum(axis=1) for x in r)
            vv = sum((x * x).reshape(len(idx), -1).sum(axis=1) for x in v)
            step_max = np.array([sub[i].step_max for i in rest])
            alpha = -np.sqrt(rr / np.maximum(vv, 1e-300))
            alpha = np.clip(alpha, -step_max, -1.0)
            a3 = alpha[:, None, None]
            a2 = alpha[:, None]
            logit_x = f0[0] - 2 * a3 * r[0] + a3 * a3 * v[0]
            lp_x = f0[1] - 2 * a2 * r[1] + a2 * a2 * v[1]
            theta_x, lp_x = _from_phi(logit_x, lp_x)
            stepping = [sub[i] for i in rest]
            llx, theta3, lp3 = em(stepping, theta_x, lp_x, dtype)
            for j, i in enumerate(rest):
                s = sub[i]
                ok = np.isfinite(llx[j]) and llx[j] >= ll0[i] - 1e-10 * abs(ll0[i])
                if ok:
                    s.theta, s.log_pi = theta3[j], lp3[j]
                    s.loglik = max(s.loglik, float(llx[j]))
                    if alpha[j] <= -s.step_max:
                        s.step_max *= 4.0
                else:
                    s.theta, s.log_pi = theta2[i], lp2[i]
                    if alpha[j] <= -s.step_max:
                        s.step_max = max(1.0, s.step_max / 4.0)
        if hook is not None:
            hook(states, stage, "")


def run_starts(design: Design, n_classes: int, seeds: list[int], **options: Any) -> StartsOutcome:
    """Fits `len(seeds)` random starts in one round: stage 1 runs all of them for `stage1_iter`
    EM steps, stage 2 finishes the best `n_final` (all when None or ≥ the number of starts).
    `initial` gives explicit starting values (θ (K, p), log π (K,)) that replace the random
    ones, in order. It is `search` with one round and no replication rule; `options` are
    search's."""
    return search(design, n_classes, seeds, n_init=len(seeds), replicate=1, **options)


# Cheap fits search more: at least START_WORK / (design rows × products × classes) starts (design
# rows are distinct patterns when the data repeats). A deterministic measure of cost, so a seed
# gives the same answer on any machine under any load.
START_WORK = 5e6


# A search stops before min_starts when this many finished starts all reach the same optimum
# (three rounds of 10, 20 and 40). Ten were too few: once starts converge tightly (CONFIRM_CYCLES),
# the ten of a first round can all agree on a local optimum when the best one's basin holds under
# a tenth of the starts (six items, K = 3: 10 of 10 at 1.31 below the optimum).
UNANIMOUS = 70

# Stage 2 runs every finalist this many EM iterations at most; only the POLISH_STARTS best of
# those still climbing go on to max_iter.
STAGE2_ITER = 1000
POLISH_STARTS = 4


def min_starts_for(design: Design, n_classes: int, n_init: int, budget: int) -> int:
    """The starts a search runs at least: as many as START_WORK pays for, within [n_init,
    budget]."""
    work = max(1, design.n_rows) * design.n_products * n_classes
    return int(min(budget, max(n_init, START_WORK // work)))


def replication_tolerance(tol: float, total_weight: float) -> float:
    """Two finished starts reached the same optimum when their log-likelihoods differ by at most
    this: each stopped within tol·N of its optimum (the convergence rule), and closer optima
    than 1e-4 are the same answer for any reader."""
    return max(1e-4, 2.0 * tol * total_weight)


def search(
    design: Design,
    n_classes: int,
    seeds: list[int],
    *,
    n_init: int,
    max_iter: int,
    tol: float,
    n_final: int | None = None,
    stage1_iter: int = 30,
    replicate: int = 2,
    min_starts: int = 0,
    max_seconds: float | None = None,
    pool: Pool | None = None,
    hook: ProgressHook | None = None,
    tick: Tick | None = None,
    squarem: bool = True,
    float32: bool = True,
    initial: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> StartsOutcome:
    """Random starts in rounds until the best log-likelihood has been reached by `replicate`
    finished starts, the seeds run out (`len(seeds)` is the start budget) or `max_seconds` have
    passed, and not before `min_starts` starts. Round r draws n_init·2^r fresh starts (the
    next seeds, so start i always has seed i), runs them for `stage1_iter` EM steps and carries
    the best n_final·2^r to convergence (every start when n_final is None or ≥ n_init, or when
    the data are cheap: min_starts > n_init). `initial` replaces the first random starting
    values (θ (K, p), log π (K,)), in order."""
    pool = pool or Pool()
    began = time.monotonic()
    n_final = n_init if n_final is None else max(1, min(n_final, n_init))
    common = dict(
        max_iter=max_iter,
        tol=tol,
        pool=pool,
        hook=hook,
        tick=tick,
        squarem=squarem,
        float32=float32,
    )
    states: list[StartState] = []
    tolerance = replication_tolerance(tol, design.total_weight)
    stopped_by = "starts"
    rounds = 0
    # The passes run on the Dask cluster when one is configured and the data are large
    # (imported here: on_cluster builds on this module).
    from workers.models.lca.on_cluster import on_cluster

    with pool.running(), on_cluster(design) as design:
        while len(states) < len(seeds):
            size = min(n_init * 2**rounds, len(seeds) - len(states))
            keep = max(1, min(size, math.ceil(n_final * size / n_init)))
            if min_starts > n_init:
                # Cheap data: ranking starts after stage 1 loses optima with small basins, and
                # finishing them all costs little.
                keep = size
            batch = []
            for i in range(len(states), len(states) + size):
                if initial is not None and i < len(initial):
                    theta, log_pi = initial[i]
                else:
                    theta, log_pi = random_start(
                        np.random.default_rng(seeds[i]), n_classes, design.observed_rate
                    )
                batch.append(
                    StartState(
                        seed=seeds[i],
                        theta=theta.copy(),
                        log_pi=log_pi.copy(),
                        index=i,
                        round=rounds,
                    )
                )
            _round(design, batch, keep, stage1_iter, common)
            states += batch
            rounds += 1
            finished = [s.loglik for s in states if s.finished]
            best = max(finished)
            at_best = sum(best - ll <= tolerance for ll in finished)
            # Every one of at least UNANIMOUS finished starts at the same optimum: a landscape
            # with one optimum worth finding, whatever the data cost.
            unanimous = len(finished) >= UNANIMOUS and at_best == len(finished)
            if at_best >= replicate and (len(states) >= min_starts or unanimous):
                stopped_by = "replicated"
                break
            if max_seconds is not None and time.monotonic() - began >= max_seconds:
                stopped_by = "max_seconds"
                break
        else:
            stopped_by = "starts" if replicate <= 1 else "max_starts"
        _polish(design, states, common)
    best = max(range(len(states)), key=lambda i: (states[i].finished, states[i].loglik))
    top = states[best].loglik
    at_best = sum(s.finished and top - s.loglik <= tolerance for s in states)
    return StartsOutcome(
        states,
        best,
        rounds=rounds,
        n_at_best=at_best,
        tolerance=tolerance,
        stopped_by=stopped_by,
        seconds=time.monotonic() - began,
    )


def _stage2_cap(common: dict) -> int:
    return int(min(common["max_iter"], STAGE2_ITER))


def _polish(design: Design, states: list[StartState], common: dict) -> None:
    """The POLISH_STARTS best finished starts still climbing after STAGE2_ITER iterations (a
    flat stretch: a ridge of a nearly unidentified model) go on to max_iter; their
    log-likelihoods are made exact again."""
    climbing = [
        s for s in states if s.finished and not s.converged and s.iterations < common["max_iter"]
    ]
    if not climbing:
        return
    climbing = sorted(climbing, key=lambda s: -s.loglik)[:POLISH_STARTS]
    run_em(design, climbing, budget=None, stage=2, **common)
    _exact_logliks(design, climbing, common["pool"])


def _exact_logliks(design: Design, states: list[StartState], pool: Pool) -> None:
    """Each start's log-likelihood at its final parameters, in float64 (the EM passes may have
    run in float32)."""
    exact = e_pass(
        design,
        np.stack([s.theta for s in states]),
        np.stack([s.log_pi for s in states]),
        np.float64,
        pool,
        stats=False,
    ).loglik
    for s, ll in zip(states, exact, strict=True):
        s.loglik = float(ll)


def _round(
    design: Design, batch: list[StartState], keep: int, stage1_iter: int, common: dict
) -> None:
    """One round: every start of `batch` for `stage1_iter` EM steps, then the best `keep` to
    convergence; the finished starts' log-likelihoods exact (float64)."""
    hook = common["hook"]
    if keep < len(batch):
        run_em(design, batch, budget=stage1_iter, stage=1, **common)
        ranked = sorted(range(len(batch)), key=lambda i: -batch[i].loglik)
        finalists = [batch[i] for i in ranked[:keep]]
    else:
        finalists = batch
    for s in batch:
        s.finished = s.converged or any(s is f for f in finalists)
    if hook is not None and keep < len(batch):
        hook(finalists, 2, "")
    # Every finalist runs up to STAGE2_ITER iterations here; the best few still climbing go on to
    # max_iter once the search has ended (`_polish`).
    run_em(design, finalists, budget=None, stage=2, **{**common, "max_iter": _stage2_cap(common)})
    _exact_logliks(design, finalists, common["pool"])
