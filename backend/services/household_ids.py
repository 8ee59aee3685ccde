"""The ID column: one text value per household, none missing, none repeated.

Checked where the ID is named: the upload's `id_column` field, or a run's `id_column`. The
upload profiled every text column with its missing rows and repeated values, so the check reads
the profile; a dataset stored before those were profiled has its ID column read once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.errors import InvalidInput
from backend.orm import Dataset
from backend.schemas.api import ColumnProfile, ValueRepeats
from backend.services.cells import SHOWN, jsonable
from backend.services.ingest import format_values
from backend.storage.records import dataset_frame

# How each format numbers the rows a profile's `missing_rows` lists.
ROW_WORDS = {"csv": "line", "xlsx": "sheet row", "parquet": "row"}


def check_id_column(
    profiles: Sequence[ColumnProfile],
    name: str,
    dataset: Dataset | None = None,
    file_format: str | None = None,
) -> None:
    """Refuse an ID column that is unknown, a 0/1 column, or has missing or repeated IDs (the
    stored dataset, or at upload the file's format, says how its rows are numbered)."""
    column = next((c for c in profiles if c.name == name), None)
    if column is None:
        raise InvalidInput(f"Unknown ID column(s): {format_values([name])}.")
    if column.kind == "empty":
        raise InvalidInput(f'The ID column "{name}" is empty: every value is missing.')
    if column.is_binary:
        raise InvalidInput(
            f'The ID column "{name}" holds only 0/1 values (a product?), not one ID per household.'
        )
    file_format = file_format or (dataset.file_format if dataset is not None else None)
    repeats, missing_rows = column.repeats, column.missing_rows
    row_word = ROW_WORDS.get(file_format or "", "row")
    if repeats is None or missing_rows is None:  # profiled before IDs were: read the column
        if dataset is None or (column.n_missing == 0 and not _may_repeat(column, dataset)):
            return
        repeats, missing_rows = _from_data(dataset, name)
        row_word = "data row"
    problems = []
    if column.n_missing:
        where = ", ".join(str(n) for n in missing_rows) + (
            " …" if column.n_missing > len(missing_rows) else ""
        )
        problems.append(f"{column.n_missing} row(s) have no ID ({row_word} {where})")
    if repeats.n_values:
        shown = ", ".join(f'"{value}" ({count} rows)' for value, count in repeats.examples.items())
        more = " …" if repeats.n_values > len(repeats.examples) else ""
        problems.append(
            f"{repeats.n_values} ID(s) are repeated, on {repeats.n_rows} rows: {shown}{more}"
        )
    if problems:
        raise InvalidInput(
            f'The ID column "{name}" must hold one ID per household: '
            + "; ".join(problems)
            + ". Fix the file, or choose another ID column (or none: rows are then numbered)."
        )


def _may_repeat(column: ColumnProfile, dataset: Dataset) -> bool:
    return column.n_unique < dataset.n_rows - column.n_missing


def _from_data(dataset: Dataset, name: str) -> tuple[ValueRepeats, list[int]]:
    values = dataset_frame(dataset, [name])[name]
    missing = values.isna().to_numpy()
    text = values[~missing].astype(str)
    counts = text.value_counts(sort=True)
    repeated = counts[counts > 1]
    repeats = ValueRepeats(
        n_values=len(repeated),
        n_rows=int(repeated.sum()),
        examples={jsonable(str(k)): int(v) for k, v in repeated.head(SHOWN).items()},
    )
    return repeats, [int(n) + 1 for n in np.flatnonzero(missing)[:SHOWN]]
