"""The verdict of a NUTS run and the data of its trace, rank and energy plots (issue 18, item 2):
computed from made-up draws whose faults are known, then drawn as the API serves them."""

from __future__ import annotations

import json
from typing import Any

import arviz as az
import numpy as np
import pytest

from backend.families import family
from backend.presentation.charts import ChartView, sections, vega
from backend.presentation.names import units
from backend.schemas.bayesian import SamplingDiagnostics
from tests.ui.fixtures import result
from workers.models.bayes import convergence
from workers.models.bayes import summary as bs
from workers.models.bayes.sampling import SamplingOutcome


def diagnostics(**changes: Any) -> SamplingDiagnostics:
    good: dict[str, Any] = {
        "method": "nuts", "sampler": "nutpie", "chains": 2, "draws": 1000, "tune": 1000,
        "divergences": 0, "max_treedepth_hits": 0, "max_r_hat": 1.002,
        "max_r_hat_parameter": "loadings[a, Factor 1]", "min_ess_bulk": 650.0,
        "min_ess_tail": 700.0, "min_bfmi": 0.9, "compile_seconds": 1.0, "sampling_seconds": 9.0,
    }  # fmt: skip
    return SamplingDiagnostics(**{**good, **changes})


def test_a_clean_run_is_converged_and_says_what_was_checked() -> None:
    said = convergence.verdict(diagnostics())
    assert said.status == "converged"
    assert said.failed == []
    assert said.text.startswith("Converged: R-hat ≤ 1.01, bulk and tail ESS ≥ 200")
    assert all(c.passed and c.advice == "" for c in said.checks)


@pytest.mark.parametrize(
    ("changes", "failed", "words"),
    [
        ({"max_r_hat": 1.08}, ["R-hat"], "R-hat 1.080 > 1.01: The chains disagree (worst: "),
        ({"min_ess_tail": 120.0}, ["ESS"], "ESS 120 < 200: Too few effective draws"),
        ({"divergences": 3}, ["divergences"], "3 divergent transitions: "),
        ({"min_bfmi": 0.2}, ["E-BFMI"], "E-BFMI 0.20 < 0.3: "),
        ({"max_treedepth_hits": 100}, ["tree depth"], "5% of draws at the maximum tree depth"),
        ({"chains": 1, "max_r_hat": None}, ["R-hat"], "Run at least 2 chains"),
        ({"divergences": 1, "max_r_hat": 1.2}, ["R-hat", "divergences"], "target_accept"),
    ],
)
def test_each_failed_check_is_named_with_what_to_do(
    changes: dict[str, Any], failed: list[str], words: str
) -> None:
    said = convergence.verdict(diagnostics(**changes))
    assert said.status == "not converged"
    assert said.failed == failed
    assert said.text.startswith("Not converged. ")
    assert words in said.text
    for check in said.checks:
        assert (check.advice == "") == check.passed


def test_rank_counts_are_flat_for_mixed_chains_and_pile_up_for_a_stuck_one() -> None:
    rng = np.random.default_rng(0)
    mixed = convergence.rank_counts(rng.standard_normal((2, 2000)))
    assert mixed.shape == (2, convergence.RANK_BINS)
    assert mixed.sum() == 4000
    assert np.abs(mixed - 100).max() < 45  # 100 expected per bin; binomial sd about 9.7
    shifted = rng.standard_normal((2, 2000))
    shifted[1] += 1.5
    stuck = convergence.rank_counts(shifted)
    assert stuck[0, :5].sum() > 3 * stuck[1, :5].sum()  # chain 1 sits higher: chain 0 low ranks
    assert stuck[1, -5:].sum() > 3 * stuck[0, -5:].sum()


def fake_run(
    seed: int = 1, chains: int = 2, draws: int = 1200
) -> tuple[SamplingOutcome, dict[str, np.ndarray], dict[str, Any]]:
    """Two parameters mixing well, one whose chains disagree (chain 1 shifted), one slowly
    mixing (AR(1), low ESS); draws 5, 17 and 600 of chain 0 diverge."""
    rng = np.random.default_rng(seed)
    good = rng.standard_normal((chains, draws, 2))
    shifted = rng.standard_normal((chains, draws))
    shifted[1] += 2.0
    slow = np.zeros((chains, draws))
    for t in range(1, draws):
        slow[:, t] = 0.98 * slow[:, t - 1] + rng.standard_normal(chains) * 0.2
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging[0, [5, 17, 600]] = True
    energy = rng.standard_normal((chains, draws)).cumsum(axis=1) * 0.1 + 50
    idata = az.from_dict(
        posterior={"x": good},
        sample_stats={"diverging": diverging, "energy": energy},
    )
    outcome = SamplingOutcome(idata, "nutpie", 1.0, 2.0, chains, draws, 500)
    draws_ = {"good": good, "shifted": shifted, "slow": slow}
    summaries = {
        "good": (bs.summarise(good), ["good[0]", "good[1]"]),
        "shifted": (bs.summarise(shifted), ["shifted"]),
        "slow": (bs.summarise(slow), ["slow"]),
    }
    return outcome, draws_, summaries


