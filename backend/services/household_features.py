"""Household features (the run's `covariate_columns`) and case weights (`weight_column`),
checked before a run is queued: a feature that cannot describe or explain segments, or a weight
that is not a positive finite number on every row, is a 422 naming the column and the rows.

Rules (docs/profiles.md):

* a feature is refused when every value is missing, when it has one value on every row
  (constant), when it is text with a different value on every row (an ID, not a feature), or
  when it is mostly numbers but holds some text ("12", "15", "unknown": a numeric column with
  text; recode the text to blanks);
* a weight column is refused when any row is missing, is text, is zero or negative, or is not
  finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.orm import Dataset
from backend.schemas.api import ColumnProfile
from backend.services.ingest import PLAIN_NUMBER, format_values
from backend.storage.records import dataset_frame

# A text feature whose values are all different is an ID once it has this many rows.
ID_LIKE_MIN_ROWS = 20
# A column is "numeric with text" when at least this share of its present values are numbers.
NUMERIC_SHARE = 0.5
SHOWN_ROWS = 5


def check_outcome_columns(
    profiles: Sequence[ColumnProfile], names: Sequence[str], dataset: Dataset, others: Sequence[str]
) -> None:
    """3-step's distal outcomes: not a product, the ID, a feature or the weight (a column on
    both sides of the arrow would compare a thing with itself), and usable as a feature is."""
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise InvalidInput(
            f'"distal_columns" lists {format_values(twice)} twice; name each column once.'
        )
    both = [n for n in names if n in set(others)]
    if both:
        raise InvalidInput(
            f"Column(s) {format_values(both)} cannot be both an outcome (distal_columns) and the "
            "ID, a household feature or the weight column."
        )
    check_household_features(profiles, names, dataset, what="Outcome")


def check_household_features(
    profiles: Sequence[ColumnProfile],
    names: Sequence[str],
    dataset: Dataset,
    what: str = "Household feature",
) -> None:
    by_name = {c.name: c for c in profiles}
    text_columns = [n for n in names if n in by_name and not by_name[n].is_binary]
    values = dataset_frame(dataset, text_columns) if text_columns else pd.DataFrame()
    for name in names:
        column = by_name[name]
        present = dataset.n_rows - column.n_missing
        if column.kind == "empty" or present == 0:
            raise InvalidInput(f'{what} "{name}" is empty: every value is missing. Drop it.')
        if column.n_unique < 2:
            raise InvalidInput(
                f'{what} "{name}" has the same value on every row: it cannot tell '
                "households apart. Drop it."
            )
        if column.is_binary:
            continue
        if column.kind == "categorical":
            _refuse_numeric_with_text(name, values[name], what)
            if present >= ID_LIKE_MIN_ROWS and column.n_unique == present:
                raise InvalidInput(
                    f'{what} "{name}" has a different value on every row '
                    f"({present:,} values): it is an ID, not a feature. Choose it as the ID "
                    "column, or drop it."
                )


def _refuse_numeric_with_text(name: str, series: pd.Series, what: str) -> None:
    present = series.dropna().astype(str).str.strip()
    if present.empty:
        return
    is_number = present.str.fullmatch(PLAIN_NUMBER.pattern)
    if is_number.mean() < NUMERIC_SHARE or is_number.all():
        return
    text = present[~is_number]
    rows = [int(i) + 1 for i in text.index[:SHOWN_ROWS]]
    more = " …" if len(text) > SHOWN_ROWS else ""
    raise InvalidInput(
        f'{what} "{name}" is numeric but {len(text):,} row(s) hold text: '
        f"{format_values(sorted(set(text.head(50)))[:SHOWN_ROWS])} (data rows "
        f"{', '.join(map(str, rows))}{more}). Recode them as numbers or blanks (missing)."
    )


def check_weight_column(
    profiles: Sequence[ColumnProfile], name: str, dataset: Dataset, others: Sequence[str]
) -> None:
    """A weight per household: present, a number, positive and finite on every row."""
    if name not in {c.name for c in profiles}:
        raise InvalidInput(f"Unknown weight column(s): {format_values([name])}.")
    if name in set(others):
        raise InvalidInput(
            f'Column "{name}" cannot be the weight column and a product, ID or feature column.'
        )
    raw = dataset_frame(dataset, [name])[name]
    weights = weight_values(raw)
    bad = ~(np.isfinite(weights) & (weights > 0))
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"{r + 1} ({_shown(raw.iloc[r])})" for r in rows[:SHOWN_ROWS]) + (
            " …" if len(rows) > SHOWN_ROWS else ""
        )
        raise InvalidInput(
            f'The weight column "{name}" must hold a positive, finite number on every row; '
            f"{len(rows):,} row(s) do not: data row {shown}."
        )


def weight_values(raw: pd.Series) -> np.ndarray:
    """The column as float64; text, blanks and anything not a number are NaN."""
    if raw.dtype == np.float64:
        return raw.to_numpy(dtype=np.float64, copy=True)
    text = raw.astype(object).where(raw.notna(), None).astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return repr(str(value)) if not isinstance(value, float) else f"{value:g}"
