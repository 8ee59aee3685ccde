"""The error vocabulary. Services raise these; one handler maps them to JSON responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AppError(Exception):
    """An error a client can act on: `message` says what is wrong and how to fix it.

    A kind of error is a subclass that names its HTTP status and short title:
    `class NotFound(AppError, status_code=404, title="Not found")`."""

    status_code = 400
    title = "Bad request"

    def __init_subclass__(cls, *, status_code: int, title: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status_code, cls.title = status_code, title

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(AppError, status_code=422, title="Invalid input"):
    """The request or its data cannot be used as sent; the message names the field or value."""


class NotFound(AppError, status_code=404, title="Not found"):
    """No dataset, run or artifact by that id."""


class Conflict(AppError, status_code=409, title="Conflict"):
    """The request contradicts what is stored (a reused Idempotency-Key, a run's state)."""


class PayloadTooLarge(AppError, status_code=413, title="Payload too large"):
    """A body or file past its limit."""


class UnsupportedFormat(AppError, status_code=415, title="Unsupported file format"):
    """An upload in a format the service does not read (ODS, JSON, HTML, XLS, PDF, …)."""


class TooManyRequests(AppError, status_code=429, title="Too many runs"):
    """The client already has as many runs queued or running as it may; `retry_after` says in
    how many seconds one is expected to have finished."""

    def __init__(
        self, message: str, *, retry_after: int, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, extra=extra)
        self.retry_after = retry_after


class ServiceUnavailable(AppError, status_code=503, title="Service unavailable"):
    """A service the request needs (Redis, the database) cannot be reached; nothing was stored."""


class DataError(ValueError):
    """Deterministic problem with a run's data or parameters found while fitting: never retried."""


def error_content(title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The body of every error response: the sentence in both `error` (what the original
    backend's clients show) and `detail`, and a short `title`."""
    return {"error": detail, "detail": detail, "title": title, **extra}


class ErrorOut(BaseModel):
    """Every error response: a sentence saying what is wrong and how to fix it (in `error` and
    `detail`) and a short title."""

    error: str = Field(
        description="What is wrong and how to fix it: the same sentence as `detail` (the "
        "original backend's clients show `error`)."
    )
    detail: str = Field(description="What is wrong and how to fix it.")
    title: str = Field(description="Short title, e.g. 'Invalid input'.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Request validation only: each field's location, message and type."
    )


ERROR_DESCRIPTIONS = {
    400: "The body or a header could not be read (e.g. not UTF-8, a malformed Last-Event-ID).",
    401: "API_TOKEN is set and the request has no valid 'Authorization: Bearer' token.",
    404: "No such dataset or run.",
    409: "Conflicts with the current state (e.g. results of an unfinished run).",
    413: "The body is larger than MAX_UPLOAD_MB.",
    415: "The upload is in a format the service does not read; `detail` names it.",
    422: "The request or its data is invalid; `detail` names the field, column or value.",
    429: "Too many runs queued or running for this API token (MAX_ACTIVE_RUNS_PER_CLIENT); "
    "Retry-After says when one is expected to finish.",
    503: "The database or Redis is unreachable.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error status codes, all with the ErrorOut body."""
    return {code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in codes}
