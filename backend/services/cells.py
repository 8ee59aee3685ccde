"""Typing the cells a reader found: a column whose every value means 0 or 1 becomes 0/1 floats
(NaN missing); every other column keeps the file's text, so an ID is never turned into a
number ("007" stays "007", a 19-digit ID keeps its digits, "1e3" is not 1000). Rows with every
cell missing are dropped; those above the last data row are counted. Each column is profiled
with what a product or ID check needs (missing rows, repeated values), so a run's check reads
the profile, not the data.

Per-value work is done once per distinct value (`pd.factorize`), so a column of a million 0/1
cells costs a hash pass, not a million Python calls.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.schemas.api import ColumnProfile, ValueRepeats

# pandas' own missing-value markers (read_csv's defaults), for text from CSV and XLSX.
NA_TOKENS = frozenset(
    {
        "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TRUE_FALSE = {"true": 1.0, "false": 0.0}
NOT_BINARY = -1.0
SHOWN = 5


def number_text(value: float) -> str:
    """A float as a person wrote it: 12345.0 → "12345", 0.5 → "0.5"."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def cell_text(value: Any, name: str) -> str | None:
    """The text of one cell as the file holds it; None when it is missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else number_text(float(value))
    if isinstance(value, decimal.Decimal):
        return None if value.is_nan() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f'Column "{name}" holds bytes that are not UTF-8 text; store it as text or drop it.'
            ) from exc
    return str(value)


def binary_value(value: Any) -> float:
    """1.0 or 0.0 for a cell that means bought / not bought, NOT_BINARY otherwise."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | decimal.Decimal | np.integer | np.floating):
        return float(value) if value in (0, 1) else NOT_BINARY
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in TRUE_FALSE:
            return TRUE_FALSE[text.lower()]
        if PLAIN_NUMBER.fullmatch(text):
            number = float(text)
            return {0.0: 0.0, 1.0: 1.0}.get(number, NOT_BINARY)  # "-0" is 0.0
    return NOT_BINARY


def shown_value(text: str) -> Any:
    """A value for a message: plain numbers as numbers (2, -1, 0.5), everything else as text."""
    stripped = text.strip()
    if PLAIN_NUMBER.fullmatch(stripped):
        number = float(stripped)
        if re.fullmatch(r"[+-]?[0-9]+", stripped) and abs(number) < 2**53:
            return int(stripped)
        return number
    return text


@dataclass
class TypedColumn:
    values: np.ndarray  # float64 0/1/NaN, or object text/None
    binary: bool


def type_column(series: pd.Series, name: str, na_tokens: bool) -> TypedColumn:
    if series.dtype == np.float64:  # a reader's 0/1 floats
        values = series.to_numpy()
        present = values[~np.isnan(values)]
        if np.isin(present, (0.0, 1.0)).all():
            return TypedColumn(values, binary=True)
    codes, found = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    uniques = np.asarray(found, dtype=object)
    texts = _texts(uniques, name, na_tokens)
    bits = _bits(uniques, texts)
    if bits is not None:
        return TypedColumn(np.append(bits, np.nan)[codes], binary=True)
    return TypedColumn(np.append(texts, np.array([None], dtype=object))[codes], binary=False)


def _texts(uniques: np.ndarray, name: str, na_tokens: bool) -> np.ndarray:
    """Each distinct cell's text, None where it is missing (blank, or an NA marker)."""
    if all(type(u) is str for u in uniques):  # CSV cells: the text is the cell
        texts = uniques.copy()
    else:
        texts = np.array([cell_text(u, name) for u in uniques], dtype=object)
    present = np.array([t is not None for t in texts], dtype=bool)
    stripped = pd.Series(texts[present], dtype=object).str.strip()
    blank = np.array(stripped == "", dtype=bool)
    if na_tokens:
        blank |= np.array(stripped.isin(NA_TOKENS), dtype=bool)
    texts[np.flatnonzero(present)[blank]] = None
    return texts


