"""Helpers for the progress reporter a fit receives (workers/models/base.py: Progress): a
stage's slice of the run's 0..1 progress, a reporter confined to such a slice, and the work a
fit that stops once it settles will do (so its progress is proportional to its work)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workers.models.base import Progress

# A projection of settling takes the ratio of the moves over up to this many of the latest:
# they are noisy from one check to the next (LDA, measured: 0.306, 0.104, 0.115, 0.059).
RATIO_SPAN = 2


@dataclass
class Span:
    """The slice of the run's 0..1 progress that a stage fills."""

    start: float
    end: float

    def at(self, fraction: float) -> float:
        return self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0)


def sub_progress(progress: Progress, start: float, end: float) -> Progress:
    """A Progress that maps 0..1 onto start..end of the caller's progress."""
    span = Span(start, end)

    def report(fraction: float, message: str, **fields: Any) -> None:
        progress(span.at(fraction), message, **fields)

    return report


def planned_until_settled(
    max_units: float, moves: Sequence[tuple[float, float]], tol: float, settled: int = 1
) -> float:
    """The units of work (passes, iterations) a fit that stops once `settled` checks in a row
    moved less than `tol` will have run: `moves` are (units done, move) of the checks so far.
    The moves shrink about geometrically in units, so their recent ratio projects the checks
    still to come, spaced as the last two; `max_units` until two moves say so."""
    span = min(RATIO_SPAN, len(moves) - 1)
    if span < 1:
        return max_units
    done, last = moves[-1]
    below = next((n for n, (_, m) in enumerate(reversed(moves)) if m >= tol), len(moves))
    if below >= settled:
        return min(max_units, done)
    spacing = done - moves[-2][0]
    at, before = moves[-1 - span]
    if spacing <= 0 or done <= at:
        return max_units
    ratio = (last / before) ** (spacing / (done - at)) if before > 0 else 0.0  # per check
    if last < tol:
        checks = settled - below
    elif 0 < ratio < 1:
        checks = math.ceil(math.log(tol / last) / math.log(ratio)) + settled - 1
    else:
        return max_units
    return min(max_units, done + checks * spacing)
