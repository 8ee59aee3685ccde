"""Completed runs stored straight through the database, as the executor stores them: the real
result of each family kept in tests/ui/fixtures (with its product map) and its per-household
rows. For tests of what is built from a finished run (charts, tables, report, ZIP) without
waiting for a fit."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.orm import Session

from backend.db import session_scope
from backend.families import family
from backend.orm import Artifact, Dataset, Result, Run
from backend.services.datasets import create_dataset
from backend.services.ingest import to_parquet
from backend.services.runs import PARQUET
from tests.ui.fixtures import result, rows
from ui.demo import ID_COLUMN, demo_frame


def stored_run(model_type: str, *, name: str | None = None, repeat_rows: int = 1) -> str:
    """A completed run of `model_type` holding its stored fixture result; answers its id.
    `repeat_rows` stacks its per-household rows that many times (a run with many households)."""
    payload = result(model_type)
    products = [str(p) for p in payload["products"]]
    frame = demo_frame(n=300, seed=5)
    try:
        household_rows = rows(model_type)
    except FileNotFoundError:
        household_rows = None
    if household_rows is not None and repeat_rows > 1:
        household_rows = pd.concat([household_rows] * repeat_rows, ignore_index=True)
    now = datetime.now(UTC)
    with session_scope() as session:
        dataset = create_dataset(
            session, frame.to_csv(index=False).encode(), filename=f"{model_type}.csv"
        )
        run = Run(
            name=name or f"stored {model_type}",
            model_type=model_type,
            status="completed",
            params=(payload.get("provenance") or {}).get("params") or {},
            dataset_id=dataset.id,
            product_columns=products,
            covariate_columns=[],
            id_column=ID_COLUMN,
            queue_name=family(model_type).queue,
            progress=1.0,
            progress_message="Completed.",
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        session.add(Result(run_id=run.id, result=payload))
        if household_rows is not None:
            session.add(
                Artifact(
                    run_id=run.id,
                    name="assignments",
                    content_type=PARQUET,
                    data=to_parquet(household_rows),
                )
            )
        return run.id


def blob_dataset(session: Session, frame: pd.DataFrame, name: str = "blob") -> Dataset:
    """A dataset stored as before migration 0009: its Parquet in the row's `data` blob."""
    dataset = Dataset(
        name=name,
        file_format="csv",
        sha256="0" * 64,
        size_bytes=1,
        n_rows=len(frame),
        n_columns=len(frame.columns),
        columns=[],
        data=to_parquet(frame),
    )
    session.add(dataset)
    session.flush()
    return dataset
