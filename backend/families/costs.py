"""What one fit of each built-in family costs: wall seconds and peak memory of one worker
process, estimated from the run's parameters and the data's size before the run is queued.

Each estimate counts the family's work in its own unit (EM passes over rows × products ×
classes for LCA, leapfrog gradients for NUTS, pair counts for the tetrachoric matrix, …) and
multiplies it by a constant measured on the development machine (2 cores, one fit per process,
one BLAS thread): `bench/costs.py` fits each family at several sizes and prints the estimate
beside the measured time and peak memory (its output is in bench/README.md). Re-run it on other
hardware and adjust the constants here; a factor of about 2 either way is what to expect.

Iterative fits are counted at the iterations they typically need to meet their tolerance,
capped by `max_iter` (a tolerance finer than the fit can resolve counts as `max_iter`): the
estimate is what a fit is expected to take, not its worst case — JOB_TIMEOUT_SECONDS remains
the hard stop.

Plain arithmetic on purpose: the API calls these before queueing and never imports the models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from backend.families.spec import Cost, DataShape
from backend.settings import get_settings

MB = 1024 * 1024

# -- what every worker process holds ----------------------------------------------------------
# A worker process with its libraries imported (NumPy, pandas, SQLAlchemy, Dramatiq; SciPy and
# scikit-learn for the families that use them; PyMC, PyTensor, nutpie and ArviZ for Bayesian
# ones), before it loads any data.
BASE_MB = 170.0
SCIPY_MB = 15.0
SKLEARN_MB = 80.0
PYMC_MB = 250.0
# The dataset as the worker holds it: the cached table (0/1 columns as float64, the IDs as
# text) and the fit's float64 matrix, per cell and per row.
DATA_BYTES_PER_CELL = 24.0
DATA_BYTES_PER_ROW = 120.0
# Claim, load, save, product map: about a tenth of a second per run, plus the per-row table.
OVERHEAD_SECONDS = 0.3
SAVE_SECONDS_PER_ROW = 4e-6


def _data_mb(shape: DataShape) -> float:
    cells = shape.n_rows * (shape.n_products + shape.n_covariates)
    return (cells * DATA_BYTES_PER_CELL + shape.n_rows * DATA_BYTES_PER_ROW) / MB


def executor_seconds(shape: DataShape) -> float:
    """What the executor adds to the fit itself: claim, load, save (the per-row table)."""
    return OVERHEAD_SECONDS + SAVE_SECONDS_PER_ROW * shape.n_rows


def _drivers(parts: Mapping[tuple[str, ...], float]) -> tuple[str, ...]:
    """Parameter names, those of the biggest parts first (parts under 10 % of the total left
    out unless nothing else is left)."""
    total = sum(parts.values()) or 1.0
    ranked = sorted(parts.items(), key=lambda item: -item[1])
    names: list[str] = []
    for params, seconds in ranked:
        if seconds < 0.1 * total and names:
            break
        names += [p for p in params if p not in names]
    return tuple(names)


def _log_tol(tol: float) -> float:
    return max(1.0, math.log10(1.0 / tol)) if tol > 0 else math.inf


# -- latent class analysis --------------------------------------------------------------------
# Seconds per EM iteration of one start per design row × product × class (SQUAREM steps, both
# float precisions, the row blocks spread over the host's cores as workers run them): 3e-11
# with ten starts in the first stage, 1e-10 with two left in the second.
LCA_PASS_SECONDS = 6e-11
# EM iterations a start needs to meet `tol`: measured 20–50 at 1e-6 with about as many classes as
# the data has, 90–300 at 1e-10, and 500–700 at 1e-6 with many more classes than it has (15 or
# 30 classes on data of 5 or 8): about EM_ITERATIONS · log10(1/tol)² · (1 + K) / 2.
EM_ITERATIONS = 1.0
# A change in the mean log-likelihood below this is rounding noise: such a tolerance is never
# met and every start runs max_iter iterations.
EM_TOL_FLOOR = 1e-12
# Statistics after EM: bivariate residuals over product pairs, posteriors, the per-row table.
LCA_FIXED_SECONDS = 0.3
LCA_PAIR_SECONDS = 1e-9
# Memory per design row × product (float32 and float64 copies, the missing-cell index) and the
# row blocks' work arrays.
LCA_BYTES_PER_CELL = 40.0
LCA_WORK_MB = 60.0


def _distinct_rows(n: int, p: int) -> int:
    """Design rows EM passes over: at most the distinct purchase patterns (2^p)."""
    return n if p >= 40 else min(n, 2**p)


# The second stage runs a finalist for at most this many iterations (the best few go on to
# max_iter afterwards, which the estimate leaves out).
STAGE2_ITERATIONS = 1000
# What one start's EM iteration costs whatever the data's size (its convergence test and
# SQUAREM step in Python): it dominates on small data.
LCA_START_ITERATION_SECONDS = 1e-4


def em_iterations(tol: float, max_iter: int, k: int) -> float:
    cap = float(min(max_iter, STAGE2_ITERATIONS))
    if tol < EM_TOL_FLOOR:
        return cap
    return min(cap, EM_ITERATIONS * _log_tol(tol) ** 2 * (1 + k) / 2)


def _n_final(params: Any) -> int:
    if params.n_final is not None:
        return min(params.n_final, params.n_init)
    return min(params.n_init, max(2, math.ceil(params.n_init / 4)))


def _starts_iterations(
    params: Any, k: int, starts: float | None = None, finish_all: bool = False
) -> tuple[float, float]:
    """Start-iterations of EM in the first stage (every start, at most stage1_iter) and in the
    second (the finalists, on to convergence), for `starts` random starts (n_init by
    default) of which the same share as n_final of n_init is finished (all of them on cheap
    data)."""
    iterations = em_iterations(params.tol, params.max_iter, k)
    starts = float(params.n_init) if starts is None else starts
    n_final = _n_final(params) * starts / params.n_init
    if finish_all or n_final >= starts:
        return 0.0, starts * iterations
    first = min(float(params.stage1_iter), iterations)
    return starts * first, n_final * (iterations - first)


# The start search (workers/models/lca/engine.py: search): at least START_WORK / (rows ×
# products × classes) starts (cheap data get more), then rounds of n_init, 2·n_init, 4·n_init …
# until the best log-likelihood is reached `replicate` times, counted as log2(replicate) rounds
# (at least one): the first round replicates when the data have about as many classes as asked
# for. With more classes than the data hold the best is seldom replicated and the search (and
# each stability resample's) spends its budget — max_starts, no new round after max_seconds —
# which this estimate does not foresee: measured 9 times it (20,000 × 40, 6 classes on 5-class
# data); max_seconds bounds that miss.
START_WORK = 5e6
SEARCH_OVERRUN = 1.5
# Segment stability: each bootstrap resample is a search of at most RESAMPLE_STARTS · n_init
# starts, without the extra starts of cheap data.
RESAMPLE_STARTS = 4


def search_starts(params: Any, rows: int, p: int, k: int, budget: float | None = None) -> float:
    replicate = getattr(params, "replicate", 1)
    rounds = max(1, math.ceil(math.log2(max(replicate, 1))))
    if budget is None:
        budget = max(getattr(params, "max_starts", params.n_init), params.n_init)
        least = min(budget, max(params.n_init, START_WORK / max(rows * p * k, 1)))
    else:
        least = float(params.n_init)
    return float(min(budget, max(least, params.n_init * (2**rounds - 1))))


def _search_seconds(
    params: Any, per_iteration: float, k: int, starts: float, cheap: bool = False
) -> float:
    stage1, stage2 = _starts_iterations(params, k, starts, finish_all=cheap)
    seconds = (per_iteration + LCA_START_ITERATION_SECONDS) * (stage1 + stage2)
    max_seconds = getattr(params, "max_seconds", None)
    return seconds if max_seconds is None else min(seconds, SEARCH_OVERRUN * max_seconds)


def segments(params: Any, shape: DataShape) -> Cost:
    n, p, k = shape.n_rows, shape.n_products, params.n_classes
    rows = _distinct_rows(n, p)
    per_iteration = LCA_PASS_SECONDS * rows * p * k
    cheap = START_WORK / max(rows * p * k, 1) > params.n_init
    starts = search_starts(params, rows, p, k)
    search = _search_seconds(params, per_iteration, k, starts, cheap)
    parts: dict[tuple[str, ...], float] = {("n_init", "max_starts", "max_iter", "tol"): search}
    if params.bootstrap_lrt and k > 1:
        # Each bootstrap sample: a K−1-class fit from the generating values (2 starts) and a
        # K-class search like the data's; the data drawn and prepared anew.
        null = 2 * em_iterations(params.tol, params.max_iter, k - 1) * per_iteration * (k - 1) / k
        parts[("bootstrap_lrt", "n_init")] = params.bootstrap_lrt * (
            search + null + LCA_PAIR_SECONDS * n * p
        )
    if getattr(params, "bootstrap_l2", 0):
        # Each sample: a K-class fit from the generating values (2 starts), the data drawn anew.
        refit = 2 * em_iterations(params.tol, params.max_iter, k) * per_iteration
        parts[("bootstrap_l2", "n_init")] = params.bootstrap_l2 * (refit + LCA_PAIR_SECONDS * n * p)
    stability = getattr(params, "stability_samples", 0) if k > 1 else 0
    if stability:
        budget = max(params.n_init, min(params.max_starts, RESAMPLE_STARTS * params.n_init))
        resample = search_starts(params, rows, p, k, budget=float(budget))
        parts[("stability_samples", "n_init")] = stability * (
            _search_seconds(params, per_iteration, k, resample) + LCA_PAIR_SECONDS * n * p
        )
    pairs = LCA_FIXED_SECONDS + LCA_PAIR_SECONDS * rows * p * (p + k)
    seconds = executor_seconds(shape) + pairs + sum(parts.values())
    memory = BASE_MB + SCIPY_MB + _data_mb(shape) + LCA_WORK_MB
    memory += rows * p * LCA_BYTES_PER_CELL / MB + n * k * 3 * 8 / MB
    return Cost(seconds, memory, (*_drivers(parts), "n_classes"), ())


# lca_covariates: the LCA stage without pattern compression, then EM of the multinomial logit
# (a quasi-Newton fit of the covariate coefficients every iteration: a fixed part and a part per
# row × class; about 1.2 times the iterations of plain EM: measured 107 at K = 3, 198 at K = 4)
# and the information matrix for the standard errors.
LCA_COV_ITERATION_FIXED = 0.012
LCA_COV_ITERATION_SECONDS = 5.4e-7
LCA_COV_ITERATIONS = 1.2
LCA_COV_INFORMATION_SECONDS = 1e-8


def segments_with_covariates(params: Any, shape: DataShape) -> Cost:
    n, p, k, q = shape.n_rows, shape.n_products, params.n_classes, shape.n_covariates + 1
    per_iteration = LCA_PASS_SECONDS * n * p * k
    iterations = em_iterations(params.tol, params.max_iter, k)
    starts = search_starts(params, n, p, k)
    parts: dict[tuple[str, ...], float] = {
        ("n_init", "max_starts", "max_iter", "tol"): _search_seconds(
            params, per_iteration, k, starts
        ),
        ("max_iter", "tol"): LCA_COV_ITERATIONS
        * iterations
        * (LCA_COV_ITERATION_FIXED + LCA_COV_ITERATION_SECONDS * n * k),
    }
    information = LCA_COV_INFORMATION_SECONDS * n * (q * k) ** 2
    pairs = LCA_FIXED_SECONDS + LCA_PAIR_SECONDS * n * p * (p + k)
    seconds = executor_seconds(shape) + pairs + information + sum(parts.values())
    memory = BASE_MB + SCIPY_MB + _data_mb(shape) + LCA_WORK_MB
    memory += n * (p * LCA_BYTES_PER_CELL + (q + 3 * k) * 8 + (q * k) ** 2 * 8 / 64) / MB
    return Cost(seconds, memory, (*_drivers(parts), "n_classes"), ())


# -- factor analysis, MCA, network: pair counts and p × p algebra ------------------------------
# Bit-packed pair counts: seconds per row × product pair (popcount of AND over 64 rows).
PAIR_COUNT_SECONDS = 2e-10
# Permuting a column's buyers for parallel analysis, per row × product.
PERMUTE_SECONDS = 1e-8
# Tetrachoric Newton steps and the minres extraction, per product pair, and per matrix (one
# for the data, one per permuted copy).
TETRACHORIC_PAIR_SECONDS = 2e-6
TETRACHORIC_MATRIX_SECONDS = 0.01
# Memory beyond the data: the bit-packed and float32 copies parallel analysis permutes.
TETRACHORIC_MB = 60.0
TETRACHORIC_BYTES_PER_CELL = 8.0
# Factor scores, per row × product × factor.
SCORE_SECONDS = 1e-8
PARALLEL_MAX_ROWS = 200_000


def tetrachoric_factors(params: Any, shape: DataShape) -> Cost:
    n, p = shape.n_rows, shape.n_products
    k = params.n_factors or max(1, p // 5)
    pairs = p * (p - 1) / 2
    matrix = TETRACHORIC_MATRIX_SECONDS + TETRACHORIC_PAIR_SECONDS * pairs
    one = PAIR_COUNT_SECONDS * n * pairs + matrix
    m = min(n, PARALLEL_MAX_ROWS)
    parallel = params.n_parallel * (
        PAIR_COUNT_SECONDS * m * pairs + PERMUTE_SECONDS * m * p + matrix
    )
    scores = 0.0 if params.scores == "none" else SCORE_SECONDS * n * p * k
    parts: dict[tuple[str, ...], float] = {("n_parallel",): parallel, (): one + scores}
    seconds = executor_seconds(shape) + sum(parts.values())
    memory = BASE_MB + SCIPY_MB + TETRACHORIC_MB + _data_mb(shape)
    memory += (n * p * TETRACHORIC_BYTES_PER_CELL + n * k * 16) / MB
    return Cost(seconds, memory, _drivers(parts), ())


# MCA: one pair-count pass, a (2p)² eigenproblem, a chunked pass for household coordinates.
MCA_HOUSEHOLD_SECONDS = 8e-9
# Memory beyond the data: the Burt table's counting pass, household coordinates and cos².
MCA_MB = 100.0
MCA_BYTES_PER_CELL = 7.0


def correspondence_map(params: Any, shape: DataShape) -> Cost:
    n, p = shape.n_rows, shape.n_products
    d = min(params.n_components, p)
    seconds = executor_seconds(shape) + PAIR_COUNT_SECONDS * n * p * p / 2
    seconds += 1e-8 * (2 * p) ** 3 + MCA_HOUSEHOLD_SECONDS * n * p * d
    memory = BASE_MB + SCIPY_MB + MCA_MB + _data_mb(shape) + n * p * MCA_BYTES_PER_CELL / MB
    return Cost(seconds, memory, ("n_components",), ())


# Network: pair counts, every pair's four measures, then networkx (communities, betweenness:
# products × edges).
NETWORK_FIXED_SECONDS = 0.05
# Memory beyond the data: networkx and the pairs' tables, and the counting pass.
NETWORK_MB = 95.0
NETWORK_BYTES_PER_CELL = 6.0
NETWORK_PAIR_SECONDS = 5e-6
NETWORK_GRAPH_SECONDS = 1e-9


def copurchase_graph(params: Any, shape: DataShape) -> Cost:
    n, p = shape.n_rows, shape.n_products
    seconds = executor_seconds(shape) + PAIR_COUNT_SECONDS * n * p * p / 2
    seconds += NETWORK_FIXED_SECONDS + NETWORK_PAIR_SECONDS * p * p + NETWORK_GRAPH_SECONDS * p**3
    memory = BASE_MB + SCIPY_MB + NETWORK_MB + _data_mb(shape)
    memory += (n * p * NETWORK_BYTES_PER_CELL + p * p * 400) / MB
    return Cost(seconds, memory, (), ())


# -- NMF and LDA (scikit-learn) ----------------------------------------------------------------
# Seconds per iteration per row × product × component (coordinate descent; multiplicative
# updates cost about the same), the iterations a start typically needs at tol 1e-4 (measured
# 66–110), and what each start costs besides (the fit runs in growing blocks of iterations).
NMF_ITERATION_SECONDS = 5e-10
NMF_ITERATIONS = 100.0
NMF_START_SECONDS = 0.5


def nmf_baskets(params: Any, shape: DataShape) -> Cost:
    n, p = shape.n_rows, shape.n_products
    starts = params.n_init if params.init in ("random", "nndsvdar") else 1
    iterations = min(float(params.max_iter), NMF_ITERATIONS * max(1.0, _log_tol(params.tol) / 4))
    ks = params.component_values
    work = sum(n * p * k for k in ks) * starts * iterations
    fits = len(ks) * starts
    parts: dict[tuple[str, ...], float] = {
        ("max_iter", "n_init", "n_components"): NMF_ITERATION_SECONDS * work
        + NMF_START_SECONDS * fits
    }
    seconds = executor_seconds(shape) + sum(parts.values())
    k_max = max(params.component_values)
    memory = BASE_MB + SKLEARN_MB + _data_mb(shape) + n * (p * 3 + k_max * 4) * 8 / MB
    return Cost(seconds, memory, _drivers(parts), ())


# LDA: scikit-learn's E-step loops over households in Python, so a pass costs about the same
# per household whatever the products and topics (measured 1.6–3e-4 s); passes until the
# perplexity settles (checked every `evaluate_every` passes, each check one more E-step), and
# two more for the households' mixes and the score.
LDA_HOUSEHOLD_SECONDS = 1.5e-4
LDA_PASSES = 20.0
PURCHASE_SHARE = 0.3  # share of 1s assumed (the profile's prevalence is not consulted)


def topic_missions(params: Any, shape: DataShape) -> Cost:
    n, p, k = shape.n_rows, shape.n_products, params.n_topics
    passes = float(params.max_iter) if params.evaluate_every == 0 else LDA_PASSES
    passes = min(float(params.max_iter), passes)
    checks = passes / params.evaluate_every if params.evaluate_every else 0.0
    purchases = n * p * PURCHASE_SHARE
    parts: dict[tuple[str, ...], float] = {
        ("max_iter",): LDA_HOUSEHOLD_SECONDS * n * (passes + checks + 2)
    }
    seconds = executor_seconds(shape) + sum(parts.values())
    memory = BASE_MB + SKLEARN_MB + _data_mb(shape) + n * k * 4 * 8 / MB + purchases * 16 / MB
    return Cost(seconds, memory, _drivers(parts), ())


# -- Bayesian families (PyMC) ------------------------------------------------------------------
# Compiling the model (nutpie: Numba; PyMC: C), on a warm disk cache; the first fit of a model
# shape on a host takes longer.
COMPILE_SECONDS = 10.0
VI_COMPILE_SECONDS = 3.0
# NUTS: seconds per draw per household × product × (latent terms + 1), for nutpie; PyMC's own
# sampler is slower per draw.
NUTS_DRAW_SECONDS = 4e-7
PYMC_SAMPLER_FACTOR = 2.0
# After sampling: summaries (per household value and draw), PSIS-LOO over at most 5,000
# households × 400 draws × integration nodes × products, the predictive check.
SUMMARY_SECONDS = 4e-7
LOO_SECONDS = 6e-10
PPC_SECONDS = 4e-8
LOO_HOUSEHOLDS = 5000
LOO_DRAWS = 400
# Memory of what sampling keeps beside the per-household draws (global parameters, the
# compiled model and its buffers) per household × product, and what the checks after sampling
# (PSIS-LOO's blocks, the predictive check, the NetCDF) take.
NUTS_BYTES_PER_CELL = 200.0
NUTS_WORK_MB = 150.0
# Per-household draws (workers/models/bayes/sampling.py): a trace in memory peaks at about
# IN_MEMORY_COPIES times them (warm-up included); past NUTS_DRAWS_MEMORY_MB the trace goes to
# disk and memory holds a thinned copy (at most the budget, at least MIN_KEPT_DRAWS per chain;
# KEPT_COPIES with the summaries' blocks) and the blocks read back. Measured: 2,000 households ×
# 2 factors, 2 chains × 1,000 draws 733 MB at the peak, × 5,000 draws 853 MB.
IN_MEMORY_COPIES = 4
MIN_KEPT_DRAWS = 100
KEPT_COPIES = 1.5
DISK_READ_MB = 50.0


def _household_draws_mb(values: int, chains: int, tune: int, draws: int) -> float:
    def mb(n_draws: int) -> float:
        return values * chains * n_draws * 8 / MB

    budget = float(get_settings().nuts_draws_memory_mb)
    held = IN_MEMORY_COPIES * mb(tune + draws)
    if held <= budget:
        return held
    kept = min(mb(draws), max(budget, mb(min(draws, MIN_KEPT_DRAWS))))
    return KEPT_COPIES * kept + DISK_READ_MB


def _nodes(latent: int) -> int:
    return 1 if latent == 0 else 40 if latent == 1 else 400 if latent == 2 else 1024


def _nuts(params: Any, shape: DataShape, latent: int, terms: int) -> Cost:
    """A NUTS fit with `latent` household terms (factor scores, random effects) and `terms`
    linear terms per household × product cell."""
    n, p = shape.n_rows, shape.n_products
    cores = min(params.chains, 2)
    rounds = math.ceil(params.chains / cores)
    factor = PYMC_SAMPLER_FACTOR if params.sampler == "pymc" else 1.0
    sampling = factor * NUTS_DRAW_SECONDS * rounds * (params.tune + params.draws) * n * p * terms
    kept = params.chains * params.draws
    after = SUMMARY_SECONDS * n * max(latent, 1) * kept
    after += LOO_SECONDS * min(n, LOO_HOUSEHOLDS) * min(kept, LOO_DRAWS) * _nodes(latent) * p
    after += PPC_SECONDS * 200 * n * p
    parts: dict[tuple[str, ...], float] = {
        ("draws", "tune", "chains"): sampling,
        ("draws", "chains"): after,
    }
    seconds = executor_seconds(shape) + COMPILE_SECONDS + sum(parts.values())
    draws_mb = _household_draws_mb(n * latent, params.chains, params.tune, params.draws)
    memory = BASE_MB + PYMC_MB + NUTS_WORK_MB + _data_mb(shape) + draws_mb
    memory += n * p * NUTS_BYTES_PER_CELL / MB
    memory_drivers = ("draws", "chains") if draws_mb > 100 else ()
    return Cost(seconds, memory, _drivers(parts), memory_drivers)


def factor_nuts(params: Any, shape: DataShape) -> Cost:
    return _nuts(params, shape, params.n_factors, params.n_factors + 1)


def choice_nuts(params: Any, shape: DataShape) -> Cost:
    latent = int(params.random_intercepts) + params.n_latent
    return _nuts(params, shape, latent, 1 + shape.n_covariates + latent)


# VI: seconds per iteration per household in the batch × product × (factors + 1), and the
# iterations the loss rule typically stops after.
VI_ITERATION_SECONDS = 1.5e-8
VI_ITERATIONS = 3000.0
# Memory of the variational fit beyond the data, per household × product (measured 549 MB at
# 2,000 × 12 and 1,854 MB at 20,000 × 20 with 3 factors).
VI_BYTES_PER_CELL = 3400.0
VI_FULL_BATCH = 5000
VI_BATCH = 1000


def factor_vi(params: Any, shape: DataShape) -> Cost:
    n, p, k = shape.n_rows, shape.n_products, params.n_factors
    batch = params.batch_size or (n if n <= VI_FULL_BATCH else VI_BATCH)
    batch = min(batch, n)
    iterations = float(params.max_iter) if params.tol == 0 else VI_ITERATIONS
    iterations = min(float(params.max_iter), iterations)
    fitting = VI_ITERATION_SECONDS * iterations * batch * p * (k + 1)
    after = SUMMARY_SECONDS * p * k * params.draws
    after += LOO_SECONDS * min(n, LOO_HOUSEHOLDS) * min(params.draws, LOO_DRAWS) * _nodes(k) * p
    after += PPC_SECONDS * 200 * n * p
    parts: dict[tuple[str, ...], float] = {("max_iter", "tol"): fitting, ("draws",): after}
    seconds = executor_seconds(shape) + VI_COMPILE_SECONDS + sum(parts.values())
    memory = BASE_MB + PYMC_MB + _data_mb(shape) + n * p * VI_BYTES_PER_CELL / MB
    return Cost(seconds, memory, _drivers(parts), ())
