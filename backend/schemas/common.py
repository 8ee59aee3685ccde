from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset({RunStatus.completed, RunStatus.failed, RunStatus.cancelled})


class Phase(StrEnum):
    queued = "queued"
    loading = "loading"
    fitting = "fitting"
    sampling = "sampling"
    saving = "saving"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_PHASES = frozenset({Phase.completed, Phase.failed, Phase.cancelled})
# Where each phase comes in a run: its progress only ever moves to a later one.
PHASE_ORDER = {phase: min(i, 5) for i, phase in enumerate(Phase)}
