"""Move rows stored before migration 0009 from their database blobs into storage."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from backend.db import session_scope
from backend.orm import Artifact, Dataset
from backend.storage.records import ensure_dataset_stored, move_artifact


def move_blobs(say: Callable[[str], None] = print) -> tuple[int, int]:
    """Move every dataset's and artifact's blob into storage, one row per transaction (memory
    holds one blob at a time; an interrupted move resumes where it stopped). Answers how many
    datasets and artifacts were moved; a second call moves nothing."""
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
        if ensure_dataset_stored(dataset_id) is not None:
            datasets += 1
            say(f"dataset {dataset_id} moved")
    artifacts = sum(move_artifact(artifact_id) for artifact_id in artifact_ids)
    return datasets, artifacts
