"""The error vocabulary. Services raise these; one handler maps them to JSON responses."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error a client can act on: `message` says what is wrong and how to fix it."""

    status_code = 400
    title = "Bad request"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(AppError):
    status_code = 422
    title = "Invalid input"


class NotFound(AppError):
    status_code = 404
    title = "Not found"


class Conflict(AppError):
    status_code = 409
    title = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    title = "Payload too large"


class ServiceUnavailable(AppError):
    status_code = 503
    title = "Service unavailable"


class DataError(ValueError):
    """Deterministic problem with a run's data or parameters found while fitting: never retried."""
