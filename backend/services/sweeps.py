"""Sweeps: `n_classes: [1, 2, ..., 8]` (or "1-8", "1..8", "1:8") asks for one fit per value.

The request becomes a parent run with one child run per value. Children are ordinary runs,
each its own Dramatiq message, so several workers share a sweep; the worker that finishes
the last child writes the parent's comparison (workers/sweep.py). A list or range of one value
("3-3", [3]) is one ordinary fit with that value, not a sweep of one.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from backend.errors import InvalidInput
from backend.families import FamilySpec
from backend.schemas.params import ModelParams
from backend.validation import describe_validation_error

MAX_SWEEP_VALUES = 20
RANGE = re.compile(r"^\s*(\d{1,6})\s*(?:-|\.\.|:)\s*(\d{1,6})\s*$")


def sweep_values(spec: FamilySpec, params: dict[str, Any]) -> list[int] | None:
    """The values a list or range asks for (sorted, each once), or None when the sweep
    parameter is a single value (or the family has none)."""
    if spec.sweep_param is None:
        return None
    raw = params.get(spec.sweep_param)
    name = f"params.{spec.sweep_param}"
    if isinstance(raw, str):
        match = RANGE.match(raw)
        if not match:
            raise InvalidInput(
                f'"{name}" must be a number, a list of numbers or a range like "1-8"; got {raw!r}.'
            )
        low, high = int(match.group(1)), int(match.group(2))
        if low > high:
            raise InvalidInput(f'"{name}": the range {raw!r} runs backwards; write "{high}-{low}".')
        if high - low + 1 > MAX_SWEEP_VALUES:  # before building the list: "1-999999999999"
            raise InvalidInput(
                f'"{name}" asks for {high - low + 1} fits; at most {MAX_SWEEP_VALUES} per run.'
            )
        values = list(range(low, high + 1))
    elif isinstance(raw, list):
        if not raw or not all(type(v) is int for v in raw):  # not true, not 3.0
            raise InvalidInput(f'"{name}" must list whole numbers; got {raw!r:.200}.')
        values = sorted(set(raw))
    else:
        return None
    if len(values) > MAX_SWEEP_VALUES:
        raise InvalidInput(
            f'"{name}" asks for {len(values)} fits; at most {MAX_SWEEP_VALUES} per run.'
        )
    return values


def validate_params(
    spec: FamilySpec, params: dict[str, Any], values: list[int] | None
) -> list[ModelParams]:
    """One validated params object per fit (a single one when there is no sweep, or a sweep
    of one value)."""
    requests = [params] if values is None else [{**params, spec.sweep_param: v} for v in values]
    validated = []
    for request in requests:
        try:
            validated.append(spec.params.model_validate(request))
        except ValidationError as exc:
            raise InvalidInput(describe_validation_error(exc, prefix="params")) from exc
    return validated
