"""Runs: submit (commit, then enqueue), list, cancel, delete, and read their outputs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth import ANONYMOUS
from backend.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from backend.families import QUICK_QUEUE, FamilySpec, family
from backend.families.spec import Cost
from backend.json_limits import inline_too_large
from backend.orm import Artifact, Dataset, IdempotencyKey, Run, is_id
from backend.presentation.names import check_labels
from backend.progress import ProgressStore, make_message
from backend.queue import enqueue_run
from backend.schemas.api import ColumnProfile, ProgressMessage, RunCreate, RunOut, RunUpdate
from backend.schemas.common import TERMINAL_STATUSES, Phase, RunStatus
from backend.schemas.params import ModelParams
from backend.services import budgets, product_features, progress_feed
from backend.services.datasets import check_other_columns, create_dataset, resolve_product_columns
from backend.services.household_features import (
    check_household_features,
    check_outcome_columns,
    check_weight_column,
)
from backend.services.household_ids import check_id_column
from backend.services.ingest import format_values
from backend.services.quotas import check_active_runs
from backend.services.sweeps import sweep_values, validate_params
from backend.settings import get_settings
from backend.storage.records import forget_runs
from backend.validation import NUL_REFUSED, holds_nul

log = logging.getLogger(__name__)
WAITING = "Waiting for a worker."


def request_hash(body: RunCreate) -> str:
    """Digest of the validated body (defaults filled in, keys sorted): equal for equal requests."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_run(
    session: Session,
    body: RunCreate,
    idempotency_key: str | None = None,
    client: str = ANONYMOUS,
) -> tuple[Run, bool]:
    """Create and enqueue a run for `client` (backend.auth.client_id); with an Idempotency-Key, a
    retry of the same request answers the run created the first time instead (the bool says so)
    and another request is refused."""
    if idempotency_key is None:
        return create_run(session, body, client=client), False
    digest = request_hash(body)
    earlier = _earlier_run(session, idempotency_key, digest)
    if earlier is not None:
        return earlier, True
    try:
        run = create_run(session, body, idempotency=(idempotency_key, digest), client=client)
        return run, False
    except IntegrityError:
        # A concurrent request with the same key committed first: its run is the answer.
        session.rollback()
        earlier = _earlier_run(session, idempotency_key, digest)
        if earlier is None:
            raise
        return earlier, True


def _earlier_run(session: Session, key: str, digest: str) -> Run | None:
    stored = session.get(IdempotencyKey, key)
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise Conflict(
            f'The Idempotency-Key "{key}" was already used for a different request (run '
            f"{stored.run_id}). Send a new key with each new submission; reuse a key only to "
            "retry the very same request."
        )
    run = session.get(Run, stored.run_id)
    if run is None:  # the run was deleted since: the key is free again
        session.delete(stored)
        session.flush()
    return run


def create_run(
    session: Session,
    body: RunCreate,
    *,
    idempotency: tuple[str, str] | None = None,
    client: str = ANONYMOUS,
) -> Run:
    """Validate the request, estimate its cost (refused past the budgets), check the client's
    cap, store the run (a sweep's parent with its children), commit, then enqueue: a worker must
    find the rows, and the client hears 202 only once it is queued."""
    spec = _model_spec(body)
    _check_column_lists(body)
    values, validated = _sweep_params(spec, body)
    dataset, covariates = _resolve_dataset(session, body)
    products = _check_columns(dataset, body, covariates, distal_columns(validated[0]))
    validated = product_features.attach(session, validated, products)
    _check_estimable(validated, dataset.n_rows, len(products))
    costs = _estimate(spec, dataset, products, covariates, validated, values)
    check_active_runs(session, client, len(validated))
    run = _build_run(session, body, spec, dataset, products, covariates, values, validated)
    _record(run, client, costs)
    if idempotency is not None:
        _remember_key(session, run, *idempotency)
    session.commit()  # commit, then enqueue: a worker must find the rows.
    _enqueue(session, run)
    return run


