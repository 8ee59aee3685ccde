"""Bayesian factor model (NUTS and VI): the pieces alone (fast) and recovery of known loadings
from small simulated data (slow: compiling and sampling take tens of seconds)."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from backend.errors import DataError
from backend.families import family
from backend.presentation.tables import result_tables
from backend.progress import RunCancelled
from backend.schemas.bayesian import (
    BayesianFactorPymcParams,
    BayesianFactorResult,
    BayesianFactorVIParams,
)
from tests.support.families import NUTS_PARAMETERS
from tests.support.posterior import load_posterior
from workers.executor import stored_payload
from workers.models.base import BinaryMatrix
from workers.models.bayes import factor_model as fm
from workers.models.bayes import summary as bs
from workers.models.bayes.sampling import _report_nutpie
from workers.models.progress import Span


@dataclass
class Simulated:
    data: BinaryMatrix
    loadings: np.ndarray  # link scale, products × factors
    intercepts: np.ndarray
    scores: np.ndarray


def simulate(n: int = 300, p: int = 8, seed: int = 1, missing: float = 0.0) -> Simulated:
    """Two factors, each loading 1.5 (logit scale) on half of the products."""
    rng = np.random.default_rng(seed)
    loadings = np.zeros((p, 2))
    loadings[: p // 2, 0] = 1.5
    loadings[p // 2 :, 1] = 1.5
    intercepts = rng.normal(-0.4, 0.4, p)
    scores = rng.standard_normal((n, 2))
    prob = 1 / (1 + np.exp(-(intercepts + scores @ loadings.T)))
    y = (rng.random((n, p)) < prob).astype(float)
    if missing:
        y[rng.random((n, p)) < missing] = np.nan
        y[np.isnan(y).all(axis=1), 0] = 1.0
    products = [f"prod_{j + 1}" for j in range(p)]
    return Simulated(BinaryMatrix(values=y, products=products), loadings, intercepts, scores)


class Recorder:
    """A Progress that records every call and can cancel after a condition."""

    def __init__(self, cancel_when: Any = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.cancel_when = cancel_when
        self.cancelled_at: float | None = None

    def __call__(self, fraction: float, message: str, **fields: Any) -> None:
        self.calls.append({"fraction": fraction, "message": message, **fields})
        if self.cancelled_at is not None:
            raise RunCancelled("test")
        if self.cancel_when is not None and self.cancel_when(fraction, fields):
            self.cancelled_at = time.monotonic()
            raise RunCancelled("test")

    def phases(self) -> list[str]:
        return [str(c.get("phase", "fitting")) for c in self.calls]


# ---------------------------------------------------------------------------------------------
# Fast: parameters, data checks and the numerical pieces


def test_params_have_design_names_ranges_and_refuse_typos() -> None:
    schema = BayesianFactorPymcParams.model_json_schema()["properties"]
    assert {"n_factors", *NUTS_PARAMETERS} <= set(schema)
    assert BayesianFactorPymcParams().sampler == "nutpie"
    with pytest.raises(ValidationError):
        BayesianFactorPymcParams(target_accept=1.5)
    with pytest.raises(ValidationError):
        BayesianFactorPymcParams(n_factor=2)  # type: ignore[call-arg]
    vi = BayesianFactorVIParams.model_json_schema()["properties"]
    assert {"max_iter", "learning_rate", "batch_size", "draws", "method"} <= set(vi)


def test_prepare_refuses_data_it_cannot_fit() -> None:
    sim = simulate(n=100, p=4)
    with pytest.raises(DataError, match="n_factors=4"):
        fm.prepare(sim.data, 4)
    values = sim.data.values.copy()
    values[:, 2] = np.nan
    with pytest.raises(DataError, match="prod_3"):
        fm.prepare(BinaryMatrix(values=values, products=sim.data.products), 1)
    values = sim.data.values.copy()
    values[5, :] = np.nan
    with pytest.raises(DataError, match="no observed product"):
        fm.prepare(BinaryMatrix(values=values, products=sim.data.products), 1)


def test_anchors_come_from_different_factors_and_start_is_identified() -> None:
    sim = simulate(n=600, p=8)
    fd = fm.prepare(sim.data, 2)
    assert len(set(fd.anchors)) == 2
    # One anchor from each simulated block of products.
    assert {a // 4 for a in fd.anchors} == {0, 1}
    rows, cols = fm.loading_pattern(fd.p, fd.anchors)
    free = set(zip(rows.tolist(), cols.tolist(), strict=True))
    first, second = fd.anchors
    assert (first, 1) not in free and (first, 0) not in free and (second, 1) not in free
    assert (second, 0) in free and rows.size == fd.p * 2 - 3
    start = fm.spectral_start(fd, "logit")
    assert (start["loading_diag"] > 0).all()
    assert start["scores"].shape == (600, 2)
    assert start["loading_free"].shape == rows.shape


def test_latent_nodes_integrate_standard_normal_moments() -> None:
    for dim in (1, 2, 3):
        nodes, logw = bs.latent_nodes(dim)
        w = np.exp(logw)
        assert w.sum() == pytest.approx(1.0)
        assert np.abs(w @ nodes).max() < 0.02
        second = (nodes * w[:, None]).T @ nodes
        assert np.abs(second - np.eye(dim)).max() < 0.05


def test_marginal_loglik_matches_monte_carlo() -> None:
    sim = simulate(n=40, p=6, seed=3, missing=0.1)
    fd = fm.prepare(sim.data, 2)
    rng = np.random.default_rng(0)
    a = sim.intercepts[None]
    lam = sim.loadings[None]
    exact = fm.marginal_loglik(fd, np.arange(fd.n), a, lam, "logit")[0]
    z = rng.standard_normal((200_000, 2))
    prob = 1 / (1 + np.exp(-(a[0] + z @ lam[0].T)))
    observed = ~np.isnan(sim.data.values)
    for i in range(5):
        y = sim.data.values[i]
        lik = np.where(observed[i], np.where(y == 1, prob, 1 - prob), 1.0).prod(axis=1)
        assert exact[i] == pytest.approx(np.log(lik.mean()), abs=0.01)


def test_align_chains_flips_a_mirrored_chain() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 2))
    loadings = np.stack([base + 0.01 * rng.normal(size=(50, 5, 2)) for _ in range(2)])
    scores = rng.normal(size=(2, 50, 10, 2))
    loadings[1, :, :, 1] *= -1
    mirrored = scores[1, :, :, 1].copy()
    flipped = fm.align_chains(loadings, scores)
    assert flipped == [[1, 2]]
    assert np.allclose(loadings[1].mean(axis=0), base, atol=0.05)
    assert np.allclose(scores[1, :, :, 1], -mirrored)


def test_standardised_loadings_are_correlations() -> None:
    lam = np.array([[1.0, 0.0], [2.0, 1.0]])
    std = fm.standardised(lam, "probit")
    assert std[0, 0] == pytest.approx(1 / np.sqrt(2))
    assert ((std**2).sum(axis=1) < 1).all()


def test_comparison_scales_a_household_subsample() -> None:
    rng = np.random.default_rng(1)
    ll = rng.normal(-5, 0.2, size=(2, 100, 50))
    full = bs.comparison_from_loglik(ll, 50, "test")
    assert full.n_households_used == 50 and full.looic == pytest.approx(-2 * full.elpd_loo)
    assert full.elpd_loo == pytest.approx(full.elpd_waic, rel=1e-2)
    scaled = bs.comparison_from_loglik(ll, 500, "test")
    assert scaled.elpd_loo == pytest.approx(full.elpd_loo * 10)
    assert scaled.se_loo > full.se_loo


def test_predictive_check_and_its_warning() -> None:
    replicated = np.random.default_rng(0).normal([0.2, 0.5], 0.01, size=(200, 2))
    rows = bs.predictive_check(["a", "b"], np.array([0.2, 0.9]), replicated)
    assert 0.1 < rows[0].p_value < 0.9 and rows[1].p_value == 0.0
    assert rows[0].replicated_low < 0.2 < rows[0].replicated_high
    assert "b" in bs.predictive_warnings(rows)[0]


def test_nutpie_progress_text_becomes_a_progress_message() -> None:
    recorder = Recorder()
    text = json.dumps(
        {
            "total": 400,
            "done": 150,
            "chains": [
                {
                    "done": 100,
                    "total": 200,
                    "divergences": 1,
                    "tuning": "false",
                    "step_size": "0.3",
                },
                {"done": 50, "total": 200, "divergences": 2, "tuning": "true", "step_size": "0.2"},
                None,
            ],
        }
    )
    _report_nutpie(text, recorder, Span(0.0, 1.0), time.monotonic() - 1.0, 400)
    call = recorder.calls[-1]
    assert call["phase"] == "sampling" and call["fraction"] == pytest.approx(150 / 400)
    assert call["chain"] == 1 and call["draw"] == 50 and call["total_draws"] == 400
    assert call["divergences"] == 3 and call["samples_per_second"] > 0
    assert call["details"]["stage"] == "warmup" and len(call["details"]["chains"]) == 2


def test_diagnostic_warnings_say_what_to_do() -> None:
    diag = bs.SamplingDiagnostics(
        method="nuts",
        sampler="nutpie",
        chains=2,
        draws=100,
        tune=100,
        divergences=3,
        max_r_hat=1.2,
        max_r_hat_parameter="loadings[a, Factor 1]",
        min_ess_bulk=20,
        min_ess_tail=30,
        min_bfmi=0.1,
        compile_seconds=1,
        sampling_seconds=1,
    )
    text = " ".join(bs.diagnostic_warnings(diag, None))
    assert "target_accept" in text and "R-hat" in text and "Increase draws" in text
    assert "Increase tune" in text


# ---------------------------------------------------------------------------------------------
# Slow: real fits


def check_recovery(
    result: BayesianFactorResult, sim: Simulated, tolerance: float, nuts: bool = True
) -> None:
    truth = fm.standardised(sim.loadings, "logit")
    got = np.asarray(result.loadings)
    assert got.shape == truth.shape
    # Factors are identified up to their order (anchors follow the principal components).
    order = min(
        itertools.permutations(range(truth.shape[1])),
        key=lambda perm: float(np.abs(got[:, list(perm)] - truth).max()),
    )
    got = got[:, list(order)]
    assert np.abs(got - truth).max() < tolerance, np.round(got, 2)
    # The simulated non-zero loadings are found credible; most zeros are not.
    credible = np.asarray(result.loadings_credible)[:, list(order)]
    assert credible[truth > 0].all()
    if nuts:  # variational intervals are too narrow to promise this
        assert credible[truth == 0].mean() < 0.5


@pytest.mark.slow
def test_nuts_recovers_known_loadings_with_progress_and_posterior() -> None:
    from workers.models.bayes import factor_nuts as bayesian_factor_pymc

    sim = simulate(n=300, p=8, seed=1, missing=0.02)
    recorder = Recorder()
    params = BayesianFactorPymcParams(n_factors=2, draws=400, tune=400, chains=2, random_state=5)
    result = bayesian_factor_pymc.fit(sim.data, params, recorder)

    check_recovery(result, sim, 0.2)
    diag = result.diagnostics
    assert diag.sampler == "nutpie" and diag.max_r_hat is not None and diag.max_r_hat < 1.05
    assert diag.min_ess_bulk is not None and diag.ess_bulk_per_second is not None
    assert diag.compile_seconds > 0 and diag.sampling_seconds > 0
    assert result.comparison is not None and result.comparison.n_households_used == 300
    assert len(result.predictive_check) == 8 and result.n_missing_cells > 0
    assert result.npar == 8 + 8 * 2 - 1 and result.bic > result.aic
    assert all(abs(r.p_value - 0.5) < 0.45 for r in result.predictive_check)
    # Progress: compile first (its own phase), then per-draw sampling messages.
    phases = recorder.phases()
    assert phases.index("loading") < phases.index("sampling")
    assert any(c.get("details", {}).get("stage") == "compiling" for c in recorder.calls)
    draws = [c for c in recorder.calls if c.get("draw")]
    assert draws and draws[-1]["total_draws"] == 2 * 800 and "chain" in draws[-1]
    # Per-household scores keyed by row, and the full posterior as NetCDF.
    rows = result.rows
    assert rows is not None and len(rows) == 300 and rows.columns[0] == "row"
    assert {"factor_1", "factor_1_sd", "factor_2_hdi_low"} <= set(rows.columns)
    corr = np.corrcoef(rows[["factor_1", "factor_2"]].to_numpy().T, sim.scores.T)[:2, 2:]
    assert np.abs(corr).max(axis=1).min() > 0.6
    blob = result.artifacts["posterior"]
    assert blob.content_type == "application/x-netcdf"
    idata = load_posterior(blob.data)
    assert idata["posterior"]["loadings"].shape == (2, 400, 8, 2)
    assert idata["posterior"].attrs["model_type"] == "bayesian_factor_pymc"
    stored = stored_payload(family("bayesian_factor_pymc"), result)
    BayesianFactorResult.model_validate(stored)
    tables = result_tables("bayesian_factor_pymc", stored)
    assert {"loadings", "loadings_intervals", "diagnostics", "predictive_check"} <= set(tables)
    assert len(tables["loadings_intervals"]) == 16
    assert family("bayesian_factor_pymc").embedding(stored).shape == (8, 2)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_cancel_stops_sampling_within_two_seconds(sampler: str) -> None:
    from workers.models.bayes import factor_nuts as bayesian_factor_pymc

    sim = simulate(n=150, p=6, seed=2)
    recorder = Recorder(cancel_when=lambda f, fields: (fields.get("draw") or 0) >= 20)
    params = BayesianFactorPymcParams(
        n_factors=1, draws=5000, tune=5000, chains=2, random_state=1, sampler=sampler
    )
    with pytest.raises(RunCancelled):
        bayesian_factor_pymc.fit(sim.data, params, recorder)
    assert recorder.cancelled_at is not None
    assert time.monotonic() - recorder.cancelled_at < 2.0


@pytest.mark.slow
def test_pymc_sampler_reports_every_draw() -> None:
    from workers.models.bayes import factor_nuts as bayesian_factor_pymc

    sim = simulate(n=150, p=6, seed=3)
    recorder = Recorder()
    params = BayesianFactorPymcParams(
        n_factors=1, draws=150, tune=150, chains=2, random_state=2, sampler="pymc"
    )
    result = bayesian_factor_pymc.fit(sim.data, params, recorder)
    assert result.diagnostics.sampler == "pymc" and result.diagnostics.divergences is not None
    draws = [c for c in recorder.calls if c.get("phase") == "sampling" and c.get("draw")]
    assert len(draws) >= 2 * 300  # the recorder does not throttle: one message per draw
    assert np.asarray(result.loadings).shape == (6, 1)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "batch"), [("advi", None), ("fullrank_advi", 100)])
def test_vi_recovers_known_loadings(method: str, batch: int | None) -> None:
    from workers.models.bayes import factor_vi as bayesian_factor_vi

    sim = simulate(n=400, p=8, seed=4)
    recorder = Recorder()
    params = BayesianFactorVIParams(
        n_factors=2, method=method, batch_size=batch, max_iter=15000, draws=300, random_state=3
    )  # type: ignore[arg-type]
    result = bayesian_factor_vi.fit(sim.data, params, recorder)
    check_recovery(result, sim, 0.2, nuts=False)
    assert result.method == method and result.vi is not None
    assert result.vi.batch_size == (batch or 400) and result.vi.loss_history
    assert result.diagnostics.max_r_hat is None and result.comparison is not None
    losses = [c["details"]["loss"] for c in recorder.calls if "loss" in c.get("details", {})]
    assert losses and losses[-1] < losses[0]
    rows = result.rows
    assert rows is not None and len(rows) == 400
    assert (rows["factor_1_hdi_low"] < rows["factor_1"]).all()
    idata = load_posterior(result.artifacts["posterior"].data)
    assert idata["posterior"]["loadings"].shape == (1, 300, 8, 2)
    assert idata["variational_scores"]["mean"].shape == (400, 2)
    tables = result_tables("bayesian_factor_vi", result.model_dump(mode="json"))
    assert len(tables["vi_loss"]) == len(result.vi.loss_history)
