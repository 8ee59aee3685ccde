"""3-step estimation (BCH and ML corrections) against StepMix 3.0 on the same simulated data
(tests/expected/three_step_stepmix.json, written by tests/reference/three_step_stepmix.py), and
recovery of known covariate effects within their intervals at about the nominal rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.schemas.lca import LCAParams
from tests.reference.three_step_stepmix import (
    BETA,
    DISTAL_MEANS,
    DISTAL_RATES,
    DISTAL_SDS,
    PROBS,
    cases,
)
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca import three_step as T
from workers.models.lca.fit import fit as fit_lca
from workers.models.lca.simulation import simulate_with_covariates

EXPECTED = json.loads((Path(__file__).parent / "expected" / "three_step_stepmix.json").read_text())[
    "cases"
]
CASES = cases()


def posteriors(X: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: our LCA to a tight tolerance; (posteriors, item probabilities)."""
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(X.shape[1])])
    result = fit_lca(
        data,
        LCAParams(n_classes=3, random_state=seed, tol=1e-12, n_init=10, stability_samples=0),
        no_progress,
    )
    assert result.rows is not None
    return result.rows[[f"p_class_{k + 1}" for k in range(3)]].to_numpy(), np.asarray(
        result.item_probabilities
    )


def ml_numeric_loglik(post: np.ndarray, y: np.ndarray, mu: np.ndarray, var: np.ndarray) -> float:
    """The step-3 ML log-likelihood at given class means and variances (class sizes by EM)."""
    D = T.classification_error(post)
    joint0 = T.modal_onehot(post) @ np.log(np.clip(D, 1e-15, 1 - 1e-15)).T
    joint0 = joint0 - 0.5 * ((y[:, None] - mu) ** 2 / var + np.log(2 * np.pi * var))
    pi = np.full(len(mu), 1 / len(mu))
    for _ in range(300):
        pi = T.softmax_rows(joint0 + np.log(pi)).mean(axis=0)
    joint = joint0 + np.log(pi)
    m = joint.max(axis=1, keepdims=True)
    return float((np.log(np.exp(joint - m).sum(axis=1)) + m[:, 0]).sum())


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[np.ndarray, list[int]]]:
    out = {}
    for name, d in CASES.items():
        post, probs = posteriors(d["X"])
        theirs = np.asarray(EXPECTED[name]["measurement"]["pis"])
        perm = [int(np.argmin(np.abs(theirs - probs[k]).sum(axis=1))) for k in range(3)]
        assert sorted(perm) == [0, 1, 2]
        out[name] = (post, perm)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_classification_error_matches_stepmix(name: str, fitted: dict) -> None:
    post, perm = fitted[name]
    D = np.asarray(EXPECTED[name]["measurement"]["D"])[np.ix_(perm, perm)]
    assert T.classification_error(post) == pytest.approx(D, abs=5e-5)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", ["BCH", "ML"])
def test_covariate_effects_match_stepmix(name: str, method: str, fitted: dict) -> None:
    post, perm = fitted[name]
    Z = np.column_stack([np.ones(len(post)), CASES[name]["Z"]])
    ours = (T.bch_covariates if method == "BCH" else T.ml_covariates)(post, Z)
    theirs = np.asarray(EXPECTED[name][f"covariate_{method}"]["beta"])[perm]
    against_first = (theirs - theirs[0]).T  # terms × classes, our class 1 the reference
    assert ours.converged
    assert ours.beta == pytest.approx(against_first, abs=3e-4)
    se = np.sqrt(np.diag(ours.cov))
    assert np.all(np.isfinite(se)) and np.all((se > 0.01) & (se < 0.3))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", ["BCH", "ML"])
