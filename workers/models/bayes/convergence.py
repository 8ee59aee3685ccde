"""Whether a NUTS run can be trusted, in words and in pictures.

`verdict`: each check (R-hat, bulk and tail ESS, divergences, E-BFMI, tree depth) against its
limit, and one sentence: "Converged: …" or "Not converged: <what failed> — <what to do>".

`trace_plots`: what the trace, rank and energy plots are drawn from, computed here on the worker
so the API and the app only draw: the key global parameters (the largest R-hat and the smallest
bulk ESS: the ones a person should look at), their draws thinned to at most TRACE_POINTS per
chain with every divergent draw kept, rank histograms per chain over every draw (Vehtari et al.
2021, "Rank-normalization, folding, and localization": the draws of all chains ranked together;
with chains that mix, each chain's ranks are uniform), and the energy of the draws.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

from backend.schemas.bayesian import ConvergenceCheck, SamplingDiagnostics, TracePlots, Verdict

if TYPE_CHECKING:
    from workers.models.bayes.sampling import SamplingOutcome
    from workers.models.bayes.summary import Summary

R_HAT_LIMIT = 1.01
ESS_PER_CHAIN = 100
BFMI_LIMIT = 0.3
TREE_DEPTH_SHARE = 0.01
KEY_PARAMETERS = 6  # at most; half by R-hat, half by ESS
TRACE_POINTS = 500  # per chain
TRACE_TOTAL = 4000  # per parameter, over all chains
ENERGY_POINTS = 1000  # per chain
RANK_BINS = 20


# ---------------------------------------------------------------------------------------------
# The verdict


def verdict(diag: SamplingDiagnostics) -> Verdict:
    """Each check with its limit and, when it failed, what to do; one sentence for the run."""
    chains = max(1, diag.chains)
    ess_limit = float(ESS_PER_CHAIN * chains)
    ess_values = [v for v in (diag.min_ess_bulk, diag.min_ess_tail) if v is not None]
    ess = min(ess_values) if ess_values else None
    depth_share = (
        None
        if diag.max_treedepth_hits is None
        else diag.max_treedepth_hits / max(1, chains * diag.draws)
    )
    r_hat_advice = (
        "Run at least 2 chains so R-hat can be measured."
        if diag.max_r_hat is None
        else f"The chains disagree (worst: {diag.max_r_hat_parameter}): run more tune and "
        "draws; if it persists, the model may be weakly identified (use fewer factors)."
    )
    checks = [
        ConvergenceCheck(
            check="R-hat",
            value=diag.max_r_hat,
            limit=R_HAT_LIMIT,
            passed=diag.max_r_hat is not None and diag.max_r_hat <= R_HAT_LIMIT,
            advice=r_hat_advice,
        ),
        ConvergenceCheck(
            check="ESS",
            value=ess,
            limit=ess_limit,
            passed=ess is not None and ess >= ess_limit,
            advice=f"Too few effective draws for stable means and 94% intervals (want ≥ "
            f"{ess_limit:.0f}): increase draws.",
        ),
        ConvergenceCheck(
            check="divergences",
            value=None if diag.divergences is None else float(diag.divergences),
            limit=0.0,
            passed=not diag.divergences,
            advice="Divergent transitions mean the sampler missed part of the posterior (the "
            "red marks in the trace plot): raise target_accept to 0.95 or 0.99; if they "
            "remain, simplify the model.",
        ),
        ConvergenceCheck(
            check="E-BFMI",
            value=diag.min_bfmi,
            limit=BFMI_LIMIT,
            passed=diag.min_bfmi is None or diag.min_bfmi >= BFMI_LIMIT,
            advice="The energy plot's two distributions differ: warm-up did not adapt well; "
            "increase tune.",
        ),
        ConvergenceCheck(
            check="tree depth",
            value=depth_share,
            limit=TREE_DEPTH_SHARE,
            passed=depth_share is None or depth_share <= TREE_DEPTH_SHARE,
            advice="Many draws hit the maximum tree depth: sampling is slow and may not "
            "explore; look for weakly identified parameters (too many factors).",
        ),
    ]
    for check in checks:
        if check.passed:
            check.advice = ""
    failed = [c.check for c in checks if not c.passed]
    if not failed:
        text = (
            f"Converged: R-hat ≤ {R_HAT_LIMIT}, bulk and tail ESS ≥ {ess_limit:.0f}, no "
            f"divergent transitions, E-BFMI ≥ {BFMI_LIMIT}."
        )
        return Verdict(status="converged", failed=[], text=text, checks=checks)
    parts = [f"{_said(c)}: {c.advice}" for c in checks if not c.passed]
    text = "Not converged. " + " ".join(parts)
    return Verdict(status="not converged", failed=failed, text=text, checks=checks)


def _said(check: ConvergenceCheck) -> str:
    value = check.value
    if check.check == "R-hat":
        return "R-hat not measured" if value is None else f"R-hat {value:.3f} > {check.limit}"
    if check.check == "ESS":
        return "ESS not measured" if value is None else f"ESS {value:.0f} < {check.limit:.0f}"
    if check.check == "divergences":
        return f"{value:.0f} divergent transition{'s' if value != 1 else ''}"
    if check.check == "E-BFMI":
        return f"E-BFMI {value:.2f} < {check.limit}"
    return f"{(value or 0):.0%} of draws at the maximum tree depth"


# ---------------------------------------------------------------------------------------------
# Plot data


def key_parameters(
    summaries: Mapping[str, tuple[Summary, Sequence[str]]], draws: Mapping[str, np.ndarray]
) -> list[tuple[str, str, int]]:
    """(name, summary key, flat index) of the parameters to plot: the largest R-hat first, then
    the smallest bulk ESS, at most KEY_PARAMETERS; only those whose draws are at hand."""
    candidates: list[tuple[str, str, int, float, float]] = []
    for key, (summary, names) in summaries.items():
        if key not in draws or summary.ess_bulk is None:
            continue
        ess = np.asarray(summary.ess_bulk, dtype=np.float64).ravel()
        r_hat = (
            np.full(ess.shape, np.nan)
            if summary.r_hat is None
            else np.asarray(summary.r_hat, dtype=np.float64).ravel()
        )
        for i in range(ess.size):
            if np.isfinite(ess[i]):
                rh = float(r_hat[i]) if np.isfinite(r_hat[i]) else 1.0
                candidates.append((names[i], key, i, rh, float(ess[i])))
    chosen: list[tuple[str, str, int]] = []
    half = KEY_PARAMETERS // 2
    by_r_hat = sorted(candidates, key=lambda c: (-c[3], c[4]))
    by_ess = sorted(candidates, key=lambda c: (c[4], -c[3]))
    for ordered, wanted in ((by_r_hat, half), (by_ess, KEY_PARAMETERS)):
        for name, key, i, _, _ in ordered:
            if len(chosen) >= wanted:
                break
            if (name, key, i) not in chosen:
                chosen.append((name, key, i))
    return chosen


def rank_counts(values: np.ndarray, bins: int = RANK_BINS) -> np.ndarray:
    """(chain, bins) counts of each chain's draws by their rank among all chains' draws."""
    chains, draws = values.shape
    ranks = rankdata(values.ravel(), method="average").reshape(chains, draws)
    edges = np.linspace(0.5, chains * draws + 0.5, bins + 1)
    return np.stack([np.histogram(ranks[c], bins=edges)[0] for c in range(chains)])


def _bfmi(energy: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.square(np.diff(energy, axis=1)).mean(axis=1) / energy.var(axis=1)


def trace_plots(
    outcome: SamplingOutcome,
    draws: Mapping[str, np.ndarray],
    summaries: Mapping[str, tuple[Summary, Sequence[str]]],
) -> TracePlots | None:
    """Plot data for the key parameters of a NUTS run (None when none has an ESS)."""
    chosen = key_parameters(summaries, draws)
    if not chosen:
        return None
    stats = outcome.idata["sample_stats"]
    series = [
        np.asarray(draws[key], dtype=np.float64).reshape(*draws[key].shape[:2], -1)[:, :, i]
        for _, key, i in chosen
    ]
    chains, n_draws = series[0].shape
    diverging = (
        np.asarray(stats["diverging"].values, dtype=bool)
        if "diverging" in stats
        else np.zeros((chains, n_draws), dtype=bool)
    )
    per_chain = min(TRACE_POINTS, max(50, TRACE_TOTAL // chains))
    thin = max(1, math.ceil(n_draws / per_chain))
    chain_of: list[int] = []
    draw_of: list[int] = []
    divergent: list[bool] = []
    for c in range(chains):
        keep = np.zeros(n_draws, dtype=bool)
        keep[::thin] = True
        keep |= diverging[c]
        index = np.flatnonzero(keep)
        chain_of += [c] * index.size
        draw_of += index.tolist()
        divergent += diverging[c, index].tolist()
    chain_index = np.asarray(chain_of)
    draw_index = np.asarray(draw_of)
    values = [s[chain_index, draw_index].round(5).tolist() for s in series]
    energy = transition = bfmi = None
    if "energy" in stats:
        e = np.asarray(stats["energy"].values, dtype=np.float64)
        if e.shape[1] >= 2 and np.isfinite(e).all():
            step = max(1, math.ceil(e.shape[1] / ENERGY_POINTS))
            centred = e - e.mean(axis=1, keepdims=True)
            energy = centred[:, ::step].round(4).tolist()
            transition = np.diff(e, axis=1)[:, ::step].round(4).tolist()
            bfmi = [round(float(b), 4) for b in _bfmi(e)]
    return TracePlots(
        parameters=[name for name, _, _ in chosen],
        chain=chain_of,
        draw=draw_of,
        divergent=divergent,
        values=values,
        thinned_every=thin,
        rank_bins=RANK_BINS,
        rank_counts=[rank_counts(s).tolist() for s in series],
        energy=energy,
        energy_transition=transition,
        bfmi=bfmi,
        divergences_per_chain=diverging.sum(axis=1).astype(int).tolist(),
    )
