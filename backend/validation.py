"""Turn pydantic validation errors into one sentence that names the field and the value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError


def _location(loc: Sequence[Any], prefix: str | None) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts) or "request"


def describe_errors(errors: Iterable[Any], prefix: str | None = None) -> str:
    sentences = []
    for error in list(errors)[:5]:
        where = _location(error.get("loc", ()), prefix)
        message = error.get("msg", "is invalid")
        if error.get("type") == "extra_forbidden":
            sentences.append(f'"{where}" is not a known field')
            continue
        if error.get("type") == "missing":
            sentences.append(f'"{where}" is required')
            continue
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            sentences.append(f"The body is not valid JSON: {reason} at character {position}")
            continue
        value = error.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r:.80})"
        sentences.append(f'"{where}": {message}{shown}')
    return "; ".join(sentences) + "."


def describe_validation_error(exc: ValidationError, prefix: str | None = None) -> str:
    return describe_errors(exc.errors(), prefix)
