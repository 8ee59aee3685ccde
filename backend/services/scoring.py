"""Scoring runs: a finished run's stored model applied to new households, on the queue like
every run (docs/scoring.md). The API checks what it can from the data's profile — the model's
products present and 0/1, the ID column, the household features and their categories — so a
request that can never score is a 422 naming the column, before anything is queued."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import __version__
from backend.auth import ANONYMOUS
from backend.errors import Conflict, InvalidInput, NotFound
from backend.families import FamilySpec, family
from backend.orm import Dataset, Run, is_id
from backend.schemas.api import ColumnProfile
from backend.schemas.scoring import ModelDocument, ScoreCreate
from backend.services import runs as run_service
from backend.services.cells import numbers_where_numeric
from backend.services.datasets import check_other_columns, create_dataset, non_binary_sentence
from backend.services.household_ids import check_id_column
from backend.services.ingest import format_values
from backend.storage.records import dataset_frame

MISSING_LEVEL = "(missing)"  # how a blank category is a level (workers/models/lca/covariates.py)


def scorable(run: Run) -> tuple[FamilySpec, dict[str, Any]]:
    """The finished fit whose model can be applied, its family and stored result."""
    run_service.require_completed(run)
    assert run.result is not None
    spec = family(run.model_type)
    if run.kind != "fit":
        raise InvalidInput(
            f"Run {run.id} is a {run.kind} run, not a fitted model; score with "
            f"the run it was made from ({run.source_run_id})."
        )
    if run.children:
        values = ", ".join(str(c.sweep_value) for c in run.children)
        raise InvalidInput(
            f"Run {run.id} is a sweep ({spec.sweep_param} = {values}): score with one of its "
            "child runs (GET /runs?parent_id=…)."
        )
    if spec.score is None:
        raise InvalidInput(f"Runs of type {run.model_type} cannot score new households.")
    return spec, run.result.result


def submit_score(
    session: Session,
    source: Run,
    body: ScoreCreate,
    idempotency_key: str | None = None,
    client: str = ANONYMOUS,
) -> tuple[Run, bool]:
    """Create and enqueue a scoring run; with an Idempotency-Key a retry answers the first."""
    if idempotency_key is None:
        return create_score_run(session, source, body, client=client), False
    digest = _request_hash(source, body)
    earlier = run_service._earlier_run(session, idempotency_key, digest)
    if earlier is not None:
        return earlier, True
    try:
        run = create_score_run(session, source, body, (idempotency_key, digest), client)
        return run, False
    except IntegrityError:
        session.rollback()
        earlier = run_service._earlier_run(session, idempotency_key, digest)
        if earlier is None:
            raise
        return earlier, True


def create_score_run(
    session: Session,
    source: Run,
    body: ScoreCreate,
    idempotency: tuple[str, str] | None = None,
    client: str = ANONYMOUS,
) -> Run:
    _, result = scorable(source)
    dataset = _dataset(session, body)
    profiles = [ColumnProfile.model_validate(c) for c in dataset.columns]
    products = list(result["products"])
    check_products(profiles, products)
    if body.id_column:
        check_other_columns(profiles, [body.id_column], "ID")
        check_id_column(profiles, body.id_column, dataset)
    features = model_features(source, result)
    if features:
        check_features(dataset, profiles, features, result)
    return run_service.queue_derived_run(
        session,
        source,
        kind="score",
        name=body.name or f"Scores of {source.name}",
        params=dict(source.params),
        dataset_id=dataset.id,
        product_columns=products,
        covariate_columns=features,
        id_column=body.id_column,
        client=client,
        idempotency=idempotency,
    )


def _request_hash(source: Run, body: ScoreCreate) -> str:
    canonical = json.dumps(
        {"score": source.id, **body.model_dump(mode="json")}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _dataset(session: Session, body: ScoreCreate) -> Dataset:
    if (body.dataset_id is None) == (body.data is None):
        raise InvalidInput('Give either "dataset_id" or "data.csv_base64", not both or neither.')
    if body.data is not None:
        content = run_service.decode_inline(body.data.csv_base64)
        filename = body.data.filename or f"{body.name or 'households'}.csv"
        return create_dataset(session, content, filename=filename, name=body.name or filename)
    found = session.get(Dataset, body.dataset_id) if is_id(body.dataset_id) else None
    if found is None:
        raise NotFound(f"Dataset {body.dataset_id} does not exist.")
    return found


def check_products(profiles: list[ColumnProfile], products: list[str]) -> None:
    """Every product of the model is a 0/1 column of the new data (matched by name; columns
    the model does not use are ignored)."""
    by_name = {c.name: c for c in profiles}
    absent = [p for p in products if p not in by_name]
    if absent:
        raise InvalidInput(
            f"The data lack the model's product column(s) {format_values(absent)}; products "
            "are matched by name (the model was fitted on "
            f"{format_values(products[:30])})."
        )
    for name in products:
        column = by_name[name]
        if column.kind != "empty" and not column.is_binary:
            raise InvalidInput(
                non_binary_sentence(column) + " Product columns must be 0/1 (1 = bought)."
            )


def model_features(source: Run, result: dict[str, Any]) -> list[str]:
    """The household features the model itself uses (lca_covariates' terms)."""
    names = {t["covariate"] for t in result.get("terms") or [] if t.get("kind") != "intercept"}
    return [c for c in source.covariate_columns if c in names]


def check_features(
    dataset: Dataset, profiles: list[ColumnProfile], features: list[str], result: dict[str, Any]
) -> None:
    """The model's household features exist; numeric ones hold numbers; categories are ones
    the model saw in training."""
    check_other_columns(profiles, features, "household feature")
    frame = numbers_where_numeric(dataset_frame(dataset, features))
    levels: dict[str, list[str]] = (result.get("scoring") or {}).get("levels", {})
    for name in features:
        kinds = {t["kind"] for t in result["terms"] if t["covariate"] == name}
        col = frame[name]
        if kinds & {"numeric", "binary"}:
            numeric = col.dtype.kind in "fiub"
            if not numeric and col.notna().any():
                shown = format_values(sorted(col.dropna().astype(str).unique())[:5])
                raise InvalidInput(
                    f'Household feature "{name}" was numeric in training; the data have text: '
                    f"{shown}."
                )
            continue
        seen = levels.get(name)
        if seen is None:
            continue
        labels = set(col.astype("string").fillna(MISSING_LEVEL).tolist())
        unseen = sorted(labels - set(seen))
        if unseen:
            raise InvalidInput(
                f'Household feature "{name}" has categories the model never saw in training: '
                f"{format_values(unseen[:10])}; it knows {format_values(seen[:20])}. Recode "
                "them to a known category (or blank)."
            )


def model_document(run: Run) -> ModelDocument:
    """Everything scoring reads, as one JSON document with the versions it was made with."""
    _, result = scorable(run)
    model = {k: v for k, v in result.items() if k not in ("product_map", "profiles")}
    return ModelDocument(
        run_id=run.id,
        model_type=run.model_type,
        name=run.name,
        products=list(result["products"]),
        household_features=model_features(run, result),
        id_column=run.id_column,
        params=dict(run.params),
        library_versions=dict(run.library_versions or {}),
        service_version=__version__,
        data_hash=run.data_hash,
        labels=dict(run.labels or {}),
        model=model,
    )


def require_segments(run: Run) -> dict[str, Any]:
    """A completed run (fit or scoring) whose per-household table holds p_class_* columns."""
    run_service.require_completed(run)
    assert run.result is not None
    if family(run.model_type).kind.value != "segments":
        raise Conflict(f"Runs of type {run.model_type} have no segment probabilities.")
    return run.result.result