def _bits(uniques: np.ndarray, texts: np.ndarray) -> np.ndarray | None:
    """0/1 for each distinct cell (NaN where missing), or None at the first that is neither."""
    bits = np.full(len(uniques), np.nan)
    for position, (value, text) in enumerate(zip(uniques, texts, strict=True)):
        if text is None:
            continue
        bit = binary_value(value)
        if bit == NOT_BINARY:
            return None
        bits[position] = bit
    return bits


@dataclass
class TypedTable:
    frame: pd.DataFrame
    row_numbers: np.ndarray
    n_blank_rows: int


def type_table(frame: pd.DataFrame, row_numbers: np.ndarray, na_tokens: bool) -> TypedTable:
    columns: dict[str, np.ndarray] = {}
    missing = np.ones(len(frame), dtype=bool)
    for position, name in enumerate(frame.columns):
        typed = type_column(frame.iloc[:, position], str(name), na_tokens)
        columns[str(name)] = typed.values
        missing &= pd.isna(typed.values)
    filled = np.flatnonzero(~missing)
    last = filled[-1] if filled.size else -1
    n_blank = int(missing[: last + 1].sum())  # blank rows below the last data row: not counted
    keep = ~missing
    typed_frame = pd.DataFrame(
        {name: pd.Series(values[keep], dtype=values.dtype) for name, values in columns.items()},
        columns=list(columns),
    )
    return TypedTable(typed_frame, row_numbers[keep], n_blank)


def profile_columns(
    frame: pd.DataFrame, row_numbers: np.ndarray | None = None
) -> list[ColumnProfile]:
    return [_profile(frame[name], str(name), row_numbers) for name in frame.columns]


def _profile(series: pd.Series, name: str, row_numbers: np.ndarray | None) -> ColumnProfile:
    missing = series.isna().to_numpy()
    n_missing = int(missing.sum())
    if series.dtype == np.float64:
        present = series.to_numpy()[~missing]
        n_unique = int(np.unique(present).size)
        return ColumnProfile(
            name=name,
            dtype="float64",
            kind="empty" if present.size == 0 else "binary",
            is_binary=present.size > 0,
            n_missing=n_missing,
            n_unique=n_unique,
            prevalence=float(present.mean()) if present.size else None,
        )
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    examples = list(
        islice((shown_value(u) for u in uniques if binary_value(u) == NOT_BINARY), SHOWN)
    )
    numeric = all(PLAIN_NUMBER.fullmatch(u.strip()) for u in uniques)
    repeated = np.flatnonzero(counts > 1)
    top = repeated[np.argsort(-counts[repeated], kind="stable")][:SHOWN]
    where = row_numbers if row_numbers is not None else np.arange(1, len(series) + 1)
    return ColumnProfile(
        name=name,
        dtype="string",
        kind="empty" if len(uniques) == 0 else ("numeric" if numeric else "categorical"),
        is_binary=False,
        n_missing=n_missing,
        n_unique=len(uniques),
        examples=[jsonable(v) for v in examples],
        repeats=ValueRepeats(
            n_values=int(repeated.size),
            n_rows=int(counts[repeated].sum()),
            examples={jsonable(str(uniques[i])): int(counts[i]) for i in top},
        ),
        missing_rows=[int(n) for n in where[missing][:SHOWN]],
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, str):
        # Shown in messages and stored in JSON (PostgreSQL refuses NUL in JSON): keep it short.
        text = value.replace("\x00", "\\x00")
        return text if len(text) <= 100 else text[:99] + "…"
    if isinstance(value, int | float | bool) or value is None:
        return value
    return str(value)


def numbers_where_numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a plain number, as numbers: how household features
    (covariates) are used, while the stored table keeps the text."""
    out = frame.copy()
    for name in out.columns:
        series = out[name]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            present = series.dropna()
            if (
                len(present)
                and present.astype(str).str.strip().str.fullmatch(PLAIN_NUMBER.pattern).all()
            ):
                out[name] = pd.to_numeric(series.astype(object).where(series.notna(), None))
    return out
