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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

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
        if s.converged:
            return 0.0
        # The engine's rule: |change| / (1 − λ²) < tol and moved / (1 − λ) < √tol, λ the
        # start's measured contraction rate. Near the optimum the change per row goes as the
        # step squared, so the second part reads |change| < tol (1 − λ)², the stricter one
        # (on flat ridges it decides, long after the first is met).
        rate = min(max(s.rate, 0.0), 0.999)
        target = math.log(self.tol * (1.0 - rate) ** 2)
        return remaining_iterations(self.history.get(s.index, []), s.iterations, cap, target)


def remaining_iterations(
    record: list[tuple[int, float]], iterations: int, cap: int, target: float
) -> float:
    """The iterations a start that has run `iterations` is still to run until log |change|
    falls to `target`, from its record of (iterations, log |change|): the power decay over its
    recent past, projected; at most to `cap`, and to `cap` when it is not decaying."""
    if iterations >= cap:
        return 0.0
    left = float(cap - iterations)
    if len(record) < 2:
        return left
    back = max(MIN_LOOKBACK, LOOKBACK * iterations)
    recent = [p for p in record if p[0] >= iterations - back]
    if len(recent) < 2:
        recent = record[-2:]
    (i0, y0), (i1, y1) = recent[0], recent[-1]
    if i1 <= i0 or i0 <= 0:
        return left
    # Its decay rate: log |change| against log iterations.
    decay = (y0 - y1) / (math.log(i1) - math.log(i0))
    if not decay > 0:
        return left  # not converging at all: it runs to its cap
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


class Serial(Protocol):
    """A start run on its own (the covariate model's `CovStart`)."""

    objective: float
    iterations: int
    converged: bool


@dataclass
class SerialStarts:
    """Iterations done and planned by starts run one after another: each for `stage1_iter`
    (0: no first stage, every start runs to convergence), then the finalists to convergence,
    projected as `RoundWork` does from each start's record of its change per household; a
    finalist not yet run is planned at the median projection of those that ran (before any
    did: `stage1_iter` more, or max_iter without a first stage)."""

    starts: Sequence[Serial]
    n_final: int
    stage1_iter: int
    max_iter: int
    tol: float
    total_weight: float
    finalists: set[int] | None = None
    history: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def record(self, i: int) -> None:
        s = self.starts[i]
        before = self.last.get(i)
        self.last[i] = s.objective
        if before is not None and math.isfinite(before) and s.objective != before:
            change = math.log(abs(s.objective - before) / self.total_weight)
            self.history.setdefault(i, []).append((s.iterations, change))

    def fraction(self) -> float:
        target = math.log(self.tol)
        projected = {
            i: self.starts[i].iterations
            + (
                0.0
                if self.starts[i].converged
                else remaining_iterations(r, self.starts[i].iterations, self.max_iter, target)
            )
            for i, r in self.history.items()
        }
        first = self.stage1_iter
        beyond = sorted(max(0.0, p - first) for p in projected.values())
        typical = beyond[len(beyond) // 2] if beyond else float(first or self.max_iter)
        planned = 0.0
        for i, s in enumerate(self.starts):
            if self.finalists is None and first > 0:
                planned += s.iterations if s.converged else max(s.iterations, first)
            elif self.finalists is None or i in self.finalists:
                planned += projected.get(i, first + typical)
            else:
                planned += s.iterations
        if self.finalists is None and first > 0:
            planned += min(self.n_final, len(self.starts)) * typical
        done = sum(s.iterations for s in self.starts)
        return min(1.0, done / planned) if planned > 0 else 0.0
