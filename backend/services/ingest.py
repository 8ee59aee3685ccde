"""Parse an uploaded table once, refuse what cannot be analysed, and profile every column."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.schemas.api import ColumnProfile

FORMATS = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "xlsx": "xlsx",
    "parquet": "parquet",
    "pq": "parquet",
}
# Expanded size cap for an XLSX (a zip): refuses zip bombs before openpyxl inflates them.
MAX_XLSX_EXPANSION = 50


@dataclass
class ParsedTable:
    frame: pd.DataFrame
    file_format: str
    sha256: str
    size_bytes: int
    columns: list[ColumnProfile]


def detect_format(filename: str | None, content: bytes) -> str:
    if content[:4] == b"PAR1":
        return "parquet"
    if content[:2] == b"PK":
        return "xlsx"
    ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if ext in FORMATS and FORMATS[ext] != "csv":
        raise InvalidInput(f'"{filename}" does not look like a {ext.upper()} file; was it renamed?')
    return "csv"


def parse_table(content: bytes, filename: str | None = None, *, min_rows: int = 2) -> ParsedTable:
    if not content.strip():
        raise InvalidInput("The file is empty: upload a table with a header row and 0/1 columns.")
    file_format = detect_format(filename, content)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet}[file_format]
    frame = reader(content)
    _check_columns(list(frame.columns))
    if len(frame.columns) == 0:
        raise InvalidInput("The file has no columns.")
    if len(frame) < min_rows:
        raise InvalidInput(
            f"The file has {len(frame)} data row(s); at least {min_rows} are needed "
            "(one row per household)."
        )
    frame.columns = [str(c) for c in frame.columns]
    return ParsedTable(
        frame=frame,
        file_format=file_format,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        columns=profile_columns(frame),
    )


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is neither UTF-8 nor Windows-1252 text; save it as UTF-8 CSV."
        ) from exc


def _read_csv(content: bytes) -> pd.DataFrame:
    text = _decode(content)
    sample = text[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    _check_columns([h.strip() for h in header])
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delimiter, skipinitialspace=True, keep_default_na=True
        )
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(
            "The file has no data: it needs a header row and one row per household."
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise InvalidInput(f"The CSV could not be read: {str(exc).splitlines()[0]}") from exc


def _read_xlsx(content: bytes) -> pd.DataFrame:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise InvalidInput("The XLSX file is damaged (not a valid zip archive).") from exc
    if expanded > MAX_XLSX_EXPANSION * max(len(content), 1_000_000):
        raise InvalidInput(
            f"The XLSX file expands to {expanded / 1e6:.0f} MB; that is too large to read safely."
        )
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InvalidInput("The first sheet of the XLSX file is empty.")
        names = ["" if h is None else str(h).strip() for h in header]
        _check_columns(names)
        frame = pd.DataFrame(list(rows), columns=names)
        book.close()
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"The XLSX file could not be read: {exc}") from exc
    return frame.dropna(how="all")


def _read_parquet(content: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(content))
    except Exception as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}") from exc
    _check_columns(table.column_names)
    return table.to_pandas()


def _check_columns(names: list[Any]) -> None:
    blank = [i + 1 for i, n in enumerate(names) if n is None or str(n).strip() == ""]
    if blank and len(blank) == len(names):
        raise InvalidInput("The header row is empty: the first row must name the columns.")
    if blank:
        raise InvalidInput(f"Column(s) {blank} have no name in the header row; name every column.")
    seen: set[str] = set()
    dupes = sorted({str(n) for n in names if str(n) in seen or seen.add(str(n))})  # type: ignore[func-returns-value]
    if dupes:
        listed = ", ".join(f'"{d}"' for d in dupes)
        raise InvalidInput(f"Duplicate column names: {listed}. Each column needs its own name.")


def _non_binary_values(series: pd.Series) -> list[Any]:
    values = series.dropna()
    if values.empty:
        return []
    if pd.api.types.is_bool_dtype(values):
        return []
    if pd.api.types.is_numeric_dtype(values):
        bad = values[~values.isin([0, 1])]
    else:
        bad = values[
            ~values.map(lambda v: isinstance(v, (int, float, bool, np.number)) and v in (0, 1))
        ]
    examples = []
    for v in pd.unique(bad)[:5]:
        examples.append(v.item() if isinstance(v, np.generic) else v)
    return examples


def profile_columns(frame: pd.DataFrame) -> list[ColumnProfile]:
    profiles = []
    for name in frame.columns:
        series = frame[name]
        n_missing = int(series.isna().sum())
        present = series.dropna()
        examples = _non_binary_values(series)
        is_binary = not present.empty and not examples
        if present.empty:
            kind = "empty"
        elif is_binary:
            kind = "binary"
        elif pd.api.types.is_numeric_dtype(series):
            kind = "numeric"
        else:
            kind = "categorical"
        prevalence = float(present.astype(float).mean()) if is_binary else None
        profiles.append(
            ColumnProfile(
                name=str(name),
                dtype=str(series.dtype),
                kind=kind,
                is_binary=is_binary,
                n_missing=n_missing,
                n_unique=int(present.nunique()),
                prevalence=prevalence,
                examples=[_jsonable(v) for v in examples],
            )
        )
    return profiles


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def format_values(values: list[Any]) -> str:
    return ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in values)


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # Mixed-type object columns (IDs, free text) are stored as strings so Parquet accepts them.
    safe = frame.copy()
    for name in safe.columns:
        if safe[name].dtype == object:
            safe[name] = safe[name].map(_as_text)
    safe.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def from_parquet(data: bytes, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data), columns=columns)
