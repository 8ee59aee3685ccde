"""Datasets' rows and runs' artifacts, wherever they are: in storage, or (stored before
migration 0009 and not yet moved) in the row's `data` blob."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db import session_scope
from backend.orm import Artifact, Dataset, Run
from backend.storage import lifecycle
from backend.storage.store import get_store
from backend.storage.tables import read_parquet, read_rows, write_rows


def dataset_key(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/rows.parquet"


def run_prefix(run_id: str) -> str:
    return f"artifacts/{run_id}/"


def store_dataset_rows(session: Session, dataset: Dataset, frame: pd.DataFrame) -> None:
    """Write a new dataset's table to storage; the session's commit keeps it."""
    key = dataset_key(dataset.id)
    write_rows(key, frame)
    lifecycle.written(session, key)
    dataset.storage_key = key


def dataset_frame(
    dataset: Dataset, columns: list[str] | None = None, row_groups: list[int] | None = None
) -> pd.DataFrame:
    if dataset.storage_key is not None:
        return read_rows(dataset.storage_key, columns, row_groups)
    return read_parquet(io.BytesIO(dataset.data or b""), columns, row_groups)


def stored_frame(session: Session, dataset_id: str) -> pd.DataFrame | None:
    """A dataset's whole table by id (None: no such dataset), without loading the row."""
    found = session.execute(
        select(Dataset.id, Dataset.storage_key).where(Dataset.id == dataset_id)
    ).first()
    if found is None:
        return None
    if found.storage_key is not None:
        return read_rows(found.storage_key)
    blob = session.scalar(select(Dataset.data).where(Dataset.id == dataset_id))
    return read_parquet(io.BytesIO(blob)) if blob is not None else None


def ensure_dataset_stored(dataset_id: str) -> str | None:
    """The dataset's storage key, its blob moved into storage first when it still has one
    (rewritten in row groups of STORAGE_ROW_GROUP_ROWS); None: no such dataset. Idempotent and
    safe side by side: the key is the dataset's own, every mover writes the same bytes, and the
    blob is cleared only by the transaction that records the key. An object written by a mover
    whose transaction failed is kept (another may have recorded it); a rerun rewrites it."""
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.storage_key is not None:
            return dataset.storage_key if dataset else None
        if dataset.data is None:
            return None
        key = dataset_key(dataset_id)
        write_rows(key, read_parquet(io.BytesIO(dataset.data)))
        session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id, Dataset.storage_key.is_(None))
            .values(storage_key=key, data=None)
        )
        return key


def artifact_bytes(artifact: Artifact) -> bytes:
    if artifact.storage_key is not None:
        return get_store().read_bytes(artifact.storage_key)
    return artifact.data or b""


def artifact_frame(artifact: Artifact) -> pd.DataFrame:
    if artifact.storage_key is not None:
        return read_rows(artifact.storage_key)
    return read_parquet(io.BytesIO(artifact.data or b""))


def new_artifacts(
    session: Session, run_id: str, outputs: dict[str, tuple[str, bytes]]
) -> list[Artifact]:
    """Write a save's outputs (name → content type, bytes) under a new save id and answer
    their rows, for the caller to add; the session's commit keeps the objects."""
    save = uuid.uuid4().hex
    artifacts = []
    for name, (content_type, data) in outputs.items():
        key = f"{run_prefix(run_id)}{save}/{name}"
        get_store().put_bytes(key, data)
        lifecycle.written(session, key)
        artifacts.append(
            Artifact(run_id=run_id, name=name, content_type=content_type, storage_key=key)
        )
    return artifacts


def copy_artifacts(session: Session, artifacts: Iterable[Artifact], run_id: str) -> list[Artifact]:
    """Copies of another run's artifacts for `run_id` (a sweep's parent keeps its best child's),
    each its own object: either run can be deleted alone."""
    save = uuid.uuid4().hex
    copies = []
    for artifact in artifacts:
        key = f"{run_prefix(run_id)}{save}/{artifact.name}"
        if artifact.storage_key is not None:
            get_store().copy(artifact.storage_key, key)
        else:
            get_store().put_bytes(key, artifact.data or b"")
        lifecycle.written(session, key)
        copies.append(
            Artifact(
                run_id=run_id,
                name=artifact.name,
                content_type=artifact.content_type,
                storage_key=key,
            )
        )
    return copies


def forget_artifacts(session: Session, run_id: str) -> None:
    """The run's current artifact objects go once the transaction (which deletes or replaces
    their rows) commits."""
    keys = session.scalars(
        select(Artifact.storage_key).where(
            Artifact.run_id == run_id, Artifact.storage_key.is_not(None)
        )
    )
    lifecycle.forget(session, *[k for k in keys if k is not None])


def forget_runs(session: Session, run_ids: Iterable[str]) -> None:
    """Every object of these runs and of the runs deleted with them (a sweep's children, runs
    made from them), removed once the deletion commits."""
    pending, seen = list(run_ids), set[str]()
    # Without a flush: the caller's deletions so far go with the rest at its commit (a flush
    # now would delete a sweep's children with their parent, and then again).
    with session.no_autoflush:
        while pending:
            seen.update(pending)
            descendants = select(Run.id).where(
                Run.parent_id.in_(pending) | Run.source_run_id.in_(pending)
            )
            pending = [i for i in session.scalars(descendants) if i not in seen]
    lifecycle.forget(session, *[run_prefix(i) for i in sorted(seen)])


def forget_dataset(session: Session, dataset: Dataset) -> None:
    lifecycle.forget(session, f"datasets/{dataset.id}/")


def move_artifact(artifact_id: int) -> bool:
    """Move one artifact's blob into storage (False: nothing to move)."""
    with session_scope() as session:
        artifact = session.get(Artifact, artifact_id)
        if artifact is None or artifact.storage_key is not None or artifact.data is None:
            return False
        (moved,) = new_artifacts(
            session, artifact.run_id, {artifact.name: (artifact.content_type, artifact.data)}
        )
        recorded = session.execute(
            update(Artifact)
            .where(Artifact.id == artifact_id, Artifact.storage_key.is_(None))
            .values(storage_key=moved.storage_key, data=None)
        )
        if recorded.rowcount != 1:  # type: ignore[attr-defined]  # moved by another mover
            lifecycle.abandon(session)
        return recorded.rowcount == 1  # type: ignore[attr-defined]
