"""Reference values for `lca`: StepMix's best log-likelihood over 20 random starts on a few
binary data sets, written to tests/expected/lca_stepmix.json.

    .venv/bin/python -m tests.reference.lca_stepmix

The data sets are simulated with fixed seeds (workers/models/lca/simulation.py), so the test
rebuilds them instead of storing them. StepMix runs with the same convergence rule as our engine
(`abs_tol` on the mean log-likelihood per row).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from tests.reference import EXPECTED

OUT = EXPECTED / "lca_stepmix.json"
N_INIT = 20
TOL = 1e-8
MAX_ITER = 5000


def datasets() -> dict[str, np.ndarray]:
    from tests.support.data import simulate_lca
    from workers.models.lca.simulation import realistic_purchases

    sim = simulate_lca(n=3000, seed=7)
    return {
        "three_classes_3000x8": sim.frame[sim.products].to_numpy(dtype=np.float64),
        "purchases_8000x20": realistic_purchases(8000, p=20, k=5, seed=1),
        "purchases_missing_8000x20": realistic_purchases(8000, p=20, k=5, seed=1, missing=0.05),
    }


CASES = [
    ("three_classes_3000x8", 3),
    ("purchases_8000x20", 4),
    ("purchases_8000x20", 5),
    ("purchases_missing_8000x20", 4),
]


def stepmix_best(X: np.ndarray, k: int, seed: int = 0) -> dict:
    from stepmix.stepmix import StepMix

    model = StepMix(
        n_components=k,
        measurement="binary_nan" if np.isnan(X).any() else "binary",
        n_init=N_INIT,
        max_iter=MAX_ITER,
        abs_tol=TOL,
        random_state=seed,
        progress_bar=0,
        verbose=0,
    )
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return {
        "loglik": float(model.score(X)) * X.shape[0],
        "npar": int(model.n_parameters),
        "seconds": round(time.perf_counter() - t, 2),
    }


def main() -> None:
    import stepmix

    data = datasets()
    out: dict = {"stepmix": stepmix.__version__, "n_init": N_INIT, "tol": TOL, "cases": []}
    for name, k in CASES:
        ref = stepmix_best(data[name], k)
        print(name, k, ref, flush=True)
        out["cases"].append({"data": name, "n_classes": k, **ref})
    OUT.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