def _model_spec(body: RunCreate) -> FamilySpec:
    for field, value in body.model_dump().items():  # stored as text and JSON: no NUL
        if holds_nul(value):
            raise InvalidInput(f'"{field}" {NUL_REFUSED}.')
    return family(body.model_type)


def _check_column_lists(body: RunCreate) -> None:
    """Column lists are at most MAX_COLUMNS long and name each column once; checked in linear
    time, before anything looks the names up."""
    limit = get_settings().max_columns
    inline_covariates = body.data.covariate_column_names if body.data else None
    for field, names in [
        ("product_columns", body.product_columns),
        ("covariate_columns", body.covariate_columns),
        ("data.covariate_column_names", inline_covariates),
    ]:
        if names is None:
            continue
        if len(names) > limit:
            raise InvalidInput(
                f'"{field}" lists {len(names)} columns; at most {limit} (MAX_COLUMNS).'
            )
        twice = [name for name, count in Counter(names).items() if count > 1]
        if twice:
            listed = format_values(sorted(twice)[:10])
            raise InvalidInput(
                f'"{field}" lists {len(twice)} column(s) twice: {listed}; name each column once.'
            )
    covariates = body.covariate_columns or inline_covariates or []
    if body.id_column is not None and body.id_column in set(covariates):
        raise InvalidInput(
            f'Column "{body.id_column}" cannot be both the ID column and a covariate.'
        )


def _sweep_params(spec: FamilySpec, body: RunCreate) -> tuple[list[int] | None, list[ModelParams]]:
    """The sweep's values (None for a single fit) and one validated params object per fit. A
    list or range of one value ("3-3", [3]) is a single fit with that value."""
    values = sweep_values(spec, body.params)
    if values is not None and len(values) == 1:
        return None, validate_params(spec, {**body.params, str(spec.sweep_param): values[0]}, None)
    return values, validate_params(spec, body.params, values)


def _resolve_dataset(session: Session, body: RunCreate) -> tuple[Dataset, list[str]]:
    """The stored dataset named by `dataset_id`, or one made from the inline CSV; with the
    run's covariate columns (inline data may name them as `covariate_column_names`)."""
    if (body.dataset_id is None) == (body.data is None):
        raise InvalidInput('Give either "dataset_id" or "data.csv_base64", not both or neither.')
    covariates = list(body.covariate_columns or [])
    if body.data is not None:
        dataset = _dataset_from_inline(session, body)
        return dataset, covariates or list(body.data.covariate_column_names or [])
    found = session.get(Dataset, body.dataset_id) if is_id(body.dataset_id) else None
    if found is None:
        raise NotFound(f"Dataset {body.dataset_id} does not exist.")
    return found, covariates


def distal_columns(params: ModelParams) -> list[str]:
    """The outcome columns 3-step estimation compares between the classes (LCA's param)."""
    return [str(c) for c in getattr(params, "distal_columns", None) or []]


def _check_columns(
    dataset: Dataset, body: RunCreate, covariates: list[str], outcomes: list[str]
) -> list[str]:
    """Check the ID, covariate and outcome columns exist; answer the product columns (named or
    all 0/1)."""
    profiles = [ColumnProfile.model_validate(c) for c in dataset.columns]
    others = covariates + ([body.id_column] if body.id_column else [])
    if body.id_column:
        check_other_columns(profiles, [body.id_column], "ID")
    check_other_columns(profiles, covariates, "covariate")
    if outcomes:  # 3-step's distal outcomes: never products, the ID or a feature
        check_other_columns(profiles, outcomes, "outcome (distal_columns)")
        check_outcome_columns(profiles, outcomes, dataset, [*others, body.weight_column or ""])
        others = [*others, *outcomes]
    if body.weight_column:
        others = [*others, body.weight_column]
    products = resolve_product_columns(profiles, body.product_columns, exclude=others)
    if body.id_column:  # one ID per household: none missing, none repeated
        check_id_column(profiles, body.id_column, dataset)
    if covariates:  # not empty, constant, an ID, or numbers with text
        check_household_features(profiles, covariates, dataset)
    if body.weight_column:  # positive and finite on every row
        check_weight_column(profiles, body.weight_column, dataset, [*others[:-1], *products])
    return products


