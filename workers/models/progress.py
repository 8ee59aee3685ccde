"""Helpers for the progress reporter a fit receives (workers/models/base.py: Progress): a
stage's slice of the run's 0..1 progress, and a reporter confined to such a slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.models.base import Progress


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
