"""What the live progress panel says, decided from the progress snapshot and the run's record
(pure, no Streamlit): a sentence a person reads, the time left, whether the run can still be
cancelled, and whether the page should be redrawn because the run has ended. The database is the
source of truth: a record that has ended wins over a snapshot that says otherwise (a sweep's
last message may still read "0 of 5 fits done"). Also which runs Compare opens on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ui.formatting import TERMINAL_STATUSES, format_duration

START_WORDS = ("Round ", "First stage", "Finishing ", "Start ")
ETA_AFTER_SECONDS = 3.0  # before this, "estimating time left…" is honest; after it, an estimate


@dataclass(frozen=True)
class ProgressView:
    ended: bool  # the record says the run has ended: redraw the page, draw nothing here
    finishing: bool  # the snapshot says it ended, the record does not yet: no cancel button
    message: str
    eta: str
    can_cancel: bool


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def person_message(progress: dict[str, Any]) -> str:
    """The snapshot's message in plain words where its details allow: a start search reads
    "Trying 10 starting points: 4 done, best so far found twice"."""
    details = progress.get("details") or {}
    message = str(progress.get("message") or "")
    n_init = details.get("n_init")
    done = details.get("converged")
    if isinstance(n_init, int) and isinstance(done, int) and n_init > 1:
        cut = min((message.find(w) for w in START_WORDS if w in message), default=0)
        label = message[:cut]  # "3 segments: " in a sweep
        words = f"{label}Trying {n_init} starting points: {min(done, n_init)} done"
        at_best = details.get("at_best")
        if isinstance(at_best, int) and at_best > 0:
            words += f", best so far found {times(at_best)}"
        return words + "."
    return message


def eta_text(progress: dict[str, Any]) -> str:
    eta = progress.get("eta_seconds")
    elapsed = progress.get("elapsed_seconds")
    fraction = float(progress.get("progress") or 0.0)
    if eta is None and isinstance(elapsed, int | float) and elapsed >= ETA_AFTER_SECONDS:
        if 0.02 <= fraction < 1:
            eta = elapsed * (1 - fraction) / fraction  # the pace so far
        else:
            return f"running for {format_duration(elapsed)}"
    if eta is None:
        return "estimating time left…"
    if eta < 1:
        return "almost done"
    return f"about {format_duration(float(eta))} left"


def progress_view(progress: dict[str, Any], record: dict[str, Any] | None) -> ProgressView:
    """What to show for a run, from its latest snapshot and its record (None: not read)."""
    status = str((record or {}).get("status") or "")
    if status in TERMINAL_STATUSES:
        return ProgressView(True, False, "", "", False)
    phase = str(progress.get("phase") or "queued")
    if phase in TERMINAL_STATUSES:
        return ProgressView(False, True, "Finishing: saving the results…", "almost done", False)
    return ProgressView(False, False, person_message(progress), eta_text(progress), True)


def default_pair(runs: list[dict[str, Any]]) -> list[str]:
    """The runs Compare opens on: the newest finished run and the newest other run of the same
    model on the same data (else of the same model, else the next newest): two segmentations,
    not an LCA beside a product map."""
    if len(runs) < 2:
        return [r["id"] for r in runs]
    first = runs[0]
    rest = runs[1:]
    for same in (
        lambda r: r["model_type"] == first["model_type"] and r["dataset_id"] == first["dataset_id"],
        lambda r: r["model_type"] == first["model_type"],
    ):
        match = next((r for r in rest if same(r)), None)
        if match is not None:
            return [first["id"], match["id"]]
    return [first["id"], rest[0]["id"]]
