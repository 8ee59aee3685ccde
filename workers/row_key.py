"""The household ID column in a run's per-row outputs never collides with an output column.

Fits key their per-row table by `data.row_index()`, named after the ID column. An ID column
called like an output (`modal_class`, `p_class_1`, `factor_1`, `weight_2`, …) would be
overwritten by the model's values (or make the fit fail). So the executor hands fits the IDs
under a name no column can have (control characters are refused in column names at upload) and
names the key afterwards: the ID column's own name, or that name prefixed with `id_` (again if
needed) when the model wrote a column of that name — with a warning in the run's result.
"""

from __future__ import annotations

from backend.schemas.results import FitResult
from workers.models.base import BinaryMatrix

ROW_KEY = "\x1frow_key"


def hide_row_key(data: BinaryMatrix) -> BinaryMatrix:
    if data.row_ids is not None:
        data.row_ids = data.row_ids.rename(ROW_KEY)
    return data


def name_row_key(result: FitResult, id_column: str | None) -> None:
    rows = result.rows
    if rows is None or id_column is None or ROW_KEY not in rows.columns:
        return
    name = id_column
    while name in rows.columns:
        name = f"id_{name}"
    if name != id_column:
        result.provenance.warnings.append(
            f'The ID column "{id_column}" has the name of an output column; in the per-row '
            f'outputs (assignments) the IDs are in column "{name}".'
        )
    result.attach_rows(rows.rename(columns={ROW_KEY: name}))
