"""How much of an LDA fit is done, in its unit of work: passes over the data.

A pass (batch EM, or every mini-batch once when online) and a perplexity check (scikit-learn's
E-step over all the data, every `evaluate_every` passes) cost about the same: both are one
E-step per household. After the passes come three more: the final perplexity, the topic mixes
(`transform`) and the log-likelihood (`score`). The fit stops early once perplexity moves less
than `tol` between checks; workers.models.progress projects when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from workers.models.progress import planned_until_settled

# E-steps over all the data after the last pass: final perplexity, transform, score.
FINISH = 3


@dataclass
class LDAWork:
    max_iter: int
    evaluate_every: int
    tol: float
    passes: float = 0.0
    bounds: list[float] = field(default_factory=list)
    finished: bool = False  # the passes are over (early stop or max_iter)

    def checked(self, perplexity: float) -> None:
        self.bounds.append(perplexity)

    def fraction(self) -> float:
        done = self.passes + len(self.bounds)
        if self.finished:
            # The final perplexity is among the bounds; transform and score remain.
            return done / (done + FINISH - 1)
        every = self.evaluate_every
        moves = [((n + 2) * every, abs(b - a)) for n, (a, b) in enumerate(pairwise(self.bounds))]
        planned = planned_until_settled(self.max_iter, moves, self.tol)
        checks = planned // every if every > 0 else 0
        return min(done / (planned + checks + FINISH), 1.0)
