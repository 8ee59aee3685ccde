"""Numbers as people read them in the report, the slides and the summaries: shares as whole
percentages, indexes as whole numbers (100 = average), everything else to two significant
digits with thousands separators."""

from __future__ import annotations

import math
from typing import Any


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def percent(share: Any) -> str:
    """0.277 → "28%"; below half a percent "under 1%"; a missing value "—"."""
    value = _finite(share)
    if value is None:
        return "—"
    if 0 < abs(value) < 0.005:
        return "under 1%"
    return f"{value:.0%}"


def index(value: Any) -> str:
    """63.3 → "63" (100 = the average household)."""
    number = _finite(value)
    return "—" if number is None else f"{number:,.0f}"


def sig(value: Any, digits: int = 2) -> str:
    """Two significant digits, never in scientific notation: 0.01234 → "0.012",
    1234.5 → "1,200", 8403 → "8,400"; whole numbers below 100 stay as they are."""
    number = _finite(value)
    if number is None:
        return "—"
    if number == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    decimals = digits - 1 - magnitude
    rounded = round(number, decimals)
    if decimals <= 0:
        return f"{rounded:,.0f}"
    return f"{rounded:,.{decimals}f}"


def count(value: Any) -> str:
    """A count in full with separators: 8403 → "8,403"."""
    number = _finite(value)
    return "—" if number is None else f"{number:,.0f}"


def times(value: Any) -> str:
    """An index as a multiple of the average: 250 → "2.5 times"."""
    number = _finite(value)
    return "—" if number is None else f"{sig(number / 100)} times"


def join(words: list[str], last: str = "and") -> str:
    """["a", "b", "c"] → "a, b and c"."""
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"
