"""Reference optima for the LCA start strategy: on data whose likelihood has many local optima
(few items, weak separation, more classes than the truth) the best log-likelihood that 500
random starts find, every start carried to convergence in float64 with a tight tolerance, for
K = 2..5. Written to tests/expected/lca_multimodal.json.

    .venv/bin/python -m tests.reference.lca_multimodal

The real data (LSAT sections 6 and 7, 1,000 × 5 items each, from R's psych) are stored as CSV by
tests/reference/lsat_data.R; the simulated ones are rebuilt from their seeds. Each entry also
counts how many of the 500 starts reach the optimum (within 1e-4) and how many distinct optima
the starts end at, which says how hard the case is.
"""

from __future__ import annotations

import json
import time

import numpy as np

from tests.reference import EXPECTED

OUT = EXPECTED / "lca_multimodal.json"
N_STARTS = 500
TOL = 1e-13
MAX_ITER = 20_000
CLASSES = (2, 3, 4, 5)


def datasets() -> dict[str, np.ndarray]:
    """Name → n × p 0/1 matrix."""
    from workers.models.lca.simulation import simulate_binary

    def lsat(name: str) -> np.ndarray:
        path = EXPECTED / f"{name}.csv"
        return np.loadtxt(path, delimiter=",", skiprows=1)

    return {
        "lsat6": lsat("lsat6"),
        "lsat7": lsat("lsat7"),
        # Two classes on five items: K = 3..5 are one to three above the truth.
        "five_items_1000": simulate_binary(n=1000, p=5, k=2, seed=11, sep=1.5)[0],
        # Three weakly separated classes on six items.
        "six_items_weak_600": simulate_binary(n=600, p=6, k=3, seed=12, sep=0.8)[0],
        # A small sample with two weakly separated classes.
        "weak_small_300x10": simulate_binary(n=300, p=10, k=2, seed=13, sep=0.6)[0],
    }


def exhaustive(X: np.ndarray, k: int, n_starts: int = N_STARTS) -> dict:
    from workers.models.lca import engine as E

    design = E.prepare(X)
    seeds = [int(s) for s in np.random.SeedSequence([k, 500]).generate_state(n_starts)]
    out = E.run_starts(design, k, seeds, max_iter=MAX_ITER, tol=TOL, n_final=None, float32=False)
    lls = np.array([s.loglik for s in out.starts])
    best = float(lls.max())
    optima = np.unique(np.round(lls[lls > best - 50], 3))
    return {
        "loglik": best,
        "starts": n_starts,
        "at_best": int((best - lls <= 1e-4).sum()),
        "distinct_optima_within_50": len(optima),
        "converged": int(sum(s.converged for s in out.starts)),
    }


def main() -> None:
    cases = []
    for name, X in datasets().items():
        for k in CLASSES:
            t = time.perf_counter()
            entry = {"data": name, "n_classes": k, "n": X.shape[0], "p": X.shape[1]}
            entry.update(exhaustive(X, k))
            entry["seconds"] = round(time.perf_counter() - t, 1)
            print(entry, flush=True)
            cases.append(entry)
    OUT.write_text(
        json.dumps(
            {
                "what": f"best log-likelihood of {N_STARTS} random starts, all finished, "
                f"tol {TOL}, float64",
                "cases": cases,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
