"""Covariate LCA at 200,000 households (issue 13): wall time of `lca_covariates` with the
defaults (10 starts of the model without covariates, 10 of the covariate model, Bayes constant
1, observed-information standard errors) on a simulated survey, with categorical features only
(rows identical in purchases and features are fitted once) and with a numeric feature too.

    .venv/bin/python bench/lca_covariates_200k.py [--n 200000] [--k 4]
"""

from __future__ import annotations

import argparse
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
        start = time.perf_counter()
        result = C.fit(s.data, LCACovariatesParams(n_classes=args.k, random_state=1), no_progress)
        seconds = time.perf_counter() - start
        iters = sum(r.iterations for r in result.starts)
        print(
            f"{args.n:,} households × {args.p} products, K={args.k}, {label}: {seconds:.1f} s "
            f"({iters} covariate EM iterations over {len(result.starts)} starts, "
            f"{result.n_starts_at_best} at the best, converged={result.converged})"
        )


if __name__ == "__main__":
    main()
