"""Covariate LCA at 200,000 households (issue 13): wall time of `lca_covariates` with the
defaults (10 starts of the model without covariates, 10 of the covariate model, Bayes constant
1, observed-information standard errors) on a simulated survey, with categorical features only
(rows identical in purchases and features are fitted once) and with a numeric feature too;
then 3-step estimation (BCH and ML) of the same households' classes on those features and on a
numeric and a binary distal outcome, timed alone (the posteriors of the covariate model's fit).

    .venv/bin/python bench/lca_covariates_200k.py [--n 200000] [--k 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from backend.schemas.lca import LCACovariatesParams
    from tests.support.survey import survey
    from workers.models.base import no_progress
    from workers.models.lca import covariates as C

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--p", type=int, default=20)
    args = parser.parse_args()
    s = survey(args.n, args.k, p=args.p, seed=1)
    for label in ("categorical features", "with a numeric feature (age)"):
        if label.startswith("with"):
            assert s.data.covariates is not None
            s.data.covariates["age"] = np.random.default_rng(0).normal(45, 12, args.n).round(1)
        start, cpu = time.perf_counter(), time.process_time()
        result = C.fit(s.data, LCACovariatesParams(n_classes=args.k, random_state=1), no_progress)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        iters = sum(r.iterations for r in result.starts)
        print(
            f"{args.n:,} households × {args.p} products, K={args.k}, {label}: {seconds:.1f} s "
            f"wall, {cpu:.1f} s CPU (load average {os.getloadavg()[0]:.1f}) "
            f"({iters} covariate EM iterations over {len(result.starts)} starts, "
            f"{result.n_starts_at_best} at the best, converged={result.converged})"
        )
    from workers.models.lca.three_step import relate

    assert result.rows is not None and s.data.covariates is not None
    post = result.rows[[f"p_class_{k + 1}" for k in range(args.k)]].to_numpy()
    rng = np.random.default_rng(2)
    outcomes = {
        "spend": (20 + 5 * s.classes + rng.normal(0, 4, args.n)).round(2),
        "churned": (rng.random(args.n) < 0.2 + 0.1 * s.classes).astype(float),
    }
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    found = relate(post, result.classes, s.data.covariates, pd.DataFrame(outcomes), ["BCH", "ML"])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    iters = {c.correction: c.iterations for c in found.covariates}
    print(
        f"3-step (BCH and ML) on {args.n:,} households, features region, female, age and "
        f"outcomes spend, churned: {seconds:.1f} s wall, {cpu:.1f} s CPU (logit Newton steps "
        f"{iters})"
    )


if __name__ == "__main__":
    main()
