"""Latent class analysis of binary purchase data with our own batched EM (workers/models/lca/
engine.py): all random starts in one pass over the data per iteration, SQUAREM, two-stage
starts, patterns/sparse layouts and full-information handling of missing cells."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from backend.errors import DataError
from backend.schemas.lca import LCAParams, LCAResult, StartRecord
from workers.models.base import BinaryMatrix, FitFunction, Progress
from workers.models.lca import summary as S
from workers.models.lca.engine import (
    Design,
    StartsOutcome,
    StartState,
    min_starts_for,
    posterior,
    prepare,
    search,
)
from workers.models.lca.work import RoundWork, round_sizes, search_fraction
from workers.models.provenance import build_provenance, resolve_seed


def check_data(data: BinaryMatrix, k: int) -> None:
    X = data.values
    n = X.shape[0]
    if n < 2 * k:
        raise DataError(
            f"{n} rows are too few for {k} classes; use fewer classes or more households."
        )
    observed = ~np.isnan(X)
    bad = observed & (X != 0) & (X != 1)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise DataError(f'column "{data.products[j]}" has values other than 0/1; recode it to 0/1.')
    empty = np.flatnonzero(~observed.any(axis=0))
    if len(empty):
        names = ", ".join(f'"{data.products[j]}"' for j in empty[:5])
        raise DataError(f"column(s) {names} have no observed value; drop them.")
    if not observed.any(axis=1).any():
        raise DataError("Every row has every product missing; there is nothing to fit.")


def seeds_for(params: LCAParams) -> tuple[int, list[int]]:
    """The fit's seed and one seed per start of the whole budget (start i has the same seed
    whatever the budget: SeedSequence's words are a prefix-stable stream)."""
    seed = resolve_seed(params.random_state)
    budget = max(params.n_init, params.max_starts)
    return seed, [int(s) for s in np.random.SeedSequence(seed).generate_state(budget)]


def n_final_for(params: LCAParams) -> int:
    if params.n_final is not None:
        return min(params.n_final, params.n_init)
    return min(params.n_init, max(2, math.ceil(params.n_init / 4)))


@dataclass
class Reporter:
    """Turns engine callbacks into throttled progress calls on a [lo, hi] share of the bar."""

    progress: Progress
    n_init: int
    n_final: int
    max_iter: int
    tol: float
    lo: float = 0.0
    hi: float = 1.0
    label: str = ""
    fraction: float = 0.0
    message: str = "Fitting."
    fields: dict[str, Any] = field(default_factory=lambda: {"iteration": 0})
    stage1_iter: int = 30
    reported: set[int] = field(default_factory=set)
    stage2_announced: bool = False
    work: RoundWork | None = None  # the round's EM passes per start, done and planned
    # The starts of the rounds the search draws at least (work.round_sizes), of the seeds.
    rounds: list[int] = field(default_factory=list)
    budget: int = 0

    def tick(self) -> None:
        self.progress(self.lo + (self.hi - self.lo) * self.fraction, self.message, **self.fields)

    def hook(self, states: list[StartState], stage: int, _: str) -> None:
        if self.work is None:
            self.work = RoundWork(
                self.n_init, self.n_final, self.max_iter, self.tol, self.stage1_iter
            )
        self.work.update(states, stage)
        frac = self.work.fraction()
        rnd = states[0].round if states else 0
        where = f"Round {rnd + 1} of the start search: " if rnd else ""
        if stage == 1:
            active = [s for s in states if not s.converged]
            msg = (
                f"{self.label}{where}First stage: {len(states)} starts, {len(active)} still "
                "running."
            )
        else:
            live = [s for s in states if s.finished] or states
            running = [s for s in live if not s.converged and s.iterations < self.max_iter]
            msg = (
                f"{self.label}{where}Finishing {len(live)} starts: "
                f"{len(live) - len(running)} done, {len(running)} running."
            )
        frac = search_fraction(self.rounds, self.n_init, self.budget, rnd, frac)
        best = max(states, key=lambda s: s.loglik)
        self.fraction = max(self.fraction, min(frac, 0.999))
        self.message = msg + f" Best log-likelihood so far {best.loglik:,.2f}."
        self.fields = dict(
            iteration=int(max(s.iterations for s in states)),
            loglik=float(best.loglik),
            details={
                "stage": stage,
                "n_init": self.n_init,
                "n_final": self.n_final,
                "round": rnd + 1,
                "converged": sum(s.converged for s in states),
                # Converged starts at the best log-likelihood so far ("best found twice").
                "at_best": sum(
                    s.converged
                    and abs(s.loglik - best.loglik) <= max(1e-3, 1e-6 * abs(best.loglik))
                    for s in states
                ),
            },
        )
        self.tick()
        self._announce(states, stage, best.loglik)

    def _announce(self, states: list[StartState], stage: int, best: float) -> None:
        """One forced update per start that ends (converged or out of iterations), and one when
        the first stage hands over to the second."""
        at = self.lo + (self.hi - self.lo) * self.fraction
        if stage == 2 and not self.stage2_announced and self.n_final < self.n_init:
            self.stage2_announced = True
            self.progress(
                at,
                f"{self.label}First stage done: the best {len(states)} of {self.n_init} starts "
                "go on to convergence.",
                force=True,
                **self.fields,
            )
        for s in states:
            ended = s.converged or s.iterations >= self.max_iter
            if ended and s.index not in self.reported:
                self.reported.add(s.index)
                how = "converged" if s.converged else "reached max_iter"
                self.progress(
                    at,
                    f"{self.label}Start {s.index + 1} of {self.n_init} {how} after "
                    f"{s.iterations} iterations: log-likelihood {s.loglik:,.2f} "
                    f"(best {best:,.2f}).",
                    force=True,
                    iteration=s.iterations,
                    loglik=float(s.loglik),
                    details={**self.fields.get("details", {}), "start": s.index + 1},
                )


