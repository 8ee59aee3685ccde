"""Datasets: store an upload, list, fetch, delete; check a run's column choice against one."""

from __future__ import annotations

from collections import Counter
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput
from backend.orm import Dataset, Run, new_id
from backend.schemas.api import ColumnProfile, DatasetOut
from backend.schemas.common import RunStatus
from backend.services.household_ids import check_id_column
from backend.services.ingest import format_values, parse_table, recode_hint
from backend.settings import get_settings
from backend.storage.records import dataset_frame, forget_dataset, store_dataset_rows

PREVIEW_ROWS = 20
MAX_NAME = 255  # names and file names are VARCHAR(255)


def upload_dataset(
    session: Session,
    content: bytes | BinaryIO,
    *,
    filename: str | None,
    name: str | None = None,
    product_columns: str | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
    kind: str = "households",
) -> Dataset:
    """Store an uploaded file as a dataset and commit it; `product_columns` is the form field
    (comma-separated) and `id_column` the ID's name, checked now when given; `sheet` picks an
    XLSX workbook's sheet. `kind="product_features"`: a table with one row per product (for a
    discrete choice run's `product_features_dataset`), so neither the households' minimum of
    rows nor 0/1 product columns are asked for."""
    dataset = create_dataset(
        session,
        content,
        filename=filename,
        name=name,
        product_columns=split_columns(product_columns),
        id_column=id_column,
        sheet=sheet,
        kind=kind,
    )
    session.commit()
    return dataset


def split_columns(names: str | None) -> list[str] | None:
    """A comma-separated list of column names from a form or query field; None when not given."""
    return [c.strip() for c in names.split(",") if c.strip()] if names else None


def create_dataset(
    session: Session,
    content: bytes | BinaryIO,
    *,
    filename: str | None,
    name: str | None = None,
    product_columns: list[str] | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
    kind: str = "households",
) -> Dataset:
    settings = get_settings()
    filename = clean_filename(filename)
    if name is not None:
        name = check_name(name, "name")
    features = kind == "product_features"
    parsed = parse_table(
        content,
        filename,
        min_rows=2 if features else settings.min_rows,
        max_columns=settings.max_columns,
        sheet=sheet,
    )
    try:
        if id_column is not None:
            check_id_column(parsed.columns, id_column, file_format=parsed.file_format)
        if product_columns is not None:
            resolve_product_columns(
                parsed.columns, product_columns, exclude=[id_column] if id_column else None
            )
        elif not features and sum(c.is_binary for c in parsed.columns) < 2:
            raise InvalidInput(
                "The file has fewer than 2 columns with only 0/1 values; product columns must "
                "be 0/1 (1 = bought). " + _describe_non_binary(parsed.columns)
            )
    except InvalidInput as exc:
        raise InvalidInput(exc.message + parsed.hint) from exc
    dataset = Dataset(
        id=new_id(),
        name=name or filename or "dataset",
        filename=filename,
        file_format=parsed.file_format,
        sha256=parsed.sha256,
        size_bytes=parsed.size_bytes,
        n_rows=len(parsed.frame),
        n_columns=len(parsed.frame.columns),
        columns=[c.model_dump(exclude_none=True) for c in parsed.columns],
        n_blank_rows=parsed.n_blank_rows,
        notes=parsed.notes,
    )
    # Streamed to storage a row group at a time before the row is added; a transaction that
    # does not commit removes the object (backend/storage/lifecycle.py).
    store_dataset_rows(session, dataset, parsed.frame)
    session.add(dataset)
    session.flush()
    return dataset


def clean_filename(filename: str | None) -> str | None:
    """The file's own name: no client path (C:\\fakepath\\...), no control characters, and
    short enough for the column (the extension is kept)."""
    if filename is None:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ord(ch) >= 32).strip()
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            base = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_NAME]
    return base or None


def check_name(value: str, field: str) -> str:
    """A name given by the client: refused when too long or holding control characters."""
    if len(value) > MAX_NAME:
        raise InvalidInput(f'"{field}" has {len(value)} characters; at most {MAX_NAME}.')
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f'"{field}" holds control characters (line breaks, tabs, NUL).')
    return value


def non_binary_sentence(column: ColumnProfile) -> str:
    if column.kind == "empty":
        return f'Column "{column.name}" is empty (every value is missing).'
    return (
        f'Column "{column.name}" has values other than 0/1: {format_values(column.examples)}.'
        + recode_hint(column.examples)
    )


