"""Factor solutions that line up (issue 18, item 4): every posterior draw rotated to the varimax
solution of the posterior mean, scores with it, so Bayesian loadings compare with the
tetrachoric factor analysis."""

from __future__ import annotations

import numpy as np
from scipy.stats import special_ortho_group

from workers.models.bayes import factor_model as fm
from workers.models.bayes.household_draws import HouseholdDraws
from workers.models.factor.rotation import rotate


def simple_structure(p: int = 8) -> np.ndarray:
    """Link-scale loadings: products 0-3 on factor A, 4-7 on factor B, small cross-loadings."""
    lam = np.full((p, 2), 0.15)
    lam[: p // 2, 0], lam[p // 2 :, 1] = 2.0, 1.4
    return lam


def test_draws_in_any_orientation_come_back_to_one_varimax_solution() -> None:
    rng = np.random.default_rng(5)
    truth = simple_structure()
    chains, draws = 2, 300
    loadings = np.empty((chains, draws, 8, 2))
    scores = rng.standard_normal((chains, draws, 50, 2))
    products = np.empty((chains, draws, 50, 8))
    for c in range(chains):
        for d in range(draws):
            # Each draw: the truth plus noise, in an arbitrary rotation and reflection.
            q = special_ortho_group.rvs(2, random_state=rng) @ np.diag(rng.choice([-1, 1], 2))
            loadings[c, d] = (truth + rng.normal(0, 0.05, truth.shape)) @ q
            products[c, d] = scores[c, d] @ loadings[c, d].T
    alignment = fm.varimax_alignment(loadings, "logit")
    rotated = fm.apply_alignment(alignment, loadings, scores)
    std = fm.standardised(rotated, "logit")
    expected = rotate(fm.standardised(truth, "logit"), "varimax").loadings
    assert np.abs(std.mean(axis=(0, 1)) - expected).max() < 0.02
    # One orientation: the draws' spread is the noise, not the rotation (sd ~ 0.05 on the link
    # scale, about 0.01 standardised), where the unaligned draws spread over ±1.
    assert std.std(axis=(0, 1)).max() < 0.03
    assert fm.standardised(loadings, "logit").std(axis=(0, 1)).min() > 0.3
    # Scores turned with their loadings: scores × loadingsᵀ is unchanged in every draw.
    assert np.allclose(np.einsum("cdnk,cdpk->cdnp", scores, rotated), products)
    assert alignment.rotations.shape == (chains, draws, 2, 2)
    eye = np.einsum("cdkl,cdml->cdkm", alignment.rotations, alignment.rotations)
    assert np.allclose(eye, np.eye(2))


def test_kept_household_draws_rotate_and_their_moments_follow() -> None:
    rng = np.random.default_rng(6)
    values = rng.standard_normal((2, 40, 30, 2)) + np.array([1.0, -2.0])
    thinned = HouseholdDraws("scores", 2, 40, ("household", "factor"), {}, shape=(30, 2), thin=4)
    for c in range(2):
        thinned.add(c, 0, values[c])
    swap = np.broadcast_to(np.array([[0.0, 1.0], [1.0, 0.0]]), (2, 40, 2, 2))
    thinned.rotate(swap)
    mean, _ = thinned.mean_sd()
    kept = values[:, ::4][..., ::-1]
    assert np.allclose(thinned.kept, kept)
    assert np.allclose(mean, kept.mean(axis=(0, 1)))
    whole = HouseholdDraws("scores", 2, 40, ("household", "factor"), {}, kept=values.copy())
    whole.rotate(swap)
    assert np.allclose(whole.mean_sd()[0], values[..., ::-1].mean(axis=(0, 1)))
