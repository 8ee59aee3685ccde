"""Move rows stored before migration 0009 from their database blobs into storage."""

from __future__ import annotations

from collections.abc import Callable

from pyarrow import ArrowException
from sqlalchemy import select

from backend.db import session_scope
from backend.orm import Artifact, Dataset
from backend.storage.records import ensure_dataset_stored, move_artifact


def move_blobs(
    say: Callable[[str], None] = print, left: list[str] | None = None
) -> tuple[int, int]:
    """Move every dataset's and artifact's blob into storage, one row per transaction (memory
    holds one blob at a time; an interrupted move resumes where it stopped). Answers how many
    datasets and artifacts were moved; a second call moves nothing. Datasets whose blob cannot
    be read are said, added to `left` and kept as they are."""
    left = [] if left is None else left
    with session_scope() as session:
        dataset_ids = list(
            session.scalars(
                select(Dataset.id).where(Dataset.storage_key.is_(None), Dataset.data.is_not(None))
            )
        )
        artifact_ids = list(
            session.scalars(
                select(Artifact.id).where(
                    Artifact.storage_key.is_(None), Artifact.data.is_not(None)
                )
            )
        )
    datasets = 0
    for dataset_id in dataset_ids:
        try:
            moved = ensure_dataset_stored(dataset_id)
        except (ArrowException, OSError) as exc:
            # One unreadable blob must not stop the move of the others; it stays where it is.
            say(f"dataset {dataset_id} not moved: its stored rows are not readable Parquet ({exc})")
            left.append(dataset_id)
            continue
        if moved is not None:
            datasets += 1
            say(f"dataset {dataset_id} moved")
    artifacts = sum(move_artifact(artifact_id) for artifact_id in artifact_ids)
    return datasets, artifacts
