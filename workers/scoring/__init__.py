"""Runs made from a finished run, on the workers: scoring new households (score.py) and the
typing tool (typing.py). The executor hands them a claimed run as it hands fits their fit."""

from __future__ import annotations

from backend.orm import Run
from backend.progress import ProgressReporter, ProgressStore


def derived(run: Run, reporter: ProgressReporter, store: ProgressStore) -> None:
    """Carry out a run made from a finished run, by its kind."""
    if run.kind == "score":
        from workers.scoring.score import execute as score

        score(run, reporter, store)
    elif run.kind == "typing":
        from workers.scoring.typing_tool import execute as make_typing_tool

        make_typing_tool(run, reporter, store)
    else:
        raise ValueError(f"unknown run kind {run.kind!r}")
