"""Reference values for 3-step estimation: StepMix 3.0's `n_steps=3` with the BCH and ML
corrections on data simulated with fixed seeds, written to tests/expected/three_step_stepmix.json.

    .venv/bin/python -m tests.reference.three_step_stepmix

The data sets are rebuilt by the test (`cases()`), so only StepMix's estimates are stored:
its measurement model (class sizes, item probabilities: the test matches classes by them), its
classification-error matrix D and the structural estimates (covariate logit coefficients for
every class; distal class means and variances, `gaussian_diag`: a variance per class; the shares
of a binary and of a three-level categorical outcome). StepMix runs with a tight tolerance and
its Newton steps carried to convergence (structural_params max_iter), so the comparison is of
the methods, not of stopping rules.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from tests.reference import EXPECTED

OUT = EXPECTED / "three_step_stepmix.json"
PROBS = np.array(
    [
        [0.85, 0.80, 0.75, 0.15, 0.10, 0.10, 0.50, 0.20],
        [0.10, 0.15, 0.10, 0.80, 0.90, 0.75, 0.50, 0.15],
        [0.50, 0.10, 0.10, 0.10, 0.20, 0.85, 0.90, 0.90],
    ]
)
BETA = np.array([[0.0, 0.3, -0.4], [0.0, 1.0, -0.5], [0.0, 0.0, 0.8]])  # intercept, z1, z2
DISTAL_MEANS = np.array([1.0, -0.5, 2.0])
DISTAL_SDS = np.array([1.0, 0.5, 2.0])
DISTAL_RATES = np.array([0.2, 0.6, 0.4])
DISTAL_LEVELS = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3]])


def cases() -> dict[str, dict[str, np.ndarray]]:
    """X (purchases), Z (two covariates), y (numeric outcome, its own sd in each class), b
    (binary outcome), g (a categorical outcome of three levels, coded 0, 1, 2)."""
    from workers.models.lca.simulation import simulate_with_covariates

    out = {}
    for name, n, seed, probs in [
        ("three_classes_4000", 4000, 21, PROBS),
        ("three_classes_fuzzy_3000", 3000, 22, 0.5 + 0.6 * (PROBS - 0.5)),
    ]:
        X, Z, classes = simulate_with_covariates(n, probs, BETA, seed=seed)
        rng = np.random.default_rng(seed + 100)
        y = DISTAL_MEANS[classes] + DISTAL_SDS[classes] * rng.normal(size=n)
        b = (rng.random(n) < DISTAL_RATES[classes]).astype(float)
        g = (rng.random(n)[:, None] > np.cumsum(DISTAL_LEVELS[classes], axis=1)).sum(axis=1)
        out[name] = {"X": X, "Z": Z, "y": y, "b": b, "g": g.astype(float)}
    return out


def stepmix_3step(X, Y, structural, correction, params=None):
    from stepmix.stepmix import StepMix

    model = StepMix(
        n_components=3,
        measurement="binary",
        structural=structural,
        n_steps=3,
        correction=correction,
        n_init=10,
        max_iter=10000,
        abs_tol=1e-12,
        random_state=0,
        progress_bar=0,
        verbose=0,
        structural_params=params or {},
    )
    model.fit(X, Y)
    p = model.get_parameters()
    return model, p


def main() -> None:
    from stepmix.corrections import compute_bch_matrix

    warnings.filterwarnings("ignore")
    expected = {}
    for name, d in cases().items():
        entry = {}
        for correction in ("BCH", "ML"):
            model, p = stepmix_3step(
                d["X"], d["Z"], "covariate", correction, {"max_iter": 200, "tol": 1e-10}
            )
            resp = model.predict_proba_class(d["X"])
            D, _ = compute_bch_matrix(resp, "modal")
            entry[f"covariate_{correction}"] = {
                "beta": p["structural"]["beta"].tolist(),  # classes × (intercept, z1, z2)
            }
            entry["measurement"] = {
                "pis": p["measurement"]["pis"].tolist(),
                "weights": p["weights"].tolist(),
                "D": D.tolist(),
            }
            model, p = stepmix_3step(d["X"], d["y"][:, None], "gaussian_diag", correction)
            entry[f"distal_numeric_{correction}"] = {
                "means": p["structural"]["means"].ravel().tolist(),
                "variances": p["structural"]["covariances"].ravel().tolist(),
            }
            model, p = stepmix_3step(d["X"], d["g"][:, None], "categorical", correction)
            entry[f"distal_categorical_{correction}"] = {"pis": p["structural"]["pis"].tolist()}
            model, p = stepmix_3step(d["X"], d["b"][:, None], "binary", correction)
            entry[f"distal_binary_{correction}"] = {"pis": p["structural"]["pis"].ravel().tolist()}
        expected[name] = entry
        print(name, "done")
    OUT.write_text(json.dumps({"stepmix": "3.0.0", "cases": expected}, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