def test_plot_data_puts_the_worst_parameters_first_and_keeps_every_divergent_draw() -> None:
    outcome, draws, summaries = fake_run()
    plots = convergence.trace_plots(outcome, draws, summaries)
    assert plots is not None
    assert plots.parameters[0] == "shifted"  # largest R-hat
    assert "slow" in plots.parameters[:3]  # smallest ESS
    assert set(plots.parameters) == {"shifted", "slow", "good[0]", "good[1]"}
    assert plots.thinned_every == 3  # 1,200 draws → at most 500 per chain
    kept0 = [d for c, d in zip(plots.chain, plots.draw, strict=True) if c == 0]
    assert {5, 17, 600} <= set(kept0)  # not multiples of 3: kept because they diverged
    flagged = [d for c, d, v in zip(plots.chain, plots.draw, plots.divergent, strict=True) if v]
    assert sorted(flagged) == [5, 17, 600]
    assert plots.divergences_per_chain == [3, 0]
    shifted = np.asarray(plots.values[0])
    chain = np.asarray(plots.chain)
    assert shifted[chain == 1].mean() - shifted[chain == 0].mean() == pytest.approx(2.0, abs=0.2)
    counts = np.asarray(plots.rank_counts[0])  # (chains, bins), over every draw
    assert counts.sum() == 2400 and counts[0, :10].sum() > 1000
    energy = np.asarray(outcome.idata["sample_stats"]["energy"].values)
    assert plots.energy is not None  # at most 1,000 per chain: every 2nd, centred per chain
    assert plots.energy[1] == pytest.approx((energy[1] - energy[1].mean())[::2], abs=1e-4)
    assert plots.energy_transition is not None
    assert plots.energy_transition[0] == pytest.approx(np.diff(energy[0])[::2], abs=1e-4)
    assert plots.bfmi is not None and len(plots.bfmi) == 2
    expected = az.bfmi(outcome.idata)
    assert plots.bfmi == pytest.approx(list(expected), rel=1e-3)


def view_with_plots(verdict_text: str = "Not converged. R-hat 1.2 > 1.01: …") -> ChartView:
    outcome, draws, summaries = fake_run()
    plots = convergence.trace_plots(outcome, draws, summaries)
    assert plots is not None
    res = result("bayesian_factor_pymc")
    res["trace_plots"] = json.loads(plots.model_dump_json())
    res["diagnostics"]["verdict"] = {"status": "not converged", "text": verdict_text}
    spec = family("bayesian_factor_pymc")
    return ChartView(spec, res, units(spec, res, None))


def test_the_api_serves_trace_rank_and_energy_charts_led_by_the_verdict() -> None:
    view = view_with_plots("Not converged. R-hat 1.200 > 1.01: run more tune.")
    listed = {s.id: s for s in sections(view)}
    assert {"trace", "rank", "energy"} <= set(listed)
    assert listed["trace"].caption.startswith("Not converged. R-hat 1.200 > 1.01: run more tune.")
    trace = vega(view, "trace", {})
    text = json.dumps(trace)
    assert '"tick"' in text and '"line"' in text and "datum.Divergent" in text
    data = [row for rows in trace["datasets"].values() for row in rows]
    assert sum(1 for row in data if row["Divergent"]) == 3 * 4  # 3 draws × 4 parameters
    rank = vega(view, "rank", {})
    assert {row["Chain"] for rows in rank["datasets"].values() for row in rows} == {
        "Chain 1",
        "Chain 2",
    }
    energy = vega(view, "energy", {})
    bars = [row for rows in energy["datasets"].values() for row in rows]
    assert sum(b["Draws"] for b in bars) == 2 * (600 + 600)  # both kinds, 600 kept per chain
    assert "E-BFMI by chain: " in listed["energy"].caption


def test_runs_without_plot_data_get_no_convergence_charts() -> None:
    for model_type in ("bayesian_factor_vi", "factor_tetrachoric"):
        res = result(model_type)
        res.pop("trace_plots", None)
        spec = family(model_type)
        ids = {s.id for s in sections(ChartView(spec, res, units(spec, res, None)))}
        assert not {"trace", "rank", "energy"} & ids
