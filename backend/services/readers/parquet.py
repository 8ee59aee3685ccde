"""Parquet files, read column by column from Arrow (never through pandas' metadata).

A stored index (pandas writes a named or non-range index as a column) is read as an ordinary
column, first, as `reset_index` would place it. Numbers, booleans and decimals whose values are
all 0 or 1 become 0/1 floats; every other column becomes text exactly: integers of any size,
decimals as written ("0.50"), bytes decoded as UTF-8 (not "b'H0000'"), dates in ISO form.
"""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backend.errors import InvalidInput
from backend.services.cells import number_text
from backend.services.readers.header import check_header
from backend.services.readers.table import RawTable, ReadOptions

UNNAMED_INDEX = re.compile(r"__index_level_\d+__")


def read(source: BinaryIO, options: ReadOptions) -> RawTable:
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
    except Exception as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}") from exc
    index = _index_columns(schema)
    names = [_column_name(n) for n in [*index, *(n for n in schema.names if n not in index)]]
    check_header(names, options.max_columns)
    nested = [f'"{f.name}" ({f.type})' for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise InvalidInput(
            f"Column(s) {', '.join(nested[:5])} hold nested values (lists, structs or maps); "
            "every column must hold one plain value per row. Flatten or drop them."
        )
    try:
        table = parquet.read()
    except Exception as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}") from exc
    order = [*index, *(n for n in table.column_names if n not in index)]
    columns = {_column_name(n): _column(table.column(n), _column_name(n)) for n in order}
    frame = pd.DataFrame(columns) if columns else pd.DataFrame()
    notes = [f'The file\'s stored index "{_column_name(n)}" was read as a column.' for n in index]
    return RawTable(
        frame=frame,
        row_numbers=np.arange(1, table.num_rows + 1),
        row_word="row",
        notes=notes,
        na_tokens=False,
    )


def _index_columns(schema: pa.Schema) -> list[str]:
    """The columns pandas stored for a DataFrame index (a RangeIndex is stored as metadata)."""
    meta = (schema.metadata or {}).get(b"pandas")
    if not meta:
        return []
    try:
        listed = json.loads(meta).get("index_columns", [])
    except (ValueError, AttributeError):
        return []
    return [n for n in listed if isinstance(n, str) and n in schema.names]


def _column_name(name: str) -> str:
    return "index" if UNNAMED_INDEX.fullmatch(name) else name


def _column(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """0/1 floats (NaN missing) when every value is 0 or 1, else text (None missing)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_boolean(kind):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind):
        floats = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        present = floats[~np.isnan(floats)]
        if np.isin(present, (0.0, 1.0)).all():
            return floats
        if pa.types.is_floating(kind):
            return _float_text(floats)
    if pa.types.is_null(kind):
        return np.full(len(column), None, dtype=object)
    return _text(column, name)


def _float_text(values: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([number_text(float(u)) for u in uniques] + [None], dtype=object)
    return texts[codes]


def _text(column: pa.ChunkedArray, name: str) -> np.ndarray:
    try:
        text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            raise InvalidInput(
                f'Column "{name}" holds bytes that are not UTF-8 text; store it as text '
                "(e.g. decoded IDs) or drop it."
            ) from exc
        raise InvalidInput(
            f'Column "{name}" has a type ({column.type}) that cannot be read as text or 0/1.'
        ) from exc
    out: Any = text.to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=object)
