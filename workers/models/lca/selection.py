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


def compare_solutions(results: Sequence[LCAResult]) -> LCAComparison:
    """Side-by-side criteria per number of classes; recommended = lowest BIC."""
    if not results:
        raise ValueError("compare_solutions needs at least one result.")
    rows = sorted(
        (
            SolutionRow(
                n_classes=r.n_classes,
                loglik=r.loglik,
                npar=r.npar,
                aic=r.aic,
                bic=r.bic,
                sabic=r.sabic,
                caic=r.caic,
                entropy=r.entropy,
                smallest_class_share=r.smallest_class_share,
                n_starts_at_best=r.n_starts_at_best,
                converged=r.converged,
                blrt_p_value=r.blrt.p_value if r.blrt else None,
            )
            for r in results
        ),
        key=lambda row: row.n_classes,
    )
    best: dict[str, int] = {}
    for c in CRITERIA:
        best[c] = min(rows, key=lambda row: float(getattr(row, c))).n_classes
    return LCAComparison(table=rows, recommended=best["bic"], best_by_criterion=best)


def fit_range(
    data: BinaryMatrix, values: Sequence[int], params: LCAParams, progress: Progress
) -> tuple[list[LCAResult], LCAComparison]:
    """Fits each number of classes in turn and compares them."""
    results = []
    for i, k in enumerate(values):

        def scaled(fraction: float, message: str, i: int = i, k: int = k, **fields: Any) -> None:
            progress((i + fraction) / len(values), f"{k} classes: {message}", **fields)

        results.append(fit(data, params.model_copy(update={"n_classes": k}), scaled))
    return results, compare_solutions(results)


def _best(design: Design, k: int, seeds: list[int], params: LCAParams, **kw: Any) -> StartsOutcome:
    return fit_classes(design, k, seeds, params, **kw)


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
