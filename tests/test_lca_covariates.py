"""lca_covariates: known logit coefficients recovered, agreement with lca when covariates are
noise, encoding of numeric and categorical covariates, standard errors against a numerical
Hessian."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backend.errors import DataError
from backend.schemas.lca import CovariateTerm, LCACovariatesParams, LCAParams
from tests.support.data import TRUE_PROBS, match_classes, simulate_lca
from workers.models.base import BinaryMatrix, no_progress
from workers.models.lca import covariates as C
from workers.models.lca.engine import prepare
from workers.models.lca.fit import fit as fit_lca
from workers.models.lca.simulation import simulate_with_covariates

# Class 1 is the reference; intercepts, then the effect of z1 and z2 (per standard deviation).
TRUE_BETA = np.array([[0.0, 0.3, -0.4], [0.0, 1.0, -0.5], [0.0, 0.0, 0.8]])


def data_with_covariates(n: int, beta: np.ndarray, seed: int) -> tuple[BinaryMatrix, np.ndarray]:
    X, Z, classes = simulate_with_covariates(n, TRUE_PROBS, beta, seed=seed)
    covariates = pd.DataFrame({"z1": Z[:, 0], "z2": Z[:, 1]})
    products = [f"prod_{j + 1}" for j in range(X.shape[1])]
    return BinaryMatrix(values=X, products=products, covariates=covariates), classes


def test_recovers_known_logit_coefficients() -> None:
    # Given classes drawn from a known multinomial logit of two covariates
    data, _ = data_with_covariates(20000, TRUE_BETA, seed=3)
    # When fitted with the true class as reference
    result = C.fit(data, LCACovariatesParams(n_classes=3, n_init=5, random_state=1), no_progress)
    probs = np.asarray(result.item_probabilities)
    perm = match_classes(probs, TRUE_PROBS)  # perm[true class] = estimated class
    assert np.abs(probs[perm] - TRUE_PROBS).max() < 0.03
    # Then the coefficients against the estimated class of true class 1 match, within 3 SE
    ref = result.classes.index(result.reference_class)
    table = {(c.class_name, c.term): c for c in result.coefficients}
    for true_class in (1, 2):
        for t, term in enumerate(["(intercept)", "z1", "z2"]):
            truth = TRUE_BETA[t, true_class] - TRUE_BETA[t, _true_of(perm, ref)]
            est = _coef(table, result.classes, perm[true_class], ref, term)
            if est is None:
                continue
            coef, se = est
            assert se is not None and 0 < se < 0.2
            assert abs(coef - truth) < 3.5 * se + 0.02, (true_class, term, coef, truth, se)
    # And odds ratios, z and p-values follow from the coefficients
    for c in result.coefficients:
        assert c.odds_ratio == pytest.approx(np.exp(c.coef))
        assert c.ci_low is not None and c.ci_low < c.odds_ratio < c.ci_high
    assert result.covariate_p_value < 1e-10 and result.covariate_df == 4
    assert result.npar == 2 + 3 * 8 + 2 * 2
    assert result.loglik > result.unconditional_loglik


def _true_of(perm: list[int], estimated: int) -> int:
    return perm.index(estimated)


def _coef(
    table: dict, classes: list[str], est_class: int, ref: int, term: str
) -> tuple[float, float | None] | None:
    if est_class == ref:
        return None
    c = table[(classes[est_class], term)]
    return c.coef, c.se


def test_agrees_with_lca_when_covariates_are_noise() -> None:
    # Given covariates unrelated to the classes
    data, _ = data_with_covariates(6000, np.zeros((3, 3)), seed=5)
    params = dict(n_classes=3, n_init=6, random_state=2)
    plain = fit_lca(data, LCAParams(**params), no_progress)
    with_cov = C.fit(data, LCACovariatesParams(**params, bayes_constant=0), no_progress)
    # Then the class solution is the same up to sampling noise
    assert np.asarray(with_cov.class_sizes) == pytest.approx(plain.class_sizes, abs=0.01)
    assert (
        np.abs(np.asarray(with_cov.item_probabilities) - np.asarray(plain.item_probabilities)).max()
        < 0.01
    )
    assert with_cov.unconditional_loglik == pytest.approx(plain.loglik, rel=1e-9)
    # And no covariate effect is significant as a whole
    assert with_cov.covariate_p_value > 0.01
    slopes = [c for c in with_cov.coefficients if c.term != "(intercept)"]
    assert all(abs(c.coef) < 0.15 for c in slopes)


def test_categorical_and_numeric_encoding() -> None:
    frame = pd.DataFrame(
        {
            "age": [20.0, 30.0, 40.0, 50.0, np.nan, 60.0],
            "member": [0, 1, 0, 1, 1, 0],
            "region": ["north", "south", "north", None, "south", "east"],
        }
    )
    cov = C.encode(frame)
    names = [t.name for t in cov.terms]
    # Intercept, age standardised, member as a 0/1 indicator, region one-hot against "north"
    assert names[:3] == ["(intercept)", "age", "member"]
    assert {"region=south", "region=east"} <= set(names) and "region=north" not in names
    assert cov.kept.tolist() == [True, True, True, True, False, True]  # missing age dropped
    age = cov.Z[:, 1]
    assert age.mean() == pytest.approx(0) and age.std() == pytest.approx(1)
    assert cov.terms[1].kind == "numeric" and cov.terms[2].kind == "binary"
    # A missing category is a level of its own (it was in a kept row)
    assert "region=(missing)" in names


def test_missing_covariates_are_a_clear_error() -> None:
    data, _ = data_with_covariates(500, TRUE_BETA, seed=1)
    data.covariates = None
    with pytest.raises(DataError, match="covariate_columns"):
        C.fit(data, LCACovariatesParams(n_classes=2), no_progress)


def test_rows_with_missing_numeric_covariates_are_left_out_but_listed() -> None:
    data, _ = data_with_covariates(1500, TRUE_BETA, seed=2)
    assert data.covariates is not None
    data.covariates.loc[:9, "z1"] = np.nan
    result = C.fit(data, LCACovariatesParams(n_classes=3, n_init=3, random_state=1), no_progress)
    assert result.n_rows_dropped == 10 and result.total_weight == 1490
    rows = result.rows
    assert rows is not None and len(rows) == 1500
    assert rows.iloc[:10]["p_class_1"].isna().all() and rows.iloc[10:]["p_class_1"].notna().all()


def test_standard_errors_match_a_numerical_hessian() -> None:
    probs = np.array([[0.8, 0.7, 0.2, 0.3, 0.6], [0.2, 0.3, 0.7, 0.8, 0.4]])
    beta_true = np.array([[0.0, 0.5], [0.0, 1.0]])
    X, Z, _ = simulate_with_covariates(600, probs, beta_true, seed=2)
    X[np.random.default_rng(3).random(X.shape) < 0.1] = np.nan
    design = prepare(X, compress=False)
    Zd = np.column_stack([np.ones(len(Z)), Z])[design.row_of >= 0]
    theta, beta, _, _, converged = C.one_step_em(
        design, Zd, probs.copy(), np.zeros((2, 2)), 0, 5000, 1e-13
    )
    assert converged
    K, p = theta.shape

    def loglik(vec: np.ndarray) -> float:
        th = 1 / (1 + np.exp(-vec[: K * p].reshape(K, p)))
        b = np.zeros((2, 2))
        b[:, 1] = vec[K * p :]
        joint = C.log_emission(design, th) + C.log_prior(Zd, b)
        m = joint.max(axis=1, keepdims=True)
        return float(design.weights @ (np.log(np.exp(joint - m).sum(axis=1)) + m[:, 0]))

    v0 = np.concatenate([np.log(theta / (1 - theta)).ravel(), beta[:, 1]])
    D, h = len(v0), 1e-4
    H = np.zeros((D, D))
    for i in range(D):
        for j in range(i, D):
            ei, ej = np.eye(D)[i] * h, np.eye(D)[j] * h
            H[i, j] = H[j, i] = (
                loglik(v0 + ei + ej)
                - loglik(v0 + ei - ej)
                - loglik(v0 - ei + ej)
                + loglik(v0 - ei - ej)
            ) / (4 * h * h)
    info, _ = C.information(design, Zd, theta, beta, 0)
    assert info == pytest.approx(-H, abs=1e-3 * np.abs(H).max())


def test_many_products_fall_back_to_standard_errors_with_theta_fixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, _ = data_with_covariates(3000, TRUE_BETA, seed=4)
    params = LCACovariatesParams(n_classes=3, n_init=3, random_state=1)
    full = C.fit(data, params, no_progress)
    monkeypatch.setattr(C, "FULL_INFO_MAX", 0)
    fixed = C.fit(data, params, no_progress)
    assert any("hold the item probabilities fixed" in w for w in fixed.provenance.warnings)
    for a, b in zip(full.coefficients, fixed.coefficients, strict=True):
        assert a.coef == b.coef
        assert a.se is not None and b.se is not None and b.se <= a.se * 1.0001


def test_an_enormous_standard_error_gives_an_unbounded_interval_not_a_crash() -> None:
    # Given a coefficient whose standard error is 87,141 (a six-level feature, one level ~1 %
    # of households, K = 3: exp(coef + 1.96 se) overflowed, "math range error")
    terms = [CovariateTerm(name="region=north", covariate="region", kind="category")]
    beta = np.array([[0.0, 2.0]])
    covariance = np.array([[87_141.0**2]])
    # When its odds ratio and interval are reported
    (coefficient,) = C._coefficients(beta, covariance, terms, ["Class 1", "Class 2"], ref=0)
    # Then the interval is computed in log space: 0.0 below, unbounded (null) above
    assert coefficient.se == pytest.approx(87_141.0)
    assert coefficient.odds_ratio == pytest.approx(np.exp(2.0))
    assert coefficient.ci_low == 0.0 and coefficient.ci_high is None
    assert "null" in coefficient.model_dump_json()  # JSON (and PostgreSQL) can hold it
    # and ordinary intervals are unchanged
    assert C.odds_interval(0.5, 0.1) == pytest.approx((np.exp(0.304), np.exp(0.696)))


def test_a_rare_category_level_no_longer_crashes_the_fit() -> None:
    # Given a six-level household feature, one level held by about 1 % of households, K = 4
    # (issue 13: the fit failed with "math range error")
    sim = simulate_lca(n=2000, seed=3)
    levels = np.random.default_rng(3).choice(
        ["a", "b", "c", "d", "e", "rare"], size=2000, p=[0.3, 0.25, 0.2, 0.14, 0.1, 0.01]
    )
    products = [c for c in sim.frame.columns if c.startswith("prod_")]
    data = BinaryMatrix(
        values=sim.frame[products].to_numpy(float),
        products=products,
        covariates=pd.DataFrame({"region": levels}),
    )
    # When fitted by plain maximum likelihood
    params = LCACovariatesParams(n_classes=4, n_init=3, random_state=3, bayes_constant=0)
    result = C.fit(data, params, no_progress)
    # Then it finishes, and a coefficient without a finite upper bound says so (null)
    unbounded = [c for c in result.coefficients if c.se is not None and c.ci_high is None]
    assert unbounded and all(c.ci_low is not None for c in unbounded)
    bounded = [c for c in result.coefficients if c.ci_high is not None]
    assert all(c.ci_low <= c.odds_ratio <= c.ci_high for c in bounded)  # type: ignore[operator]
