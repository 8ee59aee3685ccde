"""A scoring run: the finished run's stored model applied to new households.

It reads the source run's result from the database (never a refit), matches the new data's
product columns by name to the model's products (the API checked they exist and are 0/1),
calls the family's score function (FamilySpec.score, loaded on first use), keys the table by
the new data's ID column, and writes the drift report: penetration, shares and fit per
household now against the training data."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from backend.db import session_scope
from backend.errors import DataError
from backend.families import family
from backend.orm import Artifact, Run
from backend.progress import ProgressReporter, ProgressStore, make_message
from backend.schemas.common import Phase
from backend.schemas.scoring import ScoreResult
from backend.services.cells import numbers_where_numeric
from backend.services.ingest import to_parquet
from backend.storage.records import artifact_frame
from workers.dataset_cache import datasets as dataset_cache
from workers.models.base import BinaryMatrix
from workers.models.progress import sub_progress
from workers.models.provenance import build_provenance
from workers.models.scoring import Scored
from workers.scoring.drift import drift_report


def execute(run: Run, reporter: ProgressReporter, store: ProgressStore) -> None:
    from workers import executor  # the save shared with fits

    reporter(0.0, "Loading the model and the households.", phase=Phase.loading)
    source, result, training_rows = load_source(run)
    spec = family(source.model_type)
    data = new_households(run, source, result)
    reporter(0.05, f"Scoring {data.n_rows:,} households.", phase=Phase.fitting)
    scored: Scored = spec.load_score()(data, result, sub_progress(reporter, 0.05, 0.85))
    reporter(0.85, "Comparing with the training data.")
    training = training_matrix(source, result)
    drift = drift_report(data, scored, result, training, training_rows, spec.units_field, spec.unit)
    rows = keyed(scored.rows, data, run.id_column)
    score_result = ScoreResult(
        provenance=build_provenance(
            source.model_type,
            spec.params.model_validate(source.params),
            data,
            ("numpy", "pandas"),
            scored.warnings,
        ),
        source_run_id=source.id,
        model_type=source.model_type,
        products=list(result["products"]),
        unit_keys=list(result.get(spec.units_field) or []),
        n_rows=data.n_rows,
        id_column=run.id_column,
        output_columns=[str(c) for c in rows.columns[1:]],
        drift=drift,
    )
    score_result.attach_rows(rows)
    reporter(1.0, "Saving the scores.", phase=Phase.saving)
    payload = score_result.model_dump(mode="json")
    payload.setdefault(spec.units_field, score_result.unit_keys)  # where clients look for units
    summary = {"n_rows": data.n_rows, "warnings": score_result.provenance.warnings}
    if executor._write_result(run.id, score_result, payload, summary, to_parquet(rows)):
        store.publish(
            make_message(run.id, Phase.completed, 1.0, "Completed.", details={"summary": summary})
        )


def load_source(run: Run) -> tuple[Run, dict[str, Any], pd.DataFrame | None]:
    """The finished run whose model is applied, its stored result and its per-household table."""
    with session_scope() as session:
        source = session.get(Run, run.source_run_id) if run.source_run_id else None
        if source is None or source.result is None:
            raise DataError("The run whose model this scoring run applies was deleted.")
        result = dict(source.result.result)
        rows = session.scalar(
            select(Artifact).where(Artifact.run_id == source.id, Artifact.name == "assignments")
        )
        table = artifact_frame(rows) if rows is not None else None
        session.expunge(source)
    return source, result, table


def model_features(source: Run, result: dict[str, Any]) -> list[str]:
    """The household features the model itself uses (lca_covariates' terms), not those its
    results were only profiled by."""
    terms = result.get("terms") or []
    names = [t["covariate"] for t in terms if t.get("kind") != "intercept"]
    return [c for c in source.covariate_columns if c in set(names)]


def new_households(run: Run, source: Run, result: dict[str, Any]) -> BinaryMatrix:
    frame = dataset_cache.frame(run.dataset_id)
    products = list(result["products"])
    absent = [p for p in products if p not in frame.columns]
    if absent:
        raise DataError(
            f"the model's product column(s) {', '.join(map(repr, absent[:10]))} are not in "
            "the data; products are matched by name."
        )
    features = model_features(source, result)
    data = BinaryMatrix.from_frame(frame, products, run.id_column, features or None)
    if data.covariates is not None:
        data.covariates = numbers_where_numeric(data.covariates)
    return data


def training_matrix(source: Run, result: dict[str, Any]) -> BinaryMatrix | None:
    """The training households (for penetration then): None when the dataset is gone."""
    try:
        frame = dataset_cache.frame(source.dataset_id)
    except DataError:
        return None
    return BinaryMatrix.from_frame(frame, list(result["products"]))


def keyed(rows: pd.DataFrame, data: BinaryMatrix, id_column: str | None) -> pd.DataFrame:
    """The scored table keyed by the ID column (or the 1-based row), the key never overwriting
    an output column (`id_<name>` then, as for fits)."""
    name = id_column or "row"
    while name in rows.columns:
        name = f"id_{name}"
    out = rows.reset_index(drop=True).copy()
    out.insert(0, name, data.row_index().to_numpy())
    return out
