"""Scoring households with a finished LCA against refitting it (issue 15, "Speed").

    .venv/bin/python bench/score.py                    # 1,000,000 × 50, 6 classes
    .venv/bin/python bench/score.py --n 200000 --no-refit

Simulates n households × p products from a K-class model, fits an LCA on them once (the
refit: n_init starts, one round, no stability resamples: the cheapest ordinary fit), then times
what a scoring run's worker does after loading the data: the family's score function (posterior
class probabilities by full information and the modal class, in 131,072-row chunks) and the
scored table written as Parquet. BLAS on one thread, as on a worker process. Prints one JSON
line: seconds of each, the best of `--repeat` scorings, the ratio to the refit, the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-refit", action="store_true")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from backend.schemas.lca import LCAParams
    from backend.services.ingest import to_parquet
    from workers.models.base import BinaryMatrix, no_progress
    from workers.models.lca.fit import fit
    from workers.models.lca.score import score
    from workers.scoring.score import keyed

    rng = np.random.default_rng(0)
    probs = rng.uniform(0.05, 0.6, size=(args.k, args.p))
    sizes = rng.dirichlet(np.full(args.k, 5.0))
    classes = rng.choice(args.k, size=args.n, p=sizes)
    values = (rng.random((args.n, args.p)) < probs[classes]).astype(np.float64)
    data = BinaryMatrix(values, [f"prod_{j + 1}" for j in range(args.p)])

    refit_seconds = None
    if args.no_refit:
        result = {"item_probabilities": probs.tolist(), "class_sizes": sizes.tolist()}
    else:
        params = LCAParams(
            n_classes=args.k, n_init=args.n_init, replicate=1, stability_samples=0, random_state=1
        )
        started = time.perf_counter()
        fitted = fit(data, params, no_progress)
        refit_seconds = time.perf_counter() - started
        result = fitted.model_dump(mode="json")

    score_times, total_times = [], []
    with threadpool_limits(1, user_api="blas"):
        for _ in range(args.repeat):
            started = time.perf_counter()
            scored = score(data, result, no_progress)
            middle = time.perf_counter()
            to_parquet(keyed(scored.rows, data, None))
            done = time.perf_counter()
            score_times.append(middle - started)
            total_times.append(done - started)
    best = min(total_times)
    print(
        json.dumps(
            {
                "n": args.n,
                "p": args.p,
                "k": args.k,
                "score_seconds": round(min(score_times), 3),
                "score_and_parquet_seconds": round(best, 3),
                "refit_seconds": None if refit_seconds is None else round(refit_seconds, 2),
                "refit_over_score": None
                if refit_seconds is None
                else round(refit_seconds / best, 1),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
