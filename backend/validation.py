"""Turn pydantic validation errors into one sentence that names the field and the value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

# How pydantic names the members of a union in an error's location ("constrained-int",
# "list[constrained-int]", "str", …): not a field, so not shown.
_UNION_MEMBER = re.compile(
    r"^(str|int|float|bool|bytes|none|list|dict|set|tuple|literal|nullable|union"
    r"|constrained-[a-z]+|function-[a-z]+)(\[.*\])?$"
)


def _location(loc: Sequence[Any], prefix: str | None) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts) or "request"


def _merge_union_members(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """One error per location: a value that fits no member of a union ("a number or a list")
    gives one error per member, at locations that name the member; these become one."""
    merged: list[dict[str, Any]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        plain = tuple(p for p in loc if not (isinstance(p, str) and _UNION_MEMBER.match(p)))
        error = {**error, "loc": plain}
        last = merged[-1] if merged else None
        if (
            plain != loc
            and last is not None
            and last.get("union")
            and last["loc"] == plain
            and last.get("input") is error.get("input")
        ):
            message = str(error.get("msg", "")).removeprefix("Input should be ")
            last["msg"] = f"{last['msg']} or {message}"
            continue
        merged.append({**error, "union": plain != loc})
        if len(merged) > 5:
            break
    return merged


def describe_errors(errors: Iterable[Any], prefix: str | None = None) -> str:
    sentences = []
    for error in _merge_union_members(errors)[:5]:
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


NUL_REFUSED = "holds a NUL character (\\u0000), which cannot be stored; remove it"


def holds_nul(value: Any) -> bool:
    """Whether a NUL character is in any string of `value` (keys included), however deeply
    nested: PostgreSQL refuses NUL in text and JSON. Iterative, linear in the value's size."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False