def _describe_non_binary(columns: list[ColumnProfile]) -> str:
    bad = [c for c in columns if not c.is_binary and (c.examples or c.kind == "empty")]
    return " ".join(non_binary_sentence(c) for c in bad[:3])


def resolve_product_columns(
    columns: list[ColumnProfile],
    product_columns: list[str] | None,
    *,
    exclude: list[str] | None = None,
) -> list[str]:
    """The run's product columns: named ones checked to be 0/1, or every 0/1 column."""
    by_name = {c.name: c for c in columns}
    excluded = set(exclude or [])  # a set: every check below is linear in the lists
    if product_columns is None:
        chosen = [
            c.name for c in columns if c.is_binary and c.name not in excluded and not _constant(c)
        ]
    else:
        unknown = [n for n in product_columns if n not in by_name]
        if unknown:
            raise InvalidInput(
                f"Unknown product column(s): {format_values(unknown)}. "
                f"The dataset has: {format_values(list(by_name)[:30])}."
            )
        dupes = sorted(n for n, count in Counter(product_columns).items() if count > 1)
        if dupes:
            raise InvalidInput(f"Product column(s) listed twice: {format_values(dupes)}.")
        overlap = [n for n in product_columns if n in excluded]
        if overlap:
            raise InvalidInput(
                f"Column(s) {format_values(overlap)} cannot be both a product and the ID "
                "or a covariate."
            )
        for name in product_columns:
            column = by_name[name]
            if column.kind == "empty":
                raise InvalidInput(non_binary_sentence(column))
            if not column.is_binary:
                raise InvalidInput(
                    non_binary_sentence(column) + " Product columns must be 0/1 (1 = bought)."
                )
            if _constant(column):
                everyone = (
                    "every household bought it" if column.prevalence == 1 else "nobody bought it"
                )
                raise InvalidInput(
                    f'Column "{name}" is constant ({everyone}); it cannot separate households. '
                    "Leave it out of the product columns."
                )
        chosen = list(product_columns)
    if len(chosen) < 2:
        raise InvalidInput(
            f"At least 2 product columns (0/1) are needed; got {len(chosen)}"
            + (f": {format_values(chosen)}." if chosen else ".")
        )
    return chosen


def _constant(column: ColumnProfile) -> bool:
    return column.is_binary and column.n_unique < 2


def check_other_columns(columns: list[ColumnProfile], names: list[str], role: str) -> None:
    known = {c.name for c in columns}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"Unknown {role} column(s): {format_values(unknown)}.")


def list_datasets(session: Session, limit: int, offset: int) -> tuple[list[Dataset], int]:
    total = session.scalar(select(func.count()).select_from(Dataset)) or 0
    items = session.scalars(
        select(Dataset).order_by(Dataset.created_at.desc()).limit(limit).offset(offset)
    ).all()
    return list(items), total


def load_frame(
    dataset: Dataset, columns: list[str] | None = None, row_groups: list[int] | None = None
) -> Any:
    return dataset_frame(dataset, columns, row_groups)


def dataset_out(dataset: Dataset, *, preview: bool = False) -> DatasetOut:
    out = DatasetOut.model_validate(dataset)
    if preview:
        # The first row group holds the preview: the rest of the table is not read.
        frame = load_frame(dataset, row_groups=[0]).head(PREVIEW_ROWS).astype(object)
        for column in out.columns:  # 0/1 columns are stored as floats: shown as 0 and 1
            if column.is_binary and column.name in frame:
                frame[column.name] = frame[column.name].map(_whole)
        out.preview = frame.where(frame.notna(), None).to_dict(orient="records")
    return out


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def delete_dataset(session: Session, dataset: Dataset, *, force: bool) -> None:
    """Delete a dataset (with its runs when forced) and commit: the client may look it up next."""
    active = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.dataset_id == dataset.id)
        .where(Run.status.in_([RunStatus.queued, RunStatus.running]))
    )
    users = session.scalar(
        select(func.count()).select_from(Run).where(Run.dataset_id == dataset.id)
    )
    if users and not force:
        raise Conflict(
            f"Dataset {dataset.id} is used by {users} run(s)"
            + (f", {active} of them queued or running" if active else "")
            + ". Delete those runs first, or pass force=true to delete them with the dataset."
        )
    if users:
        from backend.services.runs import discard_run

        for run in list(dataset.runs):
            discard_run(session, run)
    forget_dataset(session, dataset)
    session.delete(dataset)
    session.commit()