def test_distal_outcomes_match_stepmix(name: str, method: str, fitted: dict) -> None:
    post, perm = fitted[name]
    y, b, g = CASES[name]["y"], CASES[name]["b"], CASES[name]["g"]
    if method == "BCH":
        numeric, binary = T.bch_distal(post, y), T.bch_distal(post, b)
        categorical = T.bch_distal(post, g, kind="categorical", n_levels=3)
    else:
        numeric, binary = T.ml_distal(post, y, "numeric"), T.ml_distal(post, b, "binary")
        categorical = T.ml_distal(post, g, "categorical", n_levels=3)
    theirs = EXPECTED[name][f"distal_numeric_{method}"]
    mu = np.asarray(theirs["means"])[perm]
    if method == "BCH":
        assert numeric.means == pytest.approx(mu, abs=1e-4)
    else:  # a normal with its own variance per class (StepMix's gaussian_diag)
        var = np.asarray(theirs["variances"])[perm]
        # StepMix's EM stops short of the optimum here (measured: 0.005 lower); ours is higher
        assert numeric.loglik >= ml_numeric_loglik(post, y, mu, var) - 1e-6
        assert numeric.means == pytest.approx(mu, abs=1e-2)
        assert numeric.sd**2 == pytest.approx(var, rel=5e-3)
    rates = np.asarray(EXPECTED[name][f"distal_binary_{method}"]["pis"])[perm]
    assert binary.means == pytest.approx(rates, abs=1e-4)
    shares = np.asarray(EXPECTED[name][f"distal_categorical_{method}"]["pis"])[perm]
    assert categorical.means == pytest.approx(shares, abs=1e-4)
    assert np.all(numeric.se > 0) and np.all(numeric.se < 0.2)
    assert np.all(categorical.se > 0) and np.all(categorical.se < 0.05)


def coverage(reps: int, first_seed: int = 500) -> dict[str, tuple[int, int]]:
    """Over `reps` data sets drawn from known values: how many 95% intervals hold the truth, per
    correction, of the logit slopes (two slopes × two free classes) and of the class means of a
    numeric outcome with a different sd in each class and the class shares of a binary one."""
    hits: dict[str, list[int]] = {}
    for rep in range(reps):
        X, Zraw, classes = simulate_with_covariates(2500, PROBS, BETA, seed=first_seed + rep)
        rng = np.random.default_rng(first_seed + rep + 10_000)
        y = DISTAL_MEANS[classes] + DISTAL_SDS[classes] * rng.normal(size=len(classes))
        b = (rng.random(len(classes)) < DISTAL_RATES[classes]).astype(float)
        post, probs = posteriors(X, seed=rep)
        perm = [int(np.argmin(np.abs(PROBS - probs[k]).sum(axis=1))) for k in range(3)]
        truth = BETA[:, perm]
        truth = truth - truth[:, [0]]  # against our class 1
        Z = np.column_stack([np.ones(len(post)), Zraw])
        for method in ("BCH", "ML"):
            est = (T.bch_covariates if method == "BCH" else T.ml_covariates)(post, Z)
            se = np.sqrt(np.diag(est.cov)).reshape(2, 3).T  # terms × free classes
            inside = np.abs(est.beta[1:, 1:] - truth[1:, 1:]) <= 1.96 * se[1:]
            hits.setdefault(f"{method} slopes", []).extend(inside.ravel().tolist())
            for name, values, kind, true in (
                ("means", y, "numeric", DISTAL_MEANS[perm]),
                ("shares", b, "binary", DISTAL_RATES[perm]),
            ):
                fit = (
                    T.bch_distal(post, values)
                    if method == "BCH"
                    else T.ml_distal(post, values, kind)
                )
                inside = np.abs(fit.means - true) <= 1.96 * fit.se
                hits.setdefault(f"{method} {name}", []).extend(inside.tolist())
    return {key: (int(sum(v)), len(v)) for key, v in hits.items()}


