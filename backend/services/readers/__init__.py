"""Readers turn an uploaded file into raw cells, one reader per format; `backend.services.cells`
then types the cells (0/1 products as numbers, everything else as the file's text).

A reader never guesses a type: CSV cells stay strings, XLSX cells the workbook's own values,
and Parquet columns are 0/1 numbers only when every value is 0 or 1 (text otherwise).
"""

from __future__ import annotations

from typing import BinaryIO

from backend.services.readers import delimited, parquet, workbook
from backend.services.readers.table import RawTable, ReadOptions

__all__ = ["RawTable", "ReadOptions", "read_table"]

READERS = {"csv": delimited.read, "xlsx": workbook.read, "parquet": parquet.read}


def read_table(source: BinaryIO, file_format: str, options: ReadOptions) -> RawTable:
    return READERS[file_format](source, options)
