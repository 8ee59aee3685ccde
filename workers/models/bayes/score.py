"""Scoring new households with a finished Bayesian factor model (`bayesian_factor_pymc`,
`bayesian_factor_vi`): each household's posterior mean factor scores and their sd.

A new household's factors z have the model's prior N(0, I); given its observed purchases and
the fitted parameters, p(z | y) ∝ Σ_s p(y | z, a_s, Λ_s) N(z; 0, I), averaged over the thinned
posterior draws s of the intercepts and loadings kept with the result (so parameter uncertainty
counts), integrated on the fit's own nodes (Gauss–Hermite grids for one or two factors,
scrambled Sobol points above). Missing cells drop out. The fit's stored scores come from
sampling every household jointly with the parameters; these agree with them within Monte
Carlo error (tests/test_scoring.py), not to the digit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from backend.errors import DataError
from workers.models.base import BinaryMatrix, Progress
from workers.models.bayes import summary as bs
from workers.models.scoring import Scored, ScoreFunction, check_binary, chunks

HDI_Z = 1.880793608  # 94% central interval of a normal (the fit's Gaussian intervals)
# Households per chunk: a chunk's households × nodes work array stays a few MB.
CHUNK = 4096


def stored_draws(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, str]:
    """The thinned posterior draws kept with the result: intercepts (draws × p), loadings
    (draws × p × K) and the link."""
    stored = result.get("scoring")
    if not stored:
        raise DataError(
            "This Bayesian factor model was fitted before scoring existed; refit it to score "
            "households."
        )
    a = np.asarray(stored["intercept"], dtype=np.float64)
    lam = np.asarray(stored["loadings"], dtype=np.float64)
    return a, lam, str(stored["link"])


def score(data: BinaryMatrix, result: dict[str, Any], progress: Progress) -> Scored:
    check_binary(data)
    a, lam, link = stored_draws(result)
    k = lam.shape[2]
    nodes, logw = bs.latent_nodes(k)
    observed = ~np.isnan(data.values)
    y1 = np.where(observed, data.values, 0.0)
    y0 = observed - y1
    n = data.n_rows
    mean = np.empty((n, k))
    sd = np.empty((n, k))
    # Per draw, log P(y = 1) and P(y = 0) at every node: nodes × products.
    logs = [bs.log_cdf(a[s] + nodes @ lam[s].T, link) for s in range(a.shape[0])]
    for start, stop in chunks(n, CHUNK):
        top = np.full(stop - start, -np.inf)
        s0 = np.zeros(stop - start)
        s1 = np.zeros((stop - start, k))
        s2 = np.zeros((stop - start, k))
        for l1, l0 in logs:
            ll = y1[start:stop] @ l1.T + y0[start:stop] @ l0.T + logw  # households × nodes
            new_top = np.maximum(top, ll.max(axis=1))
            scale = np.exp(top - new_top)
            e = np.exp(ll - new_top[:, None])
            s0 = s0 * scale + e.sum(axis=1)
            s1 = s1 * scale[:, None] + e @ nodes
            s2 = s2 * scale[:, None] + e @ nodes**2
            top = new_top
        mean[start:stop] = s1 / s0[:, None]
        sd[start:stop] = np.sqrt(np.maximum(s2 / s0[:, None] - mean[start:stop] ** 2, 0.0))
        progress(stop / n, f"Scored {stop:,} of {n:,} households.")
    rows = pd.DataFrame(index=range(n))
    for j in range(k):
        rows[f"factor_{j + 1}"] = mean[:, j]
        rows[f"factor_{j + 1}_sd"] = sd[:, j]
        rows[f"factor_{j + 1}_hdi_low"] = mean[:, j] - HDI_Z * sd[:, j]
        rows[f"factor_{j + 1}_hdi_high"] = mean[:, j] + HDI_Z * sd[:, j]
    return Scored(rows)


_checked: ScoreFunction = score
