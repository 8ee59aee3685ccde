"""Checks on a header row, made before the rows below it are read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.errors import InvalidInput

# Header cells that are data, not names: a first row of 0/1 values.
DATA_LIKE = {"0", "1", "0.0", "1.0"}


def check_header(names: Sequence[Any], max_columns: int | None = None) -> None:
    if max_columns is not None and len(names) > max_columns:
        raise InvalidInput(
            f"The file has {len(names)} columns; at most {max_columns} are accepted "
            "(MAX_COLUMNS). Keep the ID, the product columns and the covariates you need."
        )
    blank = [i + 1 for i, n in enumerate(names) if n is None or str(n).strip() == ""]
    if blank and len(blank) == len(names):
        raise InvalidInput("The header row is empty: the first row must name the columns.")
    if blank:
        raise InvalidInput(
            f"Column(s) {blank[:20]} have no name in the header row; name every column."
        )
    control = [i + 1 for i, n in enumerate(names) if any(ord(ch) < 32 for ch in str(n))]
    if control:
        raise InvalidInput(
            f"Column(s) {control[:10]} have control characters (line breaks, tabs, NUL) in "
            "their names; give them plain names."
        )
    values = [str(n).strip() for n in names]
    if len(values) >= 2 and all(v in DATA_LIKE for v in values[1:]):
        shown = ", ".join(f'"{v}"' for v in values[:6])
        raise InvalidInput(
            f"The first row ({shown}, …) looks like data, not column names: the first row "
            "must name the columns (e.g. household_id, product names)."
        )
    seen: set[str] = set()
    dupes: set[str] = set()
    for value in values:
        if value in seen:
            dupes.add(value)
        seen.add(value)
    if dupes:
        listed = ", ".join(f'"{d}"' for d in sorted(dupes)[:20])
        raise InvalidInput(f"Duplicate column names: {listed}. Each column needs its own name.")
