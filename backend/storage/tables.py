"""Tables as Parquet: written a row group at a time, read by columns and row groups."""

from __future__ import annotations

from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backend.settings import get_settings
from backend.storage.store import get_store


def write_parquet(frame: pd.DataFrame, sink: IO[bytes], row_group_rows: int) -> None:
    """Stream `frame` into `sink` one row group at a time: only one group's Arrow copy (and
    its text conversion) is in memory besides the frame, not a second copy of the table."""
    objects = [name for name in frame.columns if frame[name].dtype == object]
    schema = pa.Schema.from_pandas(
        _texts(frame.iloc[:row_group_rows], objects), preserve_index=False
    )
    # Mixed-type object columns (IDs, free text) are stored as strings so Parquet accepts them;
    # typed from the whole column, not from a first group that may hold only missing values.
    for name in objects:
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.string()))
    with pq.ParquetWriter(sink, schema) as writer:
        for start in range(0, max(len(frame), 1), row_group_rows):
            part = _texts(frame.iloc[start : start + row_group_rows], objects)
            writer.write_table(
                pa.Table.from_pandas(part, schema=schema, preserve_index=False),
                row_group_size=row_group_rows,
            )


def _texts(frame: pd.DataFrame, objects: list[str]) -> pd.DataFrame:
    if not objects:
        return frame
    part = frame.copy(deep=False)
    for name in objects:
        part[name] = part[name].map(_as_text).astype(object)
    return part


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def write_rows(key: str, frame: pd.DataFrame, row_group_rows: int | None = None) -> None:
    """Store a table at `key` in row groups of STORAGE_ROW_GROUP_ROWS rows."""
    rows = row_group_rows or get_settings().storage_row_group_rows
    with get_store().writer(key) as sink:
        write_parquet(frame, sink, rows)


def row_groups(key: str) -> list[int]:
    """The number of rows in each row group of the table at `key` (its footer only)."""
    with get_store().open(key) as source:
        metadata = pq.ParquetFile(source).metadata
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def read_rows(
    key: str, columns: list[str] | None = None, row_groups: list[int] | None = None
) -> pd.DataFrame:
    """The table at `key` (these columns, these row groups, in order; None: all). Only the
    footer and the chunks asked for are read (ranged reads on an object store)."""
    with get_store().open(key) as source:
        return read_parquet(source, columns, row_groups)


def read_parquet(
    source: IO[bytes], columns: list[str] | None = None, row_groups: list[int] | None = None
) -> pd.DataFrame:
    parquet = pq.ParquetFile(source)
    if row_groups is None:
        return parquet.read(columns=columns).to_pandas()
    return parquet.read_row_groups(row_groups, columns=columns).to_pandas()