def fit_classes(
    design: Design,
    k: int,
    seeds: list[int],
    params: LCAParams,
    reporter: Reporter | None = None,
    initial: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> StartsOutcome:
    """The start search at k classes: rounds of random starts until the best log-likelihood is
    replicated (`params.replicate`) or the seeds (the start budget) or `params.max_seconds` run
    out; cheap data get more starts first (engine.min_starts_for), unless the model cannot be
    identified from them."""
    n_final = n_final_for(params)
    min_starts = min_starts_for(design, k, params.n_init, len(seeds))
    min_starts = min_starts if identifiable(design, k) else params.n_init
    if reporter is not None:
        reporter.stage1_iter = params.stage1_iter
        reporter.budget = len(seeds)
        reporter.rounds = round_sizes(min(params.n_init, len(seeds)), min_starts, len(seeds))
    return search(
        design,
        k,
        seeds,
        n_init=min(params.n_init, len(seeds)),
        max_iter=params.max_iter,
        tol=params.tol,
        n_final=n_final,
        stage1_iter=params.stage1_iter,
        replicate=params.replicate,
        min_starts=min_starts,
        max_seconds=params.max_seconds,
        hook=reporter.hook if reporter else None,
        tick=reporter.tick if reporter else None,
        initial=initial,
    )


def identifiable(design: Design, k: int) -> bool:
    """False when the model has at least as many parameters as the data have distinct patterns
    or households: its optimum is a ridge, and searching it harder tells nothing."""
    npar = S.lca_npar(k, design.n_products)
    patterns = design.n_rows if design.kind == "patterns" else None
    return npar < design.total_weight and (patterns is None or npar < patterns)


def start_records(outcome: StartsOutcome) -> list[StartRecord]:
    return [
        StartRecord(
            start=i + 1,
            seed=s.seed,
            loglik=float(s.loglik),
            iterations=s.iterations,
            converged=s.converged,
            finished=s.finished,
        )
        for i, s in enumerate(outcome.starts)
    ]


def fit(data: BinaryMatrix, params: LCAParams, progress: Progress) -> LCAResult:
    # BLAS on one thread throughout: the engine's own pool uses the cores (docs/lca.md).
    with threadpool_limits(1, user_api="blas"):
        return _fit(data, params, progress)


def _fit(data: BinaryMatrix, params: LCAParams, progress: Progress) -> LCAResult:
    k = params.n_classes
    check_data(data, k)
    seed, seeds = seeds_for(params)
    progress(
        0.0,
        f"Preparing {data.n_rows:,} rows × {data.n_products} products.",
        iteration=0,
        loglik=None,
    )
    design = prepare(data.values, weights=data.weights)
    # An unidentified model's classes are one point of a ridge: resampling them says nothing.
    stable = params.stability_samples > 0 and k > 1 and identifiable(design, k)
    # The fit and the analyses after it (stability, bootstrap of L², bootstrap LRT) share the
    # bar by the work each will do.
    after = [stable, params.bootstrap_l2 > 0, params.bootstrap_lrt > 0 and k > 1]
    weights = [w for w, on in zip(analysis_weights(params), after, strict=True) if on]
    fit_hi = 0.99 / (1.0 + sum(weights)) if weights else 0.95
    spans = iter(_spans(fit_hi, 0.99, weights))
    reporter = Reporter(progress, params.n_init, n_final_for(params), params.max_iter, params.tol)
    reporter.hi = fit_hi
    outcome = fit_classes(design, k, seeds, params, reporter)
    progress(
        reporter.hi,
        f"Best log-likelihood {outcome.loglik:,.2f}; computing statistics.",
        force=True,
        iteration=outcome.starts[outcome.best].iterations,
        loglik=outcome.loglik,
    )
    theta, pi = ordered(outcome.theta, outcome.log_pi)
    result = summarise(
        data, design, theta, pi, outcome.loglik, outcome, params, seed, model_type="lca"
    )
    if stable:
        from workers.models.lca.stability import stability

        result.stability = stability(design, theta, pi, params, seed, progress, span=next(spans))
        result.provenance.warnings += (
            [result.stability.verdict]
            if not all(r.stable for r in result.stability.segments)
            else []
        )
    if params.bootstrap_l2 > 0:
        span = next(spans)
        if result.l_squared is None:
            result.provenance.warnings.append(
                "The bootstrap of L² needs complete data on at most 40 products; it was not run."
            )
        else:
            from workers.models.lca.selection import bootstrap_l_squared

            p_value, values = bootstrap_l_squared(
                design,
                theta,
                pi,
                result.l_squared,
                params.bootstrap_l2,
                params,
                seed,
                progress,
                span=span,
            )
            result.l_squared_bootstrap_p_value = p_value
            result.l_squared_bootstrap = values
    if params.bootstrap_lrt > 0 and k > 1:
        from workers.models.lca.selection import bootstrap_lrt

        result.blrt = bootstrap_lrt(
            data,
            k,
            params.bootstrap_lrt,
            params,
            progress,
            alternative=result,
            design=design,
            span=next(spans),
        )
    if params.three_step != "off":  # the classes related to features and outcomes (3-step)
        from workers.models.lca.three_step import attach_three_step

        attach_three_step(result, data, params.three_step)
    return result


def ordered(theta: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest class first, so labels are stable across seeds and runs."""
    pi = np.exp(log_pi)
    order = np.argsort(-pi, kind="stable")
    return theta[order], pi[order]


def summarise(
    data: BinaryMatrix,
    design: Design,
    theta: np.ndarray,
    pi: np.ndarray,
    loglik: float,
    outcome: StartsOutcome,
    params: LCAParams,
    seed: int,
    model_type: str,
    result_cls: type[LCAResult] = LCAResult,
    extra: dict[str, Any] | None = None,
    extra_npar: int = 0,
    post: np.ndarray | None = None,
    prior_rows: np.ndarray | None = None,
) -> Any:
    """The result for ordered parameters (θ: K × p, π: K), their log-likelihood, and the starts
    that led there. `post` (design rows × K) and `prior_rows` (input rows × K, for rows with
    every product missing) replace the unconditional ones for lca_covariates."""
    k, p = theta.shape
    if post is None:
        post, _ = posterior(design, theta, np.log(pi))
    w = design.weights
    N = design.total_weight
    npar = S.lca_npar(k, p) + extra_npar
    crit = S.criteria(loglik, npar, N)
    _, counts, avg = S.class_summaries(post, w)
    starts = start_records(outcome)
    at_best = S.starts_at_best(starts, outcome.tolerance)
    best_start = outcome.starts[outcome.best]
    warnings_: list[str] = []
    n_starts = len(outcome.starts)
    if params.replicate > 1 and outcome.n_at_best < params.replicate and n_starts > 1:
        spent = {
            "max_seconds": f"the time budget (max_seconds={params.max_seconds:g})",
            "max_starts": f"the start budget (max_starts={params.max_starts})",
        }.get(outcome.stopped_by, f"the {n_starts} starts")
        warnings_.append(
            f"The best log-likelihood was reached by only {outcome.n_at_best} of {n_starts} "
            f"random starts before {spent} ran out: a better solution may exist. Raise "
            "max_starts or max_seconds, or use fewer classes."
        )
    if not best_start.converged:
        warnings_.append(
            f"The best start did not converge within max_iter={params.max_iter}; increase max_iter."
        )
    warnings_ += S.class_warnings(theta, pi, N, complete=design.n_missing_cells == 0)
    boundary = S.boundary_count(theta)
    saturated = S.l_squared(design, data.values, loglik, npar)
    rank = S.information_rank(design, theta, pi, post)
    n_patterns = design.n_rows if design.kind == "patterns" else None
    warnings_ += S.identification_warnings(
        npar, n_patterns, N, rank, counts, pi, boundary, theta.size
    )
    pairs, flagged, truncated = S.bivariate_residuals(design, theta, pi, data.products)
    if flagged:
        top = pairs[0]
        warnings_.append(
            f"{flagged} product pair(s) have a bivariate residual above {S.BVR_THRESHOLD} "
            f"(largest: {top.product_a} × {top.product_b}, {top.bvr:.1f}): local dependence; "
            "more classes may fit better."
        )
    n_all_missing = int((design.row_of < 0).sum())
    if n_all_missing:
        warnings_.append(
            f"{n_all_missing} row(s) have every product missing: left out of the fit; their "
            "class probabilities are the class sizes."
        )
    rate = design.observed_rate
    classes = [f"Class {c + 1}" for c in range(k)]
    result = result_cls(
        provenance=build_provenance(
            model_type, params, data, ("numpy", "scipy"), warnings_, random_state=seed
        ),
        n_classes=k,
        products=data.products,
        classes=classes,
        loglik=crit.loglik,
        npar=crit.npar,
        aic=crit.aic,
        bic=crit.bic,
        sabic=crit.sabic,
        caic=crit.caic,
        entropy=S.relative_entropy(post, w),
        n_obs=data.n_rows,
        n_missing_cells=design.n_missing_cells,
        n_rows_all_missing=n_all_missing,
        total_weight=N,
        n_patterns=design.n_rows if design.kind == "patterns" else None,
        layout=design.kind,
        class_sizes=[float(x) for x in pi],
        class_counts=counts,
        smallest_class_share=float(pi.min()),
        avg_posterior=avg,
        item_probabilities=theta.tolist(),
        overall_rates=rate.tolist(),
        item_index=S.item_index(theta, rate).tolist(),
        bivariate_residuals=pairs,
        n_bvr_flagged=flagged,
        bvr_truncated=truncated,
        n_boundary_parameters=boundary,
        converged=best_start.converged,
        iterations=best_start.iterations,
        starts=starts,
        n_starts_at_best=at_best,
        n_starts_finished=sum(s.finished for s in starts),
        n_starts=n_starts,
        start_rounds=outcome.rounds,
        replicated=outcome.n_at_best >= min(params.replicate, n_starts),
        replication_tolerance=outcome.tolerance,
        search_stopped_by=outcome.stopped_by,
        l_squared=saturated.l_squared if saturated else None,
        l_squared_df=saturated.df if saturated else None,
        l_squared_p_value=saturated.p_value if saturated else None,
        classification_error=S.classification_error(post, w),
        information_rank=rank[0] if rank else None,
        n_free_parameters=rank[1] if rank else None,
        **(extra or {}),
    )
    frame = S.household_table(data, design, post, pi if prior_rows is None else prior_rows)
    result.attach_rows(frame)
    return result


_checked: FitFunction[LCAParams, LCAResult] = fit


def analysis_weights(params: LCAParams) -> list[float]:
    """The work of stability, the bootstrap of L² and the bootstrap LRT, in fits of the data
    like the main one: a stability resample is such a fit; a bootstrap-of-L² sample finishes
    2 starts where the fit finishes n_final; a bootstrap-LRT sample fits k − 1 classes so and
    k classes as the fit, after one fit of k − 1 classes to the data."""
    finish_two = min(1.0, 2.0 / n_final_for(params))
    return [
        float(params.stability_samples),
        params.bootstrap_l2 * finish_two,
        1.0 + params.bootstrap_lrt * (1.0 + finish_two),
    ]


def _spans(lo: float, hi: float, weights: list[float]) -> list[tuple[float, float]]:
    """Consecutive shares of the progress bar between lo and hi, in proportion to weights."""
    total = sum(weights) or 1.0
    edges = [lo + (hi - lo) * sum(weights[:i]) / total for i in range(len(weights) + 1)]
    return list(itertools.pairwise(edges))