def test_three_step_effects_are_recovered_at_about_the_nominal_rate() -> None:
    # Given 25 data sets from known logit coefficients and outcome means
    rates = coverage(25)
    # Then about 95% of the 95% intervals hold the truth (measured over 200 data sets: the slow
    # test below and docs/profiles.md)
    for key, (hit, total) in rates.items():
        print(f"{key}: {hit}/{total} = {hit / total:.3f}")
        assert 0.85 <= hit / total <= 1.0, (key, hit, total)


@pytest.mark.slow
def test_three_step_coverage_over_200_data_sets() -> None:
    rates = coverage(200, first_seed=2000)
    for key, (hit, total) in rates.items():
        print(f"{key}: {hit}/{total} = {hit / total:.3f}")
        # 800 slope or 600 mean intervals: a binomial sd of under 0.01 around 0.95
        assert 0.925 <= hit / total <= 0.975, (key, hit, total)


def test_a_separating_feature_gives_finite_flagged_3_step_coefficients() -> None:
    import json

    import pandas as pd

    from tests.test_lca_covariates_priors import finite_numbers, separating_data

    # Given a feature that is 1 for every household of one class, and an outcome too rare
    data = separating_data()
    data.outcomes = pd.DataFrame({"rare": [np.nan] * 1995 + [1.0, 2.0, 3.0, 4.0, 5.0]})
    # When a plain LCA relates its classes to them by 3-step
    result = fit_lca(data, LCAParams(n_classes=2, random_state=0, stability_samples=0), no_progress)
    found = result.three_step
    assert found is not None
    # Then the separating feature's coefficients are finite and flagged (the slopes' prior)
    for block in found.covariates:
        member = next(c for c in block.coefficients if c.term == "member")
        assert member.flagged and np.isfinite(member.coef) and block.converged
    ml = next(b for b in found.covariates if b.correction == "ML")
    assert abs(next(c for c in ml.coefficients if c.term == "member").coef) < 15
    # and the rare outcome is left out with a warning naming it; no inf or NaN anywhere
    assert not found.distal and any('"rare"' in w for w in result.provenance.warnings)
    assert finite_numbers(json.loads(result.model_dump_json())) == []


def test_integer_weights_give_the_3_step_estimates_of_repeated_rows(fitted: dict) -> None:
    import pandas as pd

    # Given the posteriors of a fit, features, outcomes and integer case weights
    name = "three_classes_fuzzy_3000"
    post, _ = fitted[name]
    d = CASES[name]
    features = pd.DataFrame({"z1": d["Z"][:, 0], "group": np.where(d["Z"][:, 1] > 0, "a", "b")})
    outcomes = pd.DataFrame({"y": d["y"], "b": d["b"], "g": d["g"].astype(int).astype(str)})
    w = np.random.default_rng(3).integers(1, 4, len(post)).astype(float)
    idx = np.repeat(np.arange(len(post)), w.astype(int))
    classes = ["Class 1", "Class 2", "Class 3"]
    # When 3-step runs on the weighted rows and on the rows repeated
    a = T.relate(post, classes, features, outcomes, ["BCH", "ML"], w)
    b = T.relate(
        post[idx],
        classes,
        features.iloc[idx].reset_index(drop=True),
        outcomes.iloc[idx].reset_index(drop=True),
        ["BCH", "ML"],
    )
    # Then every estimate and standard error is the same
    assert a.weighted and not b.weighted
    assert np.asarray(a.classification_error) == pytest.approx(
        np.asarray(b.classification_error), abs=1e-12
    )
    for x, y in zip(a.covariates, b.covariates, strict=True):
        for c1, c2 in zip(x.coefficients, y.coefficients, strict=True):
            assert c1.coef == pytest.approx(c2.coef, abs=1e-7)
            assert c1.se == pytest.approx(c2.se, rel=1e-6)
    assert len(a.distal) == 6
    for x, y in zip(a.distal, b.distal, strict=True):
        for e1, e2 in zip(x.estimates, y.estimates, strict=True):
            assert e1.estimate == pytest.approx(e2.estimate, abs=1e-7)
            assert e1.se == pytest.approx(e2.se, rel=1e-5)
