"""SQLAlchemy models: datasets, runs, results and artifacts. The database is the source of truth."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from backend.db import Base

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


ID = re.compile(r"[0-9a-f]{32}")


def is_id(value: str | None) -> bool:
    """Whether `value` can be an id. Anything else is not looked up at all: PostgreSQL answers
    a NUL character in a query with an error, not with an empty result."""
    return value is not None and ID.fullmatch(value) is not None


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str | None] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_columns: Mapped[int] = mapped_column(Integer)
    # Per-column profile (list of dicts), see backend.services.ingest.profile_columns.
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # Blank rows dropped at upload, and sentences about what was read (sheet, comment lines…).
    n_blank_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notes: Mapped[list[str] | None] = mapped_column(JSONType)
    # The parsed table as Parquet, parsed once at upload: an object in storage at
    # `storage_key` (backend/storage), or, stored before migration 0009 and not yet moved
    # (`market-structure migrate-storage`), the `data` blob.
    storage_key: Mapped[str | None] = mapped_column(String(512))
    data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    runs: Mapped[list[Run]] = relationship(back_populates="dataset")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    model_type: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    product_columns: Mapped[list[str]] = mapped_column(JSONType)
    covariate_columns: Mapped[list[str]] = mapped_column(JSONType, default=list)
    id_column: Mapped[str | None] = mapped_column(String(255))
    # Case or survey weights: a column of the dataset (None: every household counts once).
    weight_column: Mapped[str | None] = mapped_column(String(255))
    queue_name: Mapped[str] = mapped_column(String(64))
    # A sweep (e.g. n_classes 1..8) is a parent run whose children are ordinary runs, one per
    # value, each its own Dramatiq message so several workers share them.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    sweep_value: Mapped[int | None] = mapped_column(Integer)
    # "fit", or what a run made from a finished run does with its model: "score" (apply it to
    # new households), "typing" (the typing tool). Those name the finished run in source_run_id
    # and are deleted with it.
    kind: Mapped[str] = mapped_column(String(16), default="fit", server_default="fit")
    source_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )

    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(255))

    data_hash: Mapped[str | None] = mapped_column(String(64))
    library_versions: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    fit_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Names people gave the units (segments, factors, …): raw unit key → name.
    labels: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    # Who submitted it: "token:" and a SHA-256 prefix of the API token (never the token), or
    # "anonymous" on an open API; the per-client cap and the fair order read it.
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # What the fit was estimated to cost before it was queued: {"seconds", "memory_mb"}.
    estimate: Mapped[dict[str, float] | None] = mapped_column(JSONType)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    dataset: Mapped[Dataset] = relationship(back_populates="runs")
    children: Mapped[list[Run]] = relationship(
        back_populates="parent",
        foreign_keys="Run.parent_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Run.sweep_value",
    )
    parent: Mapped[Run | None] = relationship(
        back_populates="children", remote_side="Run.id", foreign_keys="Run.parent_id"
    )
    result: Mapped[Result | None] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class Result(Base):
    __tablename__ = "results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run: Mapped[Run] = relationship(back_populates="result")


class Artifact(Base):
    """Binary outputs of a run (per-row assignments as Parquet, posteriors, ...)."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(128))
    # In storage at `storage_key`, or (saved before migration 0009, not yet moved) the blob.
    storage_key: Mapped[str | None] = mapped_column(String(512))
    data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run: Mapped[Run] = relationship(back_populates="artifacts")


class IdempotencyKey(Base):
    """An `Idempotency-Key` sent with `POST /runs`: a retry with the same key and the same body
    answers the run created the first time; the same key with another body is refused."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the canonical JSON of the validated request body.
    request_hash: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
