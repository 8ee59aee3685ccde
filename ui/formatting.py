"""Small pure formatters: durations, ETAs, run statuses in plain words, and user text made
literal for Streamlit's Markdown."""

from __future__ import annotations

import re
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


# Every ASCII punctuation mark that Markdown, GitHub's extensions or Streamlit's own syntax
# (`:red[…]`, `:material/…:`, `$…$`) gives a meaning; CommonMark reads each, backslashed, as
# itself.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&\"'=@^%/])")
# GitHub Markdown still links a bare URL, a www. address or an e-mail address once the
# backslashes are read; a word joiner (zero width, invisible) inside each breaks the link.
_WORD_JOINER = "\u2060"
_WWW = re.compile(r"(?i)(w)(ww\\\.)")


def escape_markdown(text: object) -> str:
    """`text` (a name, a label, a sentence from the API) to show literally wherever Streamlit
    renders Markdown: st.markdown, captions, alerts, toasts, widget, tab, expander and metric
    labels. No bold, link, image, colour, icon or formula comes out of it; line breaks become
    spaces. The app's one Markdown escaper: wrap user text in it, never the app's own Markdown."""
    value = str(text)
    if "\n" in value or "\r" in value:
        value = " ".join(value.split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    escaped = escaped.replace(r"\:\/\/", "\\:" + _WORD_JOINER + r"\/\/")
    escaped = escaped.replace(r"\@", "\\@" + _WORD_JOINER)
    return _WWW.sub(r"\1" + _WORD_JOINER + r"\2", escaped)