def _estimate(
    spec: FamilySpec,
    dataset: Dataset,
    products: list[str],
    covariates: list[str],
    validated: list[ModelParams],
    values: list[int] | None,
) -> list[Cost] | None:
    """Each fit's estimated cost, the run refused (422) when they pass the budgets."""
    profiles = [ColumnProfile.model_validate(c) for c in dataset.columns]
    shape = budgets.data_shape(dataset.n_rows, products, covariates, profiles)
    costs = budgets.estimate(spec, validated, shape)
    if costs is not None:
        sweep = spec.sweep_param if values is not None else None
        budgets.check(budgets.total(costs), validated, shape, sweep)
    return costs


def _record(run: Run, client: str, costs: list[Cost] | None) -> None:
    """Who asked for the run, and each fit's estimate (the parent's: its children's sum)."""
    for job in [run, *run.children]:
        job.client_id = client
    if costs is None:
        return
    run.estimate = budgets.as_record(budgets.total(costs))
    for child, cost in zip(run.children, costs if run.children else [], strict=False):
        child.estimate = budgets.as_record(cost)


def _check_estimable(validated: list[ModelParams], n_rows: int, n_products: int) -> None:
    """Refuse (422) params that can never be estimated from data of this size (each family's
    `refusal`: e.g. more latent-class parameters than households)."""
    for params in validated:
        reason = params.refusal(n_rows, n_products)
        if reason:
            raise InvalidInput(reason)


def _build_run(
    session: Session,
    body: RunCreate,
    spec: FamilySpec,
    dataset: Dataset,
    products: list[str],
    covariates: list[str],
    values: list[int] | None,
    validated: list[ModelParams],
) -> Run:
    """The run row, added to the session; a sweep's parent gets one child per value."""

    def new_run(name: str, run_params: dict[str, Any], **extra: Any) -> Run:
        return Run(
            name=name,
            description=body.description,
            model_type=body.model_type,
            status=RunStatus.queued.value,
            params=run_params,
            dataset_id=dataset.id,
            product_columns=products,
            covariate_columns=covariates,
            id_column=body.id_column,
            weight_column=body.weight_column,
            queue_name=spec.queue,
            progress_message=WAITING,
            **extra,
        )

    params = validated[0].model_dump(mode="json")
    if values is not None:
        params[str(spec.sweep_param)] = values
    run = new_run(body.name or f"{spec.title} ({params_summary(params)})", params)
    session.add(run)
    if values is not None:
        session.flush()
        for value, child_params in zip(values, validated, strict=True):
            child_name = f"{run.name} · {spec.sweep_param}={value}"
            run.children.append(
                new_run(child_name, child_params.model_dump(mode="json"), sweep_value=value)
            )
    return run


def _remember_key(session: Session, run: Run, key: str, digest: str) -> None:
    session.flush()
    session.add(IdempotencyKey(key=key, request_hash=digest, run_id=run.id))


def _enqueue(session: Session, run: Run) -> None:
    """One message per fit (a sweep's children, or the run itself). When Redis is unreachable
    the committed rows are marked failed (and the Idempotency-Key freed), and the client hears
    503: nothing was queued, so a retry submits again."""
    try:
        store = ProgressStore()
        store.publish(_waiting(run))
        for job in run.children or [run]:
            if job is not run:
                store.publish(_waiting(job))
            enqueue_run(job.id, job.queue_name)
    except redis.RedisError as exc:
        error = (
            f"The run could not be queued because Redis is unreachable ({exc}); submit it again."
        )
        for job in [run, *run.children]:
            job.status = RunStatus.failed.value
            job.error = error
            job.finished_at = datetime.now(UTC)
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.run_id == run.id))
        session.commit()
        raise ServiceUnavailable(error) from exc


