"""One settings object for the API, the workers and the CLI, from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Tokens copied from examples; refused when ENVIRONMENT=production.
PLACEHOLDER_TOKENS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "token", "password", "example", "test"}
)
MIN_TOKEN_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "production", "test"] = "development"

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_debug: bool = False
    api_workers: int = Field(1, ge=1, le=64)
    ui_port: int = Field(8501, ge=1, le=65535)
    # Interface the app listens on under `up` / `ui`; on any other than loopback it asks for a
    # sign-in (APP_PASSWORD or OIDC, ui/auth.py) before anything else.
    ui_host: str = "127.0.0.1"
    # Where the UI (and the CLI's health checks) reach the API.
    api_url: str | None = None
    # Bearer token(s) every /api/v1 request must carry; a comma-separated list allows several
    # (e.g. while rotating). Unset: the API is open, so it should listen on loopback only.
    api_token: str | None = None

    # Redis: REDIS_URL wins over the host/port/db/password parts.
    redis_url: str | None = None
    redis_host: str = "localhost"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password: str | None = None
    # Prefix of every key this deployment writes, Dramatiq's namespace included, so several
    # deployments (or test runs) can share one Redis without seeing each other.
    redis_prefix: str = "ms"

    # Database: a SQLite file under DATA_DIR unless DATABASE_URL says otherwise.
    database_url: str | None = None
    data_dir: Path = Path("./data")
    auto_migrate: bool = True

    # Object storage for datasets' rows and runs' artifacts (backend/storage): any fsspec URL,
    # e.g. s3://bucket/prefix; unset, a directory under DATA_DIR. STORAGE_OPTIONS is a JSON
    # object passed to the filesystem (s3fs: endpoint_url, key, secret, client_kwargs…);
    # without it s3fs reads the standard AWS variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL…).
    storage_url: str | None = None
    storage_options: str | None = None
    # Rows per Parquet row group of a dataset: what a distributed fit partitions by.
    storage_row_group_rows: int = Field(100_000, ge=1)

    # Model families beyond the built-in ones: comma-separated "module:ATTRIBUTE" import paths
    # of FamilySpec objects (docs/adding-a-model.md). API and workers must name the same.
    extra_families: str = ""

    # Workers
    # A Dask scheduler (e.g. tcp://dask-scheduler:8786): LCA, the pair counts and MCA then keep
    # a fit's row partitions on its workers and sum there (docs/scaling.md). Unset: in process.
    dask_scheduler_address: str | None = None
    # Fits of fewer cells (rows × products) stay in process even then: below it a pass's
    # scheduling costs more than it saves (measured: docs/scaling.md).
    dask_min_cells: int = Field(100_000_000, ge=0)
    worker_concurrency: int = Field(1, ge=1, le=256)
    worker_threads: int = Field(1, ge=1, le=64)
    job_timeout_seconds: int = Field(6 * 3600, ge=10)
    # Attempts a run gets when a fit dies of something transient (worker killed, DB outage).
    max_attempts: int = Field(3, ge=1, le=20)
    heartbeat_seconds: float = Field(5.0, gt=0)
    # A running run whose heartbeat is older than this lost its worker (killed, OOM, host gone).
    stale_after_seconds: float = Field(30.0, gt=0)
    # How often a worker looks for stale running runs and queued runs missing from Redis.
    reconcile_seconds: float = Field(15.0, gt=0)
    # Dramatiq's Redis broker: a worker silent this long is presumed dead and its unacked
    # messages requeued; its maintenance (that check) runs on 1 broker command in this many.
    broker_heartbeat_timeout_ms: int = Field(60_000, ge=1000)
    broker_maintenance_chance: int = Field(1000, ge=1)

    # Budgets: a run whose estimated cost (backend/families/costs.py) passes these is refused
    # with a 422 before it is queued (a sweep's seconds are its fits' sum). The seconds limit is
    # also never above JOB_TIMEOUT_SECONDS, which stops a fit that runs anyway.
    max_run_seconds: float = Field(2 * 3600, gt=0)
    max_run_memory_mb: float = Field(4096, gt=0)
    # NUTS: per-household draws (factor scores, random effects) a fit keeps in memory; past this
    # they are written to disk as they are drawn and a thinned copy is kept (bayes/sampling.py).
    nuts_draws_memory_mb: float = Field(256, gt=0)

    # Fairness: runs (fits) one client (API token, or "anonymous" on an open API) may have queued
    # or running at once (429 past it), and how many may run at once (0: as many as there are
    # free workers). Whatever the cap, a worker serves the waiting client with the fewest running
    # runs first (workers/fairness.py); a run it passes over waits FAIR_SHARE_DELAY_SECONDS.
    max_active_runs_per_client: int = Field(40, ge=1)
    max_running_per_client: int = Field(0, ge=0)
    fair_share_delay_seconds: float = Field(2.0, gt=0, le=60)

    # Uploads
    max_upload_mb: float = Field(200.0, gt=0)
    min_rows: int = Field(10, ge=2)
    # Widest accepted table; checked on the header, before the file is parsed.
    max_columns: int = Field(2000, ge=2)
    # Largest JSON request body, not counting an inline file (data.csv_base64, counted against
    # MAX_UPLOAD_MB); checked while the body streams in (backend/json_limits.py).
    max_json_kb: float = Field(1024.0, gt=0)

    # Reports: the PDF is the HTML report printed by headless Chromium (a subprocess of the
    # API, one at a time, stopped after REPORT_PDF_TIMEOUT_SECONDS).
    chromium_path: str = "/usr/bin/chromium"
    report_pdf_timeout_seconds: float = Field(90.0, gt=0)

    # Logs and metrics
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Port of the workers' Prometheus exposition server (Dramatiq's middleware); 0 turns it off.
    worker_metrics_port: int = Field(0, ge=0, le=65535)

    # Progress
    progress_min_interval_seconds: float = Field(0.25, ge=0)
    progress_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    # Most events one run's stream keeps (backend/progress.py: stream_max_events sizes it from
    # the run's time limit and the throttle; this bounds it).
    progress_stream_max_events: int = Field(200_000, ge=100)

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_tokens(self) -> Settings:
        if self.environment == "production":
            for token in self.api_tokens:
                if token.lower() in PLACEHOLDER_TOKENS or len(token) < MIN_TOKEN_LENGTH:
                    raise ValueError(
                        f"API_TOKEN holds a placeholder or a token shorter than "
                        f"{MIN_TOKEN_LENGTH} characters; in production use random tokens, "
                        'e.g. python -c "import secrets; print(secrets.token_urlsafe(32))".'
                    )
        return self

    @property
    def extra_family_paths(self) -> list[str]:
        return [p.strip() for p in self.extra_families.split(",") if p.strip()]

    @property
    def api_tokens(self) -> list[str]:
        return [t.strip() for t in (self.api_token or "").split(",") if t.strip()]

    @property
    def resolved_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        auth = f":{quote(self.redis_password)}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.data_dir / 'market_structure.db'}"
        # psycopg 3 is the PostgreSQL driver; accept the URLs people paste.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "storage").as_uri()

    @property
    def resolved_api_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


@lru_cache
def get_settings() -> Settings:
    return Settings()
