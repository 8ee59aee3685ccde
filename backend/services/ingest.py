"""Parse an uploaded table once, refuse what cannot be analysed, and profile every column.

The upload is read from its spooled file, never joined into one string: the format comes from
its first bytes (`readers.formats`), a reader per format yields raw cells (`readers`), and
`cells` types them — 0/1 columns as numbers, everything else as the file's own text.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pandas as pd

from backend.errors import InvalidInput
from backend.schemas.api import ColumnProfile
from backend.services.cells import profile_columns, type_table
from backend.services.readers import ReadOptions, read_table
from backend.services.readers.formats import detect_format
from backend.settings import get_settings
from backend.storage.tables import read_parquet, write_parquet

CHUNK = 1 << 20


@dataclass
class ParsedTable:
    frame: pd.DataFrame
    file_format: str
    sha256: str
    size_bytes: int
    columns: list[ColumnProfile]
    n_blank_rows: int = 0
    notes: list[str] = field(default_factory=list)
    # Appended to a refusal of this table (e.g. other sheets that hold data).
    hint: str = ""


def _digest(source: BinaryIO) -> tuple[str, int]:
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return digest.hexdigest(), size


def parse_table(
    content: bytes | BinaryIO,
    filename: str | None = None,
    *,
    min_rows: int = 2,
    max_columns: int | None = None,
    sheet: str | None = None,
) -> ParsedTable:
    """Read, type and profile an upload (bytes, or a seekable binary file, read in chunks)."""
    source = io.BytesIO(content) if isinstance(content, bytes) else content
    sha256, size = _digest(source)
    if size == 0:
        raise InvalidInput("The file is empty: upload a table with a header row and 0/1 columns.")
    file_format = detect_format(source, filename)
    if sheet is not None and file_format != "xlsx":
        raise InvalidInput(
            f'The "sheet" field ("{sheet}") applies to XLSX workbooks; this is a '
            f"{file_format.upper()} file. Leave the field out."
        )
    raw = read_table(source, file_format, ReadOptions(max_columns=max_columns, sheet=sheet))
    try:
        if len(raw.frame.columns) == 0:
            raise InvalidInput("The file has no columns.")
        typed = type_table(raw.frame, raw.row_numbers, raw.na_tokens)
        if len(typed.frame) < min_rows:
            raise InvalidInput(
                f"The file has {len(typed.frame)} data row(s); at least {min_rows} are needed "
                "(one row per household)."
            )
    except InvalidInput as exc:
        raise InvalidInput(exc.message + raw.hint) from exc
    notes = list(raw.notes)
    if typed.n_blank_rows:
        notes.append(
            f"{typed.n_blank_rows} blank {raw.row_word}(s) between households were dropped."
        )
    return ParsedTable(
        frame=typed.frame,
        file_format=file_format,
        sha256=sha256,
        size_bytes=size,
        columns=profile_columns(typed.frame, typed.row_numbers),
        n_blank_rows=typed.n_blank_rows,
        notes=notes,
        hint=raw.hint,
    )


def format_values(values: list[Any]) -> str:
    return ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in values)


YES_NO = {"yes", "no", "y", "n", "true", "false", "x", "ja", "nein", "oui", "non", "si"}


def recode_hint(examples: list[Any]) -> str:
    """A suggestion for values that mean bought / not bought in words."""
    words = {str(v).strip().lower() for v in examples if isinstance(v, str)}
    if words and words <= YES_NO:
        return " Recode them as 1 (bought) and 0 (not bought)."
    return ""


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    write_parquet(frame, buffer, get_settings().storage_row_group_rows)
    return buffer.getvalue()


def from_parquet(data: bytes, columns: list[str] | None = None) -> pd.DataFrame:
    return read_parquet(io.BytesIO(data), columns)


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _defuse(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> str:
    """CSV for people who open it in a spreadsheet: text cells (and column names) that would run
    as a formula get a leading single quote. Numeric columns stay as they are, so negative
    numbers stay numbers; so do text cells that are plain numbers ("-3")."""
    safe = frame.copy()
    safe.columns = [_defuse(str(c)) for c in frame.columns]
    for position in range(safe.shape[1]):
        series = safe.iloc[:, position]
        if not (
            pd.api.types.is_numeric_dtype(series)
            or pd.api.types.is_bool_dtype(series)
            or pd.api.types.is_datetime64_any_dtype(series)
        ):
            safe.isetitem(position, series.map(_defuse).to_numpy())
    # RFC 4180 line ends: the writer then quotes cells holding a bare CR too (with "\n" alone
    # it leaves "\r" unquoted, and spreadsheets split the row there).
    return safe.to_csv(index=False, lineterminator="\r\n")