def queue_derived_run(
    session: Session,
    source: Run,
    *,
    kind: str,
    name: str,
    params: dict[str, Any],
    dataset_id: str,
    product_columns: list[str],
    covariate_columns: list[str],
    id_column: str | None,
    client: str,
    idempotency: tuple[str, str] | None = None,
) -> Run:
    """A run that applies `source`'s model (a score or a typing tool): counted against the
    client's cap, queued on the quick queue with the source's model type and unit names,
    committed, then enqueued (a worker must find the rows)."""
    check_active_runs(session, client, 1)
    run = Run(
        name=name[:255],
        model_type=source.model_type,
        kind=kind,
        source_run_id=source.id,
        status="queued",
        params=params,
        dataset_id=dataset_id,
        product_columns=product_columns,
        covariate_columns=covariate_columns,
        id_column=id_column,
        queue_name=QUICK_QUEUE,
        progress_message=WAITING,
        labels=dict(source.labels or {}),
        client_id=client,
    )
    session.add(run)
    if idempotency is not None:
        _remember_key(session, run, *idempotency)
    session.commit()
    _enqueue(session, run)
    return run


def _waiting(run: Run) -> ProgressMessage:
    """The first progress message: queued, with the run's estimate for clients to show."""
    details = {"estimate": run.estimate} if run.estimate else {}
    return make_message(run.id, Phase.queued, 0.0, WAITING, details=details)


def params_summary(params: dict[str, object]) -> str:
    keys = [k for k in ("n_classes", "n_factors", "n_components", "n_topics") if k in params]
    return ", ".join(f"{k}={params[k]}" for k in keys) or "defaults"


def decode_inline(text: str) -> bytes:
    """The inline file's bytes. Line breaks and spaces are ignored (the `base64` command wraps
    its output at 76 characters); anything else outside the base64 alphabet is refused."""
    try:
        encoded = text.encode("ascii").translate(None, b" \t\r\n\v\f")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"data.csv_base64 is not valid base64: it holds {text[exc.start]!r} at character "
            f"{exc.start}; base64 uses only A-Z, a-z, 0-9, +, / and = (encode the file, e.g. "
            "base64 purchases.csv)."
        ) from exc
    limit = get_settings().max_upload_bytes
    if len(encoded) * 3 // 4 > limit:
        raise inline_too_large(limit)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            f"data.csv_base64 is not valid base64 ({exc}); base64 uses only A-Z, a-z, 0-9, +, / "
            "and = padding, in groups of 4 (encode the file, e.g. base64 purchases.csv)."
        ) from exc


def _dataset_from_inline(session: Session, body: RunCreate) -> Dataset:
    assert body.data is not None
    content = decode_inline(body.data.csv_base64)
    filename = body.data.filename or f"{body.name or 'inline'}.csv"
    return create_dataset(session, content, filename=filename, name=body.name or filename)


def list_runs(
    session: Session,
    *,
    status: str | None,
    model_type: str | None,
    limit: int,
    offset: int,
    parent_id: str | None = None,
    kind: str | None = None,
    source_run_id: str | None = None,
) -> tuple[list[Run], int]:
    # Sweep children are listed under their parent (?parent_id=), not among top-level runs.
    query = select(Run).where(Run.parent_id == parent_id if parent_id else Run.parent_id.is_(None))
    if kind:
        query = query.where(Run.kind == kind)
    if source_run_id:
        query = query.where(Run.source_run_id == source_run_id)
    if status:
        query = query.where(Run.status == status)
    if model_type:
        query = query.where(Run.model_type == model_type)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
    ).all()
    return list(items), total


def run_out(run: Run, snapshot: ProgressMessage | None = None) -> RunOut:
    """The run as the API shows it, with its live progress (`snapshot`, else read now)."""
    out = RunOut.model_validate(run)
    live = snapshot or progress_feed.latest(run)
    out.progress, out.progress_message = live.progress, live.message
    out.phase, out.eta_seconds = live.phase, live.eta_seconds
    out.child_ids = [child.id for child in run.children]
    if run.started_at:
        end = run.finished_at or datetime.now(UTC)
        out.duration_seconds = round((end - run.started_at).total_seconds(), 3)
    return out


