"""Parse an uploaded table once, refuse what cannot be analysed, and profile every column."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections import Counter
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
# Text a 0/1 column may hold where a number was meant (XLSX text cells, quoted CSV fields).
BINARY_TEXT = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}
# A complete UTF-8 multi-byte sequence: its presence in a file that is not valid UTF-8 means
# two encodings were mixed (a genuine Windows-1252 file almost never contains one).
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


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


def parse_table(
    content: bytes,
    filename: str | None = None,
    *,
    min_rows: int = 2,
    max_columns: int | None = None,
) -> ParsedTable:
    if not content.strip():
        raise InvalidInput("The file is empty: upload a table with a header row and 0/1 columns.")
    file_format = detect_format(filename, content)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet}[file_format]
    frame = reader(content, max_columns)
    names = [str(c).strip() for c in frame.columns]
    _check_columns(names, max_columns)
    if len(frame.columns) == 0:
        raise InvalidInput("The file has no columns.")
    if len(frame) < min_rows:
        raise InvalidInput(
            f"The file has {len(frame)} data row(s); at least {min_rows} are needed "
            "(one row per household)."
        )
    frame.columns = names
    frame = _numbers_from_binary_text(frame)
    return ParsedTable(
        frame=frame,
        file_format=file_format,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        columns=profile_columns(frame),
    )


def _line_of(content: bytes, position: int) -> int:
    return content.count(b"\n", 0, position) + 1


def _decode(content: bytes) -> str:
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" is UTF-16
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "The file starts like UTF-16 text but is not valid UTF-16; save it as UTF-8 CSV."
            ) from exc
    nul = content.find(b"\x00")
    if nul >= 0:
        raise InvalidInput(
            f"The file holds binary data (a NUL byte on line {_line_of(content, nul)}), not "
            "CSV text; upload a CSV, an XLSX workbook or a Parquet file."
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if UTF8_SEQUENCE.search(content):
            bad = content[exc.start : exc.start + 1].hex()
            raise InvalidInput(
                "The file mixes text encodings: it has UTF-8 characters, but line "
                f"{_line_of(content, exc.start)} has a byte (0x{bad}) that is not UTF-8 "
                "(Windows-1252 or Latin-1, perhaps pasted from another file). "
                "Save the whole file as UTF-8."
            ) from exc
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is neither UTF-8 nor Windows-1252 text; save it as UTF-8 CSV."
        ) from exc


def _read_csv(content: bytes, max_columns: int | None = None) -> pd.DataFrame:
    text = _decode(content)
    # Old Mac (CR) and Windows (CRLF) line ends, for the header checks; pandas reads all three.
    sample = text[:65536].replace("\r\n", "\n").replace("\r", "\n")
    try:
        dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    first_line = sample.split("\n", 1)[0]
    if first_line.count('"') % 2:
        raise InvalidInput(
            'The header row opens a quote (") that it never closes; fix the quotes in the '
            f"first line: {first_line.strip()[:80]}"
        )
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    _check_columns([h.strip() for h in header], max_columns)
    if len(header) == 1:
        _refuse_unknown_delimiter(header[0])
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delimiter, skipinitialspace=True, keep_default_na=True
        )
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(
            "The file has no data: it needs a header row and one row per household."
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        hint = (
            ' A quote (") opens a field and is never closed.'
            if "EOF inside string" in reason
            else ""
        )
        raise InvalidInput(f"The CSV could not be read: {reason}.{hint}") from exc


def _refuse_unknown_delimiter(name: str) -> None:
    """A one-column header that holds separators: the file uses a delimiter we do not split on."""
    marks = Counter(ch for ch in name.strip() if not ch.isalnum() and ch not in "_'\"")
    if not marks:
        return
    mark = marks.most_common(1)[0][0]
    raise InvalidInput(
        f'The file has a single column named "{name.strip()[:80]}": its columns seem to be '
        f'separated by "{mark}". Separate columns with commas, semicolons, tabs or "|".'
    )


def _read_xlsx(content: bytes, max_columns: int | None = None) -> pd.DataFrame:
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
        _check_columns(names, max_columns)
        frame = pd.DataFrame(list(rows), columns=names)
        book.close()
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"The XLSX file could not be read: {exc}") from exc
    return frame.dropna(how="all")


def _read_parquet(content: bytes, max_columns: int | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(content))
        schema = parquet.schema_arrow
    except Exception as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}") from exc
    _check_columns(schema.names, max_columns)
    nested = [f'"{f.name}" ({f.type})' for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise InvalidInput(
            f"Column(s) {', '.join(nested[:5])} hold nested values (lists, structs or maps); "
            "every column must hold one plain value per row. Flatten or drop them."
        )
    try:
        return parquet.read().to_pandas()
    except Exception as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}") from exc


def _check_columns(names: list[Any], max_columns: int | None = None) -> None:
    if max_columns is not None and len(names) > max_columns:
        raise InvalidInput(
            f"The file has {len(names)} columns; at most {max_columns} are accepted "
            "(MAX_COLUMNS). Keep the ID, the product columns and the covariates you need."
        )
    blank = [i + 1 for i, n in enumerate(names) if n is None or str(n).strip() == ""]
    if blank and len(blank) == len(names):
        raise InvalidInput("The header row is empty: the first row must name the columns.")
    if blank:
        raise InvalidInput(f"Column(s) {blank} have no name in the header row; name every column.")
    control = [i + 1 for i, n in enumerate(names) if any(ord(ch) < 32 for ch in str(n))]
    if control:
        raise InvalidInput(
            f"Column(s) {control[:10]} have control characters (line breaks, tabs, NUL) in "
            "their names; give them plain names."
        )
    values = [str(n).strip() for n in names]
    if len(values) >= 2 and all(v in BINARY_TEXT for v in values[1:]):
        shown = ", ".join(f'"{v}"' for v in values[:6])
        raise InvalidInput(
            f"The first row ({shown}, …) looks like data, not column names: the first row "
            "must name the columns (e.g. household_id, product names)."
        )
    seen: set[str] = set()
    dupes = sorted({str(n) for n in names if str(n) in seen or seen.add(str(n))})  # type: ignore[func-returns-value]
    if dupes:
        listed = ", ".join(f'"{d}"' for d in dupes)
        raise InvalidInput(f"Duplicate column names: {listed}. Each column needs its own name.")


def _binary_like(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() in BINARY_TEXT
    return isinstance(value, (int, float, bool, np.number)) and value in (0, 1)


def _binary_number(value: Any) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    return BINARY_TEXT[value.strip()] if isinstance(value, str) else float(value)


def _numbers_from_binary_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that only hold 0/1 ("1", " 0", "1.0": XLSX text cells) become numbers."""
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object:
            present = series.dropna()
            if not present.empty and present.map(_binary_like).all():
                frame[name] = series.map(_binary_number).astype(float)
    return frame


def _non_binary_values(series: pd.Series) -> list[Any]:
    values = series.dropna()
    if values.empty:
        return []
    if pd.api.types.is_bool_dtype(values):
        return []
    if pd.api.types.is_numeric_dtype(values):
        bad = values[~values.isin([0, 1])]
    else:
        bad = values[~values.map(_binary_like)]
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
    if isinstance(value, str):
        # Shown in messages and stored in JSON (PostgreSQL refuses NUL in JSON): keep it short.
        text = value.replace("\x00", "\\x00")
        return text if len(text) <= 100 else text[:99] + "…"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


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
