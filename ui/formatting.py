"""Small pure formatters: durations, ETAs, run statuses in plain words."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "primary"]

ACTIVE_STATUSES = frozenset({"queued", "running"})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
TERMINAL_PHASES = TERMINAL_STATUSES

STATUS: dict[str, tuple[str, str, BadgeColor]] = {
    "queued": (":material/schedule:", "Waiting", "gray"),
    "running": (":material/autorenew:", "Running", "blue"),
    "completed": (":material/check_circle:", "Done", "green"),
    "failed": (":material/error:", "Failed", "red"),
    "cancelled": (":material/cancel:", "Cancelled", "orange"),
}

PHASES = {
    "queued": "Waiting for a free worker",
    "loading": "Loading the data",
    "fitting": "Fitting the model",
    "sampling": "Sampling",
    "saving": "Saving the results",
    "completed": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_eta(eta_seconds: float | None) -> str:
    if eta_seconds is None:
        return "estimating time left…"
    if eta_seconds < 1:
        return "almost done"
    return f"about {format_duration(eta_seconds)} left"


def status_label(status: str) -> str:
    icon, label, _ = STATUS.get(status, (":material/help:", status.capitalize(), "gray"))
    return f"{icon} {label}"


def status_color(status: str) -> BadgeColor:
    return STATUS.get(status, ("", "", "gray"))[2]


def format_timestamp(value: str | None) -> str:
    """ISO timestamp from the API as 'YYYY-MM-DD HH:MM' (in the API's zone)."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def run_label(run: dict[str, Any]) -> str:
    """How a run is named in pickers: name and when (its status is shown beside it)."""
    name = run.get("name") or run["id"][:8]
    return f"{name} · {format_timestamp(run.get('created_at'))}"


def percent(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"
