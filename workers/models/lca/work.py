"""How much of a round of LCA starts is done, counted in its unit of work: EM passes per start.

An E-step over the data costs in proportion to the starts it carries (engine.e_pass computes
every start's classes in one product), so the work a round has done is the sum of its starts'
EM iterations, and the work it will do is that plus what each start is still to run: stage 1's
`stage1_iter` iterations for every start, then, for the finalists, their iterations until they
converge. Those are projected from each start's own record: its log-likelihood change falls
as a power of its iterations over its recent past, and that power says how many more reach the
convergence rule; a start that is not converging (a tolerance never met) runs to its cap.
Measured on unstructured data (flat ridges, where the decay slows all along): a straight line
in log |change| against iterations (EM's linear rate) put 50 % of a two-stage fit's progress
at 3 % of its EM passes, the power at 20 %; on data with classes both are within 2 points.
Before stage 2 begins, the best `keep` starts of stage 1 (the ones that go on) are projected
the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from workers.models.lca.engine import POLISH_STARTS, STAGE2_ITER, StartState

# A projection looks back over this share of a start's iterations (at least 6, two SQUAREM
# cycles): recent enough to follow the slowdown on flat stretches, long enough to average out
# SQUAREM's uneven steps.
LOOKBACK = 0.5
MIN_LOOKBACK = 6
# At most e^MAX_GROWTH times its iterations so far (the cap bounds it anyway).
MAX_GROWTH = 30.0


@dataclass
class RoundWork:
    """Work done and planned in one round of starts, updated from the engine's hook calls."""

    n_init: int
    n_final: int
    max_iter: int
    tol: float
    stage1_iter: int = 30
    round: int = -1
    stage: int = 1
    iterations: dict[int, int] = field(default_factory=dict)
    history: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    states: dict[int, StartState] = field(default_factory=dict)
    finalists: set[int] = field(default_factory=set)

    def update(self, states: list[StartState], stage: int) -> None:
        rnd = states[0].round if states else 0
        # A new round, or a new search on the same reporter (a start that went back: the
        # bootstrap LRT fits k − 1 and then k classes).
        restarted = any(s.iterations < self.iterations.get(s.index, 0) for s in states)
        if rnd != self.round or restarted:
            self.round, self.stage = rnd, 1
            self.iterations.clear()
            self.history.clear()
            self.states.clear()
            self.finalists.clear()
        if stage == 2 and self.stage == 1:
            # The hand-over: the states passed from now on are the finalists (every start of
            # the round when it has no first stage).
            self.stage = 2
            self.finalists = {s.index for s in states if s.round == rnd}
        for s in states:
            if s.round != rnd:
                continue  # the polish after the search: starts of earlier rounds
            self.states[s.index] = s
            self.iterations[s.index] = s.iterations
            if math.isfinite(s.change) and s.change != 0:
                record = self.history.setdefault(s.index, [])
                if not record or record[-1][0] != s.iterations:
                    record.append((s.iterations, math.log(abs(s.change))))

    def fraction(self) -> float:
        done = sum(self.iterations.values())
        going_on = self.finalists if self.stage == 2 else self._likely_finalists()
        # Stage 2 runs every finalist STAGE2_ITER iterations at most; the POLISH_STARTS best
        # still climbing then go on to max_iter (engine._polish).
        ranked = sorted((self.states[i] for i in going_on), key=lambda t: -t.loglik)
        polished = {t.index for t in ranked[:POLISH_STARTS]}
        planned = 0.0
        for s in self.states.values():
            mine = float(s.iterations)
            if self.stage == 1 and not s.converged:
                mine = max(mine, min(self.stage1_iter, self.max_iter))
            if s.index in going_on:
                cap = self.max_iter if s.index in polished else min(self.max_iter, STAGE2_ITER)
                mine = max(mine, s.iterations + self._remaining(s, cap))
            planned += mine
        return done / planned if planned > 0 else 0.0

    def _likely_finalists(self) -> set[int]:
        """The starts stage 2 will carry on: the best `keep` of the round so far."""
        size = len(self.states)
        keep = max(1, min(size, math.ceil(self.n_final * size / self.n_init)))
        ranked = sorted(self.states.values(), key=lambda s: -s.loglik)
        return {s.index for s in ranked[:keep]}

    def _remaining(self, s: StartState, cap: int) -> float:
        """Iterations the start is still to run, at most to its cap."""
        if s.converged or s.iterations >= cap:
            return 0.0
        left = float(cap - s.iterations)
        record = self.history.get(s.index, [])
        if len(record) < 2:
            return left
        back = max(MIN_LOOKBACK, LOOKBACK * s.iterations)
        recent = [p for p in record if p[0] >= s.iterations - back]
        if len(recent) < 2:
            recent = record[-2:]
        (i0, y0), (i1, y1) = recent[0], recent[-1]
        if i1 <= i0:
            return left
        # Its decay rate: log |change| against log iterations.
        decay = (y0 - y1) / (math.log(i1) - math.log(i0))
        if not decay > 0:
            return left  # not converging at all: it runs to its cap
        # The engine's rule: |change| / (1 − λ²) < tol and moved / (1 − λ) < √tol, λ the
        # start's measured contraction rate. Near the optimum the change per row goes as the
        # step squared, so the second part reads |change| < tol (1 − λ)², the stricter one
        # (on flat ridges it decides, long after the first is met).
        rate = min(max(s.rate, 0.0), 0.999)
        target = math.log(self.tol * (1.0 - rate) ** 2)
        growth = min(MAX_GROWTH, max(0.0, y1 - target) / decay)
        return min(left, i1 * math.exp(growth) - i1)


def round_sizes(n_init: int, min_starts: int, budget: int) -> list[int]:
    """The starts of each round engine.search draws at least: n_init·2^r until `min_starts`
    (and one round at least), within the budget of seeds."""
    sizes: list[int] = []
    while sum(sizes) < budget and (not sizes or sum(sizes) < min_starts):
        sizes.append(min(n_init * 2 ** len(sizes), budget - sum(sizes)))
    return sizes


def search_fraction(sizes: list[int], n_init: int, budget: int, rnd: int, fraction: float) -> float:
    """The search's share done when round `rnd` is `fraction` done: rounds weigh by their
    starts. A round past the planned ones (the best not yet replicated) extends the plan."""
    if not sizes:
        return fraction  # no plan given (a reporter used outside fit_classes)
    sizes = list(sizes)
    while len(sizes) <= rnd and sum(sizes) < budget:
        sizes.append(min(n_init * 2 ** len(sizes), budget - sum(sizes)))
    done = sum(sizes[:rnd]) + sizes[min(rnd, len(sizes) - 1)] * fraction
    return done / sum(sizes)
