"""Choosing the number of classes: pure functions the pipeline calls around `lca.fit`.

* `compare_solutions(results)` — one row per class number with every criterion; the lowest BIC
  is recommended (the others' choices are shown too).
* `bootstrap_lrt(data, n_classes, n_boot, params, progress)` — parametric bootstrap
  likelihood-ratio test of n_classes against n_classes − 1 (McLachlan 1987; Nylund, Asparouhov &
  Muthén 2007), with a progress update per bootstrap sample.
* `fit_range(data, values, params, progress)` — fits several class numbers one after another
  (tests, benchmarks, a single worker); the pipeline fans them out as separate messages instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from backend.errors import DataError
from backend.schemas.lca import (
    BootstrapLRT,
    LCAComparison,
    LCAParams,
    LCAResult,
    SolutionRow,
)
from workers.models.base import BinaryMatrix, Progress
from workers.models.lca.engine import Design, StartsOutcome, prepare
from workers.models.lca.fit import Reporter, check_data, fit, fit_classes, n_final_for, ordered
from workers.models.lca.simulation import draw_from_model

CRITERIA = ("aic", "bic", "sabic", "caic")
CRITERION_NAMES = {"aic": "AIC", "bic": "BIC", "sabic": "SABIC", "caic": "CAIC"}
BLRT_LEVEL = 0.05


def elbow(values: Sequence[int], scores: Sequence[float]) -> int | None:
    """Where a falling criterion curve bends: the point farthest below the chord from the first
    to the last point (Kneedle); None with fewer than three points or no bend."""
    if len(values) < 3:
        return None
    x = np.asarray(values, dtype=float)
    y = np.asarray(scores, dtype=float)
    x = (x - x[0]) / (x[-1] - x[0])
    span = y.max() - y.min()
    if span <= 0:
        return None
    y = (y - y.min()) / span
    chord = y[0] + (y[-1] - y[0]) * x
    gap = chord - y
    i = int(np.argmax(gap))
    return int(values[i]) if gap[i] > 1e-9 and 0 < i < len(values) - 1 else None


def recommend(
    rows: Sequence[dict[str, Any]], param: str, criterion: str = "bic", cap: int | None = None
) -> dict[str, Any]:
    """The recommendation of a class-number comparison by a stated rule. `rows` hold `param`
    and the criteria (rows without a finite BIC are ignored). Information criteria: the lowest
    value; `blrt`: the largest number whose bootstrap test against one fewer is significant at
    5%, every smaller one being significant too. Answers recommended, elbow (of the BIC curve),
    at_top (the rule picks the largest number fitted: more may fit better), best_by_criterion
    and a sentence saying why."""
    scored = sorted(
        (r for r in rows if isinstance(r.get("bic"), int | float) and np.isfinite(r["bic"])),
        key=lambda r: r[param],
    )
    if not scored:
        return {
            "recommended": None,
            "elbow": None,
            "at_top": False,
            "reason": "",
            "best_by_criterion": {},
        }
    values = [int(r[param]) for r in scored]
    best: dict[str, int] = {}
    for c in CRITERIA:
        if all(isinstance(r.get(c), int | float) for r in scored):
            best[c] = int(min(scored, key=lambda r: float(r[c]))[param])
    top = values[-1]
    bend = elbow(values, [float(r["bic"]) for r in scored])
    more = "" if cap is None or top < cap else f" (the cap, max_classes={cap})"
    if criterion == "blrt":
        pick = values[0]
        tests = [(int(r[param]), r.get("blrt_p_value")) for r in scored if r[param] > 1]
        stop = None
        for k, p in tests:
            if p is None:
                continue
            if p < BLRT_LEVEL:
                pick = k
            else:
                stop = (k, p)
                break
        at_top = stop is None and pick == top
        if stop is not None:
            reason = (
                f"The bootstrap likelihood-ratio test of {stop[0]} against {stop[0] - 1} classes "
                f"is not significant (p = {stop[1]:.3f}): {pick} is the largest number that fits "
                "significantly better than one class fewer."
            )
        else:
            reason = (
                f"Every bootstrap test up to {top} classes{more} is significant: {top} fits best "
                "of those tried, and more classes may fit better still."
            )
    else:
        name = CRITERION_NAMES[criterion]
        pick = best.get(criterion, values[0])
        at_top = pick == top and len(values) > 1
        if at_top:
            reason = (
                f"{name} still falls at {top} classes, the largest number fitted{more}: more "
                "classes may fit better."
            )
        else:
            after = [r for r in scored if r[param] > pick]
            rises = f"; it rises after {pick}" if after else ""
            reason = f"{name} is lowest at {pick} classes ({values[0]}–{top} fitted{rises})."
        if bend is not None and bend != pick:
            reason += f" The {name} curve bends most at {bend} (the elbow)."
    return {
        "recommended": pick,
        "elbow": bend,
        "at_top": at_top,
        "reason": reason,
        "best_by_criterion": best,
    }


def solution_row(r: LCAResult) -> SolutionRow:
    """The table's row of one fit: the result's fields of the same names, its BLRT p-value
    and its mean stability (ARI)."""
    same = {name: getattr(r, name) for name in SolutionRow.model_fields if hasattr(r, name)}
    blrt = r.blrt.p_value if r.blrt else None
    stability = r.stability.ari_mean if r.stability else None
    return SolutionRow(**{**same, "blrt_p_value": blrt, "stability_ari": stability})


def compare_solutions(
    results: Sequence[LCAResult], criterion: str = "bic", cap: int | None = None
) -> LCAComparison:
    """Side-by-side criteria per number of classes; recommended by `criterion` (BIC unless
    asked otherwise); `cap` is the largest number a range may be extended to (said in the
    reason when reached)."""
    if not results:
        raise ValueError("compare_solutions needs at least one result.")
    rows = sorted((solution_row(r) for r in results), key=lambda row: row.n_classes)
    rec = recommend([row.model_dump() for row in rows], "n_classes", criterion, cap)
    return LCAComparison(
        table=rows,
        recommended=rec["recommended"],
        criterion=criterion,
        best_by_criterion=rec["best_by_criterion"],
        elbow=rec["elbow"],
        at_top=rec["at_top"],
        reason=rec["reason"],
    )


def fit_range(
    data: BinaryMatrix, values: Sequence[int], params: LCAParams, progress: Progress
) -> tuple[list[LCAResult], LCAComparison]:
    """Fits each number of classes in turn and compares them; while the recommendation is the
    largest number fitted, fits the next one too, up to `params.max_classes` (the same rule as
    a sweep's, workers/sweep.py)."""
    todo = sorted(set(values))
    results: list[LCAResult] = []
    while True:
        for j, k in enumerate(todo):

            def scaled(
                fraction: float,
                message: str,
                j: int = j,
                k: int = k,
                n: int = len(todo),
                **fields: Any,
            ) -> None:
                progress(min(0.99, (j + fraction) / n), f"{k} classes: {message}", **fields)

            results.append(fit(data, params.model_copy(update={"n_classes": k}), scaled))
        comparison = compare_solutions(results, params.criterion, params.max_classes)
        top = max(r.n_classes for r in results)
        if not comparison.at_top or top >= params.max_classes:
            return results, comparison
        todo = [top + 1]


def _best(design: Design, k: int, seeds: list[int], params: LCAParams, **kw: Any) -> StartsOutcome:
    return fit_classes(design, k, seeds, params, **kw)


def bootstrap_l_squared(
    design: Design,
    theta: np.ndarray,
    pi: np.ndarray,
    l_squared: float,
    n_boot: int,
    params: LCAParams,
    seed: int,
    progress: Progress,
    span: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, list[float]]:
    """Parametric bootstrap p-value of L² (Langeheine, Pannekoek & van de Pol 1996; LatentGOLD's
    bootstrap L²): each sample has the data's number of households, drawn from the fitted model
    (θ: K × p, π: K, ordered), and is refitted with K classes (from the generating values and one
    random start, as the null fits of the bootstrap LRT); L²_b against that sample's own
    saturated model. p = (1 + #{L²_b ≥ L²}) / (1 + B). Complete data only (the caller checks)."""
    from workers.models.lca import summary as S

    k, p = theta.shape
    npar = S.lca_npar(k, p)
    n = round(design.total_weight)
    root = np.random.SeedSequence([seed, k, 15485863])
    small = params.model_copy(update={"n_final": 2})
    lo, hi = span
    values: list[float] = []
    for b, child in enumerate(root.spawn(n_boot)):
        rng = np.random.default_rng(child)
        X = draw_from_model(theta, pi, n, rng)
        d = prepare(X)
        seeds = [int(s) for s in child.generate_state(2)]
        out = fit_classes(d, k, seeds, small, initial=[(theta, np.log(pi))])
        fit_b = S.l_squared(d, X, out.loglik, npar)
        values.append(fit_b.l_squared if fit_b is not None else 0.0)
        exceed = sum(v >= l_squared for v in values)
        progress(
            lo + (hi - lo) * (b + 1) / n_boot,
            f"Bootstrap of L²: sample {b + 1} of {n_boot}, L² {values[-1]:,.1f} (data "
            f"{l_squared:,.1f}); p so far {(1 + exceed) / (1 + len(values)):.3f}.",
            force=True,
            details={"bootstrap_l2_sample": b + 1, "bootstrap_l2": n_boot},
        )
    exceed = sum(v >= l_squared for v in values)
    return (1 + exceed) / (1 + n_boot), values


def bootstrap_lrt(
    data: BinaryMatrix,
    n_classes: int,
    n_boot: int,
    params: LCAParams,
    progress: Progress,
    *,
    alternative: LCAResult | None = None,
    design: Design | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> BootstrapLRT:
    """p-value of LR = 2(ℓ_K − ℓ_{K−1}) against its distribution under the fitted (K−1)-class
    model: each bootstrap sample is drawn from that model (same size, same missing cells) and
    fitted with K − 1 classes (started from the generating values and one random start) and
    with K classes (`params.n_init` random starts, two-stage). p = (1 + #{LR_b ≥ LR}) / (1 + B).
    """
    k = n_classes
    if k < 2:
        raise DataError("The bootstrap likelihood-ratio test needs n_classes of at least 2.")
    if n_boot < 1:
        raise DataError("bootstrap_lrt needs at least one bootstrap sample.")
    check_data(data, k)
    design = design or prepare(data.values)
    lo, hi = span
    seed = params.random_state if params.random_state is not None else 0
    root = np.random.SeedSequence([seed, k, 7919])
    fit_seeds = [int(s) for s in root.generate_state(params.n_init)]
    progress(
        lo, f"Bootstrap test of {k} vs {k - 1} classes: fitting the observed data.", force=True
    )
    if alternative is not None:
        ll_alt = alternative.loglik
    else:
        ll_alt = _best(design, k, fit_seeds, params).loglik
    null = _best(design, k - 1, fit_seeds, params)
    theta0, pi0 = ordered(null.theta, null.log_pi)
    lr = 2.0 * (ll_alt - null.loglik)
    missing = np.isnan(data.values)
    missing = missing if missing.any() else None
    lrs: list[float] = []
    children = root.spawn(n_boot)
    small = params.model_copy(update={"n_final": n_final_for(params)})
    for b, child in enumerate(children):
        rng = np.random.default_rng(child)
        X = draw_from_model(theta0, pi0, data.n_rows, rng, missing)
        d = prepare(X)
        seeds = [int(s) for s in child.generate_state(params.n_init + 1)]
        a, z = lo + (hi - lo) * b / n_boot, lo + (hi - lo) * (b + 1) / n_boot
        rep = Reporter(
            progress,
            params.n_init,
            n_final_for(params),
            params.max_iter,
            params.tol,
            lo=a,
            hi=z,
            label=f"Bootstrap sample {b + 1} of {n_boot}: ",
        )
        h0 = _best(
            d,
            k - 1,
            seeds[:2],
            small.model_copy(update={"n_final": 2}),
            reporter=rep,
            initial=[(theta0, np.log(pi0))],
        )
        h1 = _best(d, k, seeds[1:], small, reporter=rep)
        lrs.append(2.0 * max(h1.loglik - h0.loglik, 0.0))
        exceed = sum(x >= lr for x in lrs)
        progress(
            z,
            f"Bootstrap sample {b + 1} of {n_boot}: LR {lrs[-1]:,.2f} (observed {lr:,.2f}); "
            f"p so far {(1 + exceed) / (1 + len(lrs)):.3f}.",
            force=True,
            details={"bootstrap_sample": b + 1, "n_boot": n_boot},
        )
    exceed = sum(x >= lr for x in lrs)
    return BootstrapLRT(
        n_classes=k,
        null_classes=k - 1,
        lr=lr,
        p_value=(1 + exceed) / (1 + n_boot),
        n_boot=n_boot,
        bootstrap_lr=lrs,
        loglik=ll_alt,
        null_loglik=null.loglik,
    )