def update_run(session: Session, run: Run, body: RunUpdate) -> Run:
    """Rename or describe a run, or name its units; committed."""
    if body.name is not None:
        run.name = body.name
    if body.description is not None:
        run.description = body.description
    if body.labels is not None:
        set_labels(run, body.labels)
    session.commit()
    return run


def set_labels(run: Run, labels: dict[str, str]) -> None:
    """Name the run's units (raw key → name), replacing earlier names; once the run has a
    result the keys must be its units."""
    result = run.result.result if run.result is not None else None
    run.labels = check_labels(family(run.model_type), result, labels)


def cancel_run(session: Session, run: Run) -> Run:
    """A queued run is cancelled at once; a running one is flagged and stops at its next check.
    The flags are committed first (the worker's heartbeat reads them), then mirrored to Redis."""
    if run.status in TERMINAL_STATUSES:
        raise Conflict(
            f"Run {run.id} is already {run.status}; only queued or running runs can be cancelled."
        )
    marked = _mark_cancelled(run)
    session.commit()
    _signal_cancel(marked)
    return run


def _mark_cancelled(run: Run) -> list[tuple[Run, str | None]]:
    """Flag the run and its unfinished children. Answers each flagged run with the message of
    its end when it ends now, or None when it is running and stops at its next check."""
    marked: list[tuple[Run, str | None]] = []
    for child in run.children:
        if child.status not in TERMINAL_STATUSES:
            marked += _mark_cancelled(child)
    run.cancel_requested = True
    # A queued run, or a sweep's parent (its running children stop on their own), ends now.
    ends_now = run.status == RunStatus.queued or bool(run.children)
    message = "Cancelled." if run.children else "Cancelled before it started."
    if ends_now:
        run.status = RunStatus.cancelled.value
        run.finished_at = datetime.now(UTC)
        run.progress_message = message
    marked.append((run, message if ends_now else None))
    return marked


def _signal_cancel(marked: list[tuple[Run, str | None]]) -> None:
    store = ProgressStore()
    for run, ended in marked:
        try:
            store.request_cancel(run.id)
            if ended is not None:
                store.publish(make_message(run.id, Phase.cancelled, run.progress, ended))
        except redis.RedisError:
            # The database flag alone is enough: the worker checks it with its heartbeat.
            log.warning("cancel flag for run %s not written to Redis", run.id)


def delete_run(session: Session, run: Run) -> None:
    """Delete a run (an unfinished one is cancelled first) and commit: the client may look it
    up right after."""
    discard_run(session, run)
    session.commit()


def discard_run(session: Session, run: Run) -> None:
    """Cancel an unfinished run, forget its progress and mark it deleted; the caller commits."""
    if run.status not in TERMINAL_STATUSES:
        cancel_run(session, run)
    try:
        for job in [*run.children, run]:
            ProgressStore().forget(job.id)
    except redis.RedisError:
        log.warning("progress of run %s not removed from Redis", run.id)
    forget_runs(session, [run.id])
    session.delete(run)


def require_completed(run: Run) -> None:
    if run.status != RunStatus.completed:
        detail = f": {run.error}" if run.error else ""
        raise Conflict(
            f"Run {run.id} is {run.status}{detail}; results exist once it has completed."
        )


def get_artifact(session: Session, run: Run, name: str) -> Artifact:
    require_completed(run)
    artifact = session.scalar(
        select(Artifact).where(Artifact.run_id == run.id, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound(f"Run {run.id} has no {name}.")
    return artifact


PARQUET = "application/vnd.apache.parquet"
EXTENSIONS = {PARQUET: "parquet", "application/x-netcdf": "nc", "application/json": "json"}


def artifact_filename(stem: str, content_type: str) -> str:
    return f"{stem}.{EXTENSIONS.get(content_type, 'bin')}"


def stored_product_map(run: Run) -> dict[str, Any] | None:
    """The product map the worker stored with a completed run's result (None: its family has
    no product embedding, or the map could not be built)."""
    require_completed(run)
    assert run.result is not None
    stored = run.result.result.get("product_map")
    return dict(stored) if stored else None
