"""A progress reporter for fits called directly in tests: it records every call and can
cancel the fit when a condition on what it recorded holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.progress import RunCancelled


class Recorder:
    """A Progress that keeps each call as `{"fraction", "message", **fields}` in `calls` and
    raises RunCancelled (as a cancelled run's reporter does) once `cancel_when(recorder)`
    holds."""

    def __init__(self, cancel_when: Callable[[Recorder], bool] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.cancel_when = cancel_when

    def __call__(self, fraction: float, message: str, **fields: Any) -> None:
        self.calls.append({"fraction": fraction, "message": message, **fields})
        if self.cancel_when is not None and self.cancel_when(self):
            raise RunCancelled("test")

    def with_details(self, key: str) -> list[dict[str, Any]]:
        """The calls whose `details` hold `key`."""
        return [c for c in self.calls if key in (c.get("details") or {})]
