"""The typing tool of a latent class model: a few products whose answers assign a household
to its segment, as integer points per answer and segment (docs/scoring.md, "Typing tool").

Method. Each answer earns each segment round(100 · (log P(answer | segment) − the smallest
such log over the segments)) points, and every household starts with round(100 · (log
class size − the smallest)): the model's own posterior restricted to the products asked, on a
log scale rounded to hundredths, so adding points is Bayes' rule and a missing answer (no
points) is full information. A household goes to the segment with the most points (the first
on a tie). Products are chosen by forward selection on the model's own classification: starting
from none, add the product whose points raise the share of households assigned their modal
segment the most (the first product on a tie), up to `max_products`. The selection uses the
households not held back; the curve reports the agreement on the held-back households too, and
the expected accuracy there (the mean posterior probability of the segment the tool assigns)
next to the full model's (the mean largest posterior)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE = 100  # points per unit of log-probability: hundredths
# The suggested number of products: the fewest within this much agreement of the most asked.
WITHIN = 0.02


@dataclass
class TypingOutcome:
    order: list[int]  # product indices in the order chosen
    bought: np.ndarray  # products × segments: points for "bought"
    not_bought: np.ndarray  # products × segments: points for "not bought"
    constant: np.ndarray  # segments: starting points
    assigned: np.ndarray  # households × max_products: the tool's segment (0-based) at each k
    holdout: np.ndarray  # bool per household: held back from the selection


def points(theta: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bought, not bought: products × segments, starting points: segments), integers ≥ 0."""
    log_yes, log_no = np.log(theta.T), np.log1p(-theta.T)
    bought = np.rint(SCALE * (log_yes - log_yes.min(axis=1, keepdims=True))).astype(np.int64)
    not_bought = np.rint(SCALE * (log_no - log_no.min(axis=1, keepdims=True))).astype(np.int64)
    log_pi = np.log(pi)
    constant = np.rint(SCALE * (log_pi - log_pi.min())).astype(np.int64)
    return bought, not_bought, constant


def answer_points(
    values: np.ndarray, bought: np.ndarray, not_bought: np.ndarray, j: int
) -> np.ndarray:
    """Households × segments: what product j's answers earn (a missing answer earns none)."""
    x = values[:, j]
    out = np.zeros((len(x), bought.shape[1]), dtype=np.int64)
    out[x == 1] = bought[j]
    out[x == 0] = not_bought[j]
    return out


def select(
    values: np.ndarray,
    theta: np.ndarray,
    pi: np.ndarray,
    modal: np.ndarray,
    max_products: int,
    holdout_share: float,
    seed: int,
) -> TypingOutcome:
    """Forward selection of up to `max_products` products predicting `modal` (0-based segment
    per household; −1 for households without one, which take no part)."""
    n, p = values.shape
    bought, not_bought, constant = points(theta, pi)
    rng = np.random.default_rng(seed)
    holdout = np.zeros(n, dtype=bool)
    holdout[rng.permutation(n)[: round(holdout_share * n)]] = True
    learn = ~holdout & (modal >= 0)
    target, learn_values = modal[learn], values[learn]
    totals = np.tile(constant, (n, 1))
    learn_totals = totals[learn]
    order: list[int] = []
    assigned = np.empty((n, min(max_products, p)), dtype=np.int64)
    for step in range(assigned.shape[1]):
        best, best_hits = -1, -1
        for j in range(p):
            if j in order:
                continue
            trial = learn_totals + answer_points(learn_values, bought, not_bought, j)
            hits = int((trial.argmax(axis=1) == target).sum())
            if hits > best_hits:
                best, best_hits = j, hits
        order.append(best)
        totals += answer_points(values, bought, not_bought, best)
        learn_totals += answer_points(learn_values, bought, not_bought, best)
        assigned[:, step] = totals.argmax(axis=1)
    return TypingOutcome(order, bought, not_bought, constant, assigned, holdout)


def suggested(agreement: list[float]) -> int:
    """The fewest products whose agreement is within WITHIN of the most products'."""
    top = agreement[-1]
    return next(k for k, a in enumerate(agreement, start=1) if a >= top - WITHIN)
