"""XLSX workbooks, streamed by openpyxl's read-only reader: cells keep the workbook's own values.

Which sheet: the `sheet` form field, else the first sheet that holds data. Other sheets that
hold data are named (in the dataset's notes, and in any refusal) with how to pick one. Merged
cells are refused with their ranges: a merged range keeps its value in its first cell only.
"""

from __future__ import annotations

import re
import zipfile
from itertools import islice
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from backend.errors import InvalidInput
from backend.services.readers.header import check_header
from backend.services.readers.table import RawTable, ReadOptions

# Expanded size cap for an XLSX (a zip): refuses zip bombs before openpyxl inflates them.
MAX_XLSX_EXPANSION = 50
# Rows looked at to decide whether a sheet holds data.
PROBE_ROWS = 200
MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)"')
CHUNK = 1 << 20


def read(source: BinaryIO, options: ReadOptions) -> RawTable:
    _refuse_zip_bomb(source)
    import openpyxl

    source.seek(0)
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:
        raise InvalidInput(f"The XLSX file could not be read: {exc}") from exc
    hint = ""
    try:
        sheet, notes, hint = _choose_sheet(book, options.sheet)
        _refuse_merged_cells(book, sheet)
        table = _read_sheet(sheet, options)
    except InvalidInput as exc:
        raise InvalidInput(exc.message + hint) from exc
    except Exception as exc:
        raise InvalidInput(f"The XLSX file could not be read: {exc}") from exc
    finally:
        book.close()
    table.notes[:0] = notes
    table.hint = hint
    return table


def _refuse_zip_bomb(source: BinaryIO) -> None:
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise InvalidInput("The XLSX file is damaged (not a valid zip archive).") from exc
    if expanded > MAX_XLSX_EXPANSION * max(size, 1_000_000):
        raise InvalidInput(
            f"The XLSX file expands to {expanded / 1e6:.0f} MB; that is too large to read safely."
        )


def _holds_data(sheet: Any) -> bool:
    rows = islice(sheet.iter_rows(values_only=True), PROBE_ROWS)
    return any(_filled(v) for row in rows for v in row)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _choose_sheet(book: Any, wanted: str | None) -> tuple[Any, list[str], str]:
    """The sheet to read, notes about the choice, and a hint for refusals."""
    names = list(book.sheetnames)
    if wanted is not None:
        if wanted not in names:
            raise InvalidInput(
                f'The workbook has no sheet "{wanted}"; its sheets are {_quoted(names)}. '
                'Name one of them in the "sheet" form field.'
            )
        return book[wanted], [], ""
    with_data = [name for name in names if _holds_data(book[name])]
    if not with_data:
        raise InvalidInput(
            f"The XLSX file has no data: its sheet(s) {_quoted(names)} are empty. Put the table "
            "(a header row, then one row per household) on the first sheet."
        )
    how = 'pick one with the "sheet" form field'
    if with_data[0] != names[0] and len(with_data) > 1:
        raise InvalidInput(
            f'The first sheet "{names[0]}" is empty and {len(with_data)} sheets hold data: '
            f"{_quoted(with_data)}; {how} (e.g. sheet={with_data[0]})."
        )
    chosen = with_data[0]
    others = with_data[1:]
    notes = []
    if chosen != names[0]:
        notes.append(f'Read sheet "{chosen}", the only sheet that holds data.')
    hint = ""
    if others:
        notes.append(
            f'Read sheet "{chosen}"; sheet(s) {_quoted(others)} also hold data: to read another, '
            f"{how}."
        )
        hint = f' (This is sheet "{chosen}"; sheet(s) {_quoted(others)} also hold data: {how}.)'
    return book[chosen], notes, hint


def _refuse_merged_cells(book: Any, sheet: Any) -> None:
    """Merged ranges are listed after the cells in the sheet's XML: scanned in chunks."""
    found: list[str] = []
    tail = b""
    # openpyxl's read-only sheet keeps its part's path in the archive it reads from.
    with book._archive.open(sheet._worksheet_path) as part:
        while chunk := part.read(CHUNK):
            found.extend(m.decode() for m in MERGE_CELL.findall(tail + chunk))
            tail = chunk[-200:]
    merged = list(dict.fromkeys(found))  # the overlap may find one twice
    if merged:
        shown = ", ".join(merged[:10]) + (" …" if len(merged) > 10 else "")
        raise InvalidInput(
            f'The sheet "{sheet.title}" has {len(merged)} merged cell range(s): {shown}. A merged '
            "range keeps its value in its first cell only, so the other cells would read as "
            "missing. Unmerge them and fill every cell (one value per household and column)."
        )


def _read_sheet(sheet: Any, options: ReadOptions) -> RawTable:
    rows = sheet.iter_rows(values_only=True)
    header_row = 0
    header: tuple[Any, ...] | None = None
    for header_row, row in enumerate(rows, start=1):  # noqa: B007  (the row number is used)
        if any(_filled(v) for v in row):
            header = row
            break
    if header is None:
        raise InvalidInput(f'The sheet "{sheet.title}" of the XLSX file is empty.')
    cells = list(header)
    while cells and not _filled(cells[-1]):
        cells.pop()  # the sheet's used range may be wider than its table
    names = ["" if h is None else str(h).strip() for h in cells]
    check_header(names, options.max_columns)
    width = len(names)
    data: list[tuple[Any, ...]] = []
    for number, row in enumerate(rows, start=header_row + 1):
        if len(row) > width and any(_filled(v) for v in row[width:]):
            column = next(i for i, v in enumerate(row[width:], start=width) if _filled(v))
            raise InvalidInput(
                f"Sheet row {number} has a value in column {_letters(column + 1)}, right of the "
                f"header's last named column ({_letters(width)}); name that column or clear it."
            )
        data.append(tuple(row[:width]) + (None,) * (width - len(row)))
    values = np.empty((len(data), width), dtype=object)
    if data:
        values[:] = data
    frame = pd.DataFrame(values, columns=names, dtype=object)
    numbers = header_row + 1 + np.arange(len(frame))
    return RawTable(frame=frame, row_numbers=numbers, row_word="sheet row")


def _letters(column: int) -> str:
    out = ""
    while column:
        column, rest = divmod(column - 1, 26)
        out = chr(65 + rest) + out
    return out
