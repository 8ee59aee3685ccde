"""CSV and other delimited text, read as text from the first byte and streamed from the upload.

One pass over the bytes finds the encoding (UTF-16 by its byte-order mark, else UTF-8, else
Windows-1252; binary data and mixed encodings refused with the line). Then the lines above the
header are taken by hand — blank lines, Excel's `sep=;` hint (honoured) and comment lines
starting with `#` (skipped and counted) — the header is split and checked at its full width,
and pandas reads the rest with every cell a string. A data line that is a comment (its first
cell starts with `#`, every other cell empty) is skipped and counted too; a `#` cell with values
beside it is data (an ID may start with `#`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.services.readers.header import check_header
from backend.services.readers.table import RawTable, ReadOptions

CHUNK = 1 << 20
DELIMITERS = ",;\t|"
SEP_HINT = re.compile(r"\s*sep=(.)\s*", re.I)
# A complete UTF-8 multi-byte sequence: its presence in a file that is not valid UTF-8 means
# two encodings were mixed (a genuine Windows-1252 file almost never contains one).
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
PANDAS_LINE = re.compile(r"\bline (\d+)")


def read(source: BinaryIO, options: ReadOptions) -> RawTable:
    encoding = detect_encoding(source)
    source.seek(0)
    text = io.TextIOWrapper(source, encoding=encoding, newline="")
    try:
        return _read_text(text, options)
    finally:
        text.detach()  # the upload stays open for its owner


def _line_of(prefix: bytes, newlines_before: int) -> int:
    return newlines_before + prefix.count(b"\n") + 1


def detect_encoding(source: BinaryIO) -> str:
    """The file's text encoding, from one streamed pass; binary data and mixed encodings are
    refused naming the line."""
    source.seek(0)
    first = source.read(2)
    if first in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" is UTF-16
        return _checked_utf16(source)
    source.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    bad: tuple[int, str] | None = None  # the first byte that is not UTF-8: its line, in hex
    while chunk := source.read(CHUNK):
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise InvalidInput(
                f"The file holds binary data (a NUL byte on line {_line_of(chunk[:nul], newlines)}"
                "), not CSV text; upload a CSV, an XLSX workbook or a Parquet file."
            )
        if bad is None:
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                local = max(exc.start - pending, 0)
                bad = (_line_of(chunk[:local], newlines), chunk[local : local + 1].hex())
        newlines += chunk.count(b"\n")
    if bad is None:
        try:
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            bad = (newlines + 1, "")
    if _has_utf8_sequence(source):
        raise InvalidInput(
            "The file mixes text encodings: it has UTF-8 characters, but line "
            f"{bad[0]} has a byte (0x{bad[1]}) that is not UTF-8 "
            "(Windows-1252 or Latin-1, perhaps pasted from another file). "
            "Save the whole file as UTF-8."
        )
    return _checked_cp1252(source)


def _has_utf8_sequence(source: BinaryIO) -> bool:
    source.seek(0)
    tail = b""
    while chunk := source.read(CHUNK):
        if UTF8_SEQUENCE.search(tail + chunk):
            return True
        tail = chunk[-3:]
    return False


def _checked_utf16(source: BinaryIO) -> str:
    source.seek(0)
    decoder = codecs.getincrementaldecoder("utf-16")()
    try:
        while chunk := source.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file starts like UTF-16 text but is not valid UTF-16; save it as UTF-8 CSV."
        ) from exc
    return "utf-16"


def _checked_cp1252(source: BinaryIO) -> str:
    source.seek(0)
    try:
        while chunk := source.read(CHUNK):
            chunk.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is neither UTF-8 nor Windows-1252 text; save it as UTF-8 CSV."
        ) from exc
    return "cp1252"


class _Chain:
    """The header line, then the rest of the stream: what pandas reads."""

    def __init__(self, first: str, rest: io.TextIOBase) -> None:
        self.first, self.rest = first, rest

    def read(self, size: int = -1) -> str:
        if self.first:
            out, self.first = self.first, ""
            return out
        return self.rest.read(size)

    def __iter__(self) -> _Chain:
        return self

    def __next__(self) -> str:
        raise StopIteration


def _read_text(text: io.TextIOWrapper, options: ReadOptions) -> RawTable:
    notes: list[str] = []
    delimiter: str | None = None
    hinted = False
    comments: list[int] = []
    number = 0
    while True:
        line = text.readline()
        number += 1
        if not line:
            raise InvalidInput(
                "The file is empty: upload a table with a header row and 0/1 columns."
                if not comments
                else "The file holds only comment lines (starting with #): it needs a header "
                "row and one row per household."
            )
        stripped = line.strip()
        hint = SEP_HINT.fullmatch(line.rstrip("\r\n")) if number == 1 else None
        if hint:
            delimiter, hinted = hint.group(1), True
            shown = "sep=" + ("\\t" if delimiter == "\t" else delimiter)
            notes.append(f'The first line "{shown}" set the delimiter, as Excel does.')
        elif stripped.startswith("#"):
            comments.append(number)
        elif stripped:
            break
    header_line = number
    first = line.rstrip("\r\n")
    if first.count('"') % 2:
        raise InvalidInput(
            'The header row opens a quote (") that it never closes; fix the quotes in the '
            f"first line: {first.strip()[:80]}"
        )
    delimiter = delimiter or _sniff(first)
    header = next(csv.reader([first], delimiter=delimiter, skipinitialspace=True), [])
    check_header([h.strip() for h in header], options.max_columns)
    if len(header) == 1:
        _refuse_unknown_delimiter(header[0], notes[0] if hinted else "")
    frame = _read_rows(_Chain(line, text), delimiter, header_line - 1)
    lines = header_line + 1 + np.arange(len(frame))
    frame, lines = _drop_comment_rows(frame, lines, comments)
    if comments:
        shown = ", ".join(str(n) for n in comments[:5]) + (" …" if len(comments) > 5 else "")
        notes.append(
            f"{len(comments)} comment line(s) starting with # were skipped (line {shown})."
        )
    return RawTable(frame=frame, row_numbers=lines, row_word="line", notes=notes)


def _sniff(first_line: str) -> str:
    try:
        dialect: Any = csv.Sniffer().sniff(first_line[:65536], delimiters=DELIMITERS)
        return str(dialect.delimiter)
    except csv.Error:
        return ","


def _read_rows(chain: _Chain, delimiter: str, skipped: int) -> pd.DataFrame:
    try:
        return pd.read_csv(
            chain,  # type: ignore[call-overload]
            sep=delimiter,
            dtype=object,  # Python strings: no Arrow round trip before typing
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(
            "The file has no data: it needs a header row and one row per household."
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        if skipped:  # pandas counts from the header; people count from the top of the file
            reason = PANDAS_LINE.sub(lambda m: f"line {int(m.group(1)) + skipped}", reason)
        hint = (
            ' A quote (") opens a field and is never closed.'
            if "EOF inside string" in reason
            else ""
        )
        raise InvalidInput(f"The CSV could not be read: {reason}.{hint}") from exc


def _drop_comment_rows(
    frame: pd.DataFrame, lines: np.ndarray, comments: list[int]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows whose first cell starts with # and whose other cells are empty are comments."""
    if frame.empty:
        return frame, lines
    first = frame.iloc[:, 0].str.lstrip()
    mask = np.array(first.str.startswith("#"), dtype=bool)
    if not mask.any():
        return frame, lines
    for position in range(1, frame.shape[1]):
        mask &= (frame.iloc[:, position].str.strip() == "").to_numpy(dtype=bool)
    if not mask.any():
        return frame, lines
    comments.extend(int(n) for n in lines[mask])
    keep = ~mask
    return frame.loc[keep].reset_index(drop=True), lines[keep]


def _refuse_unknown_delimiter(name: str, hint_note: str = "") -> None:
    """A one-column header that holds separators: the file uses a delimiter we do not split on
    (or its `sep=` line names another one)."""
    marks = Counter(ch for ch in name.strip() if not ch.isalnum() and ch not in "_'\"")
    if not marks:
        return
    mark = marks.most_common(1)[0][0]
    fix = (
        f" {hint_note[:-1]}: remove that line or make it match."
        if hint_note
        else ' Separate columns with commas, semicolons, tabs or "|".'
    )
    raise InvalidInput(
        f'The file has a single column named "{name.strip()[:80]}": its columns seem to be '
        f'separated by "{mark}".{fix}'
    )
