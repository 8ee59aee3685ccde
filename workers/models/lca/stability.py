"""How stable the segments are: refit on bootstrap resamples of the households and see whether
the same segments come back (Hennig 2007, `fpc::clusterboot`, adapted to latent classes).

Each resample draws N households with replacement (multinomial weights on the design rows, so a
pattern layout stays a pattern layout) and is fitted with the same number of classes by the start
search of `fit` with a smaller budget (rounds from n_init starts until the best is replicated, at
most RESAMPLE_STARTS·n_init starts, without the extra starts cheap data get). Its classes are
aligned to the full-data classes by Hungarian matching on the item probabilities (and shares);
every household of the data is then assigned by both models (modal class), and

* the adjusted Rand index (Hubert & Arabie 1985) compares the two assignments as a whole;
* each full-data segment's Jaccard index |A ∩ B| / |A ∪ B| with its matched resample segment says
  whether that segment reappears (Jaccard ≥ 0.5, Hennig's "dissolved" below) and how well (mean
  Jaccard ≥ 0.75: stable).

Households are counted with their weights throughout.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend.schemas.lca import LCAParams, SegmentStability, SegmentStabilityRow
from workers.models.base import Progress
from workers.models.lca.engine import Design, posterior, search

REAPPEARS = 0.5  # Jaccard at or above: the segment came back (below: dissolved)
STABLE = 0.75  # mean Jaccard at or above: stable (Hennig's rule of thumb)
UNSTABLE_ARI = 0.65  # below this mean ARI the segmentation as a whole is called unstable
RESAMPLE_STARTS = 4  # a resample's start budget is this many times n_init


def adjusted_rand(a: np.ndarray, b: np.ndarray, w: np.ndarray, k: int) -> float:
    """ARI of two labelings (0..k−1) of the same rows, each row counted w times."""
    table = np.zeros((k, k))
    np.add.at(table, (a, b), w)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1)).sum() / 2)

    n = float(w.sum())
    total = n * (n - 1) / 2
    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / total if total > 0 else 0.0
    top = (rows + cols) / 2
    if top == expected:
        return 1.0
    return float((index - expected) / (top - expected))


def resampled(design: Design, weights: np.ndarray) -> Design:
    """The design with other household weights (its blocks rebuilt with them)."""
    out = dataclasses.replace(design, weights=weights, total_weight=float(weights.sum()), _cache={})
    if design.sparse_blocks is not None:
        out.sparse_blocks = [
            dataclasses.replace(b, w=weights[b.start : b.stop]) for b in design.sparse_blocks
        ]
    return out


def align(theta: np.ndarray, pi: np.ndarray, theta_b: np.ndarray, pi_b: np.ndarray) -> np.ndarray:
    """perm[a] = the resample class matched to full-data class a (Hungarian, on the mean
    absolute difference of item probabilities plus that of the shares)."""
    cost = np.abs(theta[:, None, :] - theta_b[None, :, :]).mean(axis=2)
    cost += np.abs(pi[:, None] - pi_b[None, :])
    _, perm = linear_sum_assignment(cost)
    return perm


def stability(
    design: Design,
    theta: np.ndarray,
    pi: np.ndarray,
    params: LCAParams,
    seed: int,
    progress: Progress,
    span: tuple[float, float] = (0.0, 1.0),
) -> SegmentStability:
    """Bootstrap stability of the k-class solution (θ: k × p, π: k, ordered) on `design`."""
    k = theta.shape[0]
    B = params.stability_samples
    lo, hi = span
    w = design.weights
    N = design.total_weight
    post, _ = posterior(design, theta, np.log(pi))
    full = post.argmax(axis=1)
    root = np.random.SeedSequence([seed, k, 104729])
    budget = max(params.n_init, min(params.max_starts, RESAMPLE_STARTS * params.n_init))
    aris: list[float] = []
    jaccard = np.zeros((B, k))
    began = time.monotonic()
    for b, child in enumerate(root.spawn(B)):
        if b >= 2 and params.max_seconds and time.monotonic() - began >= params.max_seconds:
            break  # the time budget: the resamples done so far are the answer (said below)
        rng = np.random.default_rng(child)
        wb = rng.multinomial(round(N), w / w.sum()).astype(np.float64)
        d = resampled(design, wb)
        seeds = [int(s) for s in child.generate_state(budget)]
        out = search(
            d,
            k,
            seeds,
            n_init=params.n_init,
            max_iter=params.max_iter,
            tol=params.tol,
            n_final=params.n_final or max(2, -(-params.n_init // 4)),
            stage1_iter=params.stage1_iter,
            replicate=params.replicate,
        )
        pi_b = np.exp(out.log_pi)
        perm = align(theta, pi, out.theta, pi_b)
        post_b, _ = posterior(design, out.theta, out.log_pi)
        inverse = np.empty(k, dtype=np.int64)
        inverse[perm] = np.arange(k)
        labels = inverse[post_b.argmax(axis=1)]  # resample class → matched full-data class
        aris.append(adjusted_rand(full, labels, w, k))
        for a in range(k):
            both = w[(full == a) & (labels == a)].sum()
            either = w[(full == a) | (labels == a)].sum()
            jaccard[b, a] = both / either if either > 0 else 0.0
        progress(
            lo + (hi - lo) * (b + 1) / B,
            f"Stability: resample {b + 1} of {B}, adjusted Rand index {aris[-1]:.2f}.",
            force=True,
            details={"stability_sample": b + 1, "stability_samples": B},
        )
    summary = summarise_stability(aris, jaccard[: len(aris)])
    if len(aris) < B:
        summary.verdict += (
            f" (The time budget max_seconds={params.max_seconds:g} stopped the check after "
            f"{len(aris)} of {B} resamples.)"
        )
    return summary


def summarise_stability(aris: list[float], jaccard: np.ndarray) -> SegmentStability:
    k = jaccard.shape[1]
    rows = [
        SegmentStabilityRow(
            segment=f"Class {a + 1}",
            mean_jaccard=float(jaccard[:, a].mean()),
            reappears=float((jaccard[:, a] >= REAPPEARS).mean()),
            stable=bool(jaccard[:, a].mean() >= STABLE),
        )
        for a in range(k)
    ]
    ari = np.asarray(aris)
    mean = float(ari.mean())
    weak = [r for r in rows if not r.stable]
    if mean < UNSTABLE_ARI or len(weak) == k:
        verdict = (
            f"The segments are unstable: refitted on {len(ari)} resamples of the households "
            f"they agree with this solution only at adjusted Rand index {mean:.2f} "
            "(1 = the same segments); do not read much into them — try fewer segments."
        )
    elif weak:
        names = ", ".join(f"{r.segment} reappears in {r.reappears:.0%} of resamples" for r in weak)
        verdict = (
            f"Most segments are stable (adjusted Rand index {mean:.2f} over {len(ari)} "
            f"resamples), but not all: {names}."
        )
    else:
        lowest = min(rows, key=lambda r: r.reappears)
        verdict = (
            f"The segments are stable: refitted on {len(ari)} resamples they come back with "
            f"adjusted Rand index {mean:.2f}; every segment reappears in at least "
            f"{lowest.reappears:.0%} of resamples."
        )
    return SegmentStability(
        n_samples=len(ari),
        ari_mean=mean,
        ari_low=float(np.quantile(ari, 0.05)),
        ari=[float(x) for x in ari],
        segments=rows,
        verdict=verdict,
    )
