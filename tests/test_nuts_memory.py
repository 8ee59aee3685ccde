"""NUTS memory (issue 12, item 7): per-household draws (factor scores, random intercepts) do
not grow without bound in memory. Past NUTS_DRAWS_MEMORY_MB the sampler's trace goes to disk
(nutpie) or is handed over draw by draw (PyMC's sampler); memory keeps every `thin`-th draw and
running moments over all of them, so posterior means are those of every draw and intervals stay
within Monte Carlo error. The accumulator alone is tested fast; whole fits are slow."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

from backend.schemas.bayesian import BayesianFactorPymcParams
from backend.schemas.dcm import DCMParams
from backend.settings import get_settings
from tests.support.posterior import load_posterior
from workers.models.base import BinaryMatrix, no_progress
from workers.models.bayes import household_draws as hd
from workers.models.bayes import summary as bs


def _draws(chains: int = 2, draws: int = 300, n: int = 40, k: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(rng.normal(size=(n, k)), 1.0, size=(chains, draws, n, k))


def _fed(values: np.ndarray, thin: int, block: int = 37) -> hd.HouseholdDraws:
    chains, draws = values.shape[:2]
    out = hd.HouseholdDraws(
        "scores", chains, draws, ("household", "factor"), {}, shape=values.shape[2:], thin=thin
    )
    for chain in range(chains):
        for start in range(0, draws, block):
            out.add(chain, start, values[chain, start : start + block])
    return out


def test_past_the_budget_means_and_sds_are_those_of_every_draw() -> None:
    values = _draws()
    kept = _fed(values, thin=3)
    # Every third draw is kept, and nothing more
    assert kept.kept.shape == (2, 100, 40, 2)
    np.testing.assert_array_equal(kept.kept, values[:, ::3])
    # while mean and sd are exact over all 600 draws
    mean, sd = kept.mean_sd()
    np.testing.assert_allclose(mean, values.mean(axis=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(sd, values.std(axis=(0, 1), ddof=1), atol=1e-12)
    # and the intervals, from the kept draws, stay within Monte Carlo error of all draws': the
    # 3 % quantile of 200 draws of sd 1 has a standard error of about 0.18
    full = bs.summarise(values, diagnostics=False)
    thinned = kept.summary()
    for end in ("hdi_low", "hdi_high"):
        error = np.abs(getattr(thinned, end) - getattr(full, end))
        assert error.mean() < 0.18 and error.max() < 5 * 0.18, (end, error.mean(), error.max())
    assert thinned.r_hat is not None and np.nanmax(thinned.r_hat) < 1.1


def test_a_flip_changes_a_chains_sign_in_draws_and_moments() -> None:
    values = _draws()
    kept = _fed(values, thin=2)
    kept.flip(1, 0)
    values[1, :, :, 0] *= -1
    np.testing.assert_allclose(kept.mean_sd()[0], values.mean(axis=(0, 1)), atol=1e-12)
    np.testing.assert_array_equal(kept.kept, values[:, ::2])


def test_under_the_budget_every_draw_is_summarised_as_before() -> None:
    values = _draws()
    every = hd.HouseholdDraws.of(xr.DataArray(values, dims=("chain", "draw", "household", "f")))
    assert every.kept is values or np.shares_memory(every.kept, values)
    ours, theirs = every.summary(), bs.summarise(values)
    for field in ("mean", "sd", "hdi_low", "hdi_high", "r_hat"):
        np.testing.assert_allclose(getattr(ours, field), getattr(theirs, field), rtol=1e-12)


def test_thinning_fits_the_budget_but_keeps_enough_draws() -> None:
    # 8,403 households × 2 factors × 4 chains × 5,000 draws: 2.7 GB as float64
    assert hd.draws_mb(4, 5000, 8403 * 2) > 2500
    thin = hd.thinning(4, 5000, 8403 * 2, budget_mb=256)
    assert hd.draws_mb(4, -(-5000 // thin), 8403 * 2) <= 256
    # never fewer than MIN_KEPT_DRAWS per chain
    assert hd.thinning(2, 300, 10**6, budget_mb=1) == 3


def test_the_netcdf_keeps_thinned_household_draws_in_their_own_group() -> None:
    import arviz as az

    values = _draws()
    idata = az.from_dict(posterior={"mu": np.zeros((2, 300))})
    hd.attach(idata, {"scores": _fed(values, thin=3)})
    assert "scores" not in idata["posterior"]
    group = idata["household_draws"]
    assert group["scores"].dtype == np.float32 and group.attrs["thinned_every"] == 3
    whole = az.from_dict(posterior={"mu": np.zeros((2, 300))})
    every = xr.DataArray(values, dims=("chain", "draw", "household", "factor"), name="scores")
    hd.attach(whole, {"scores": hd.HouseholdDraws.of(every)})
    assert whole["posterior"]["scores"].shape == values.shape


# -- whole fits -------------------------------------------------------------------------------


def _factor_data(n: int = 300, p: int = 8) -> BinaryMatrix:
    rng = np.random.default_rng(1)
    loadings = np.zeros((p, 2))
    loadings[: p // 2, 0] = loadings[p // 2 :, 1] = 1.5
    scores = rng.standard_normal((n, 2))
    y = (rng.random((n, p)) < 1 / (1 + np.exp(-(scores @ loadings.T - 0.3)))).astype(float)
    return BinaryMatrix(values=y, products=[f"prod_{j + 1}" for j in range(p)])


def _fit_twice(fit: Any, data: BinaryMatrix, params: Any, monkeypatch: Any) -> tuple[Any, Any]:
    """The same fit (same seed) with the default budget and with one too small for its
    per-household draws."""
    whole = fit(data, params, no_progress)
    monkeypatch.setattr(get_settings(), "nuts_draws_memory_mb", 0.05)
    bounded = fit(data, params, no_progress)
    return whole, bounded


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_a_factor_fit_past_the_budget_gives_the_same_posterior(
    sampler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.models.bayes import factor_nuts

    data = _factor_data()
    # Unrotated: past the budget the scores' moments are accumulated draw by draw as sampled;
    # rotated ones (rotation="varimax", the default) need each draw's rotation, known only
    # after sampling, so past the budget they come from the kept (thinned) draws instead
    # (docs/bayesian.md) and agree only within Monte Carlo error.
    params = BayesianFactorPymcParams(
        n_factors=2,
        draws=400,
        tune=300,
        chains=2,
        random_state=5,
        sampler=sampler,
        rotation="none",
    )
    whole, bounded = _fit_twice(factor_nuts.fit, data, params, monkeypatch)
    # The same draws: the global parameters and the scores' means agree exactly
    np.testing.assert_allclose(bounded.loadings, whole.loadings, atol=1e-12)
    columns = ["factor_1", "factor_2", "factor_1_sd", "factor_2_sd"]
    np.testing.assert_allclose(bounded.rows[columns], whole.rows[columns], atol=1e-9)
    # the intervals, from every 4th draw, within Monte Carlo error of all draws'
    for column in ("factor_1_hdi_low", "factor_2_hdi_high"):
        assert np.abs(bounded.rows[column] - whole.rows[column]).mean() < 0.25
    # and the artifact holds the thinned draws in their own group, the globals in posterior
    stored = load_posterior(bounded.artifacts["posterior"].data)
    assert "scores" not in stored["posterior"] and stored["posterior"]["loadings"].shape[1] == 400
    assert stored["household_draws"].attrs["thinned_every"] == 4
    assert stored["household_draws"]["scores"].shape == (2, 100, 300, 2)
    assert load_posterior(whole.artifacts["posterior"].data)["posterior"]["scores"].shape[1] == 400


@pytest.mark.slow
def test_a_choice_model_past_the_budget_gives_the_same_random_intercepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.models.bayes import dcm

    data = _factor_data(n=250, p=6)
    params = DCMParams(draws=300, tune=300, chains=2, random_state=2)
    whole, bounded = _fit_twice(dcm.fit, data, params, monkeypatch)
    intercepts = [r.mean for r in whole.intercepts]
    np.testing.assert_allclose([r.mean for r in bounded.intercepts], intercepts, atol=1e-12)
    np.testing.assert_allclose(
        bounded.rows["household_intercept"], whole.rows["household_intercept"], atol=1e-9
    )
    stored = load_posterior(bounded.artifacts["posterior"].data)
    assert "household_intercept" in stored["household_draws"]
    assert not any("household" in stored["posterior"][v].dims for v in stored["posterior"])
