"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus

import redis
import sqlalchemy.exc
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from backend import __version__
from backend.auth import BearerAuth, bearer_scheme, warn_if_open
from backend.errors import AppError, TooManyRequests, error_content, error_responses
from backend.logging_setup import configure_logging
from backend.metrics import install_metrics
from backend.migrations import upgrade_database
from backend.redis_client import make_async_redis
from backend.routes import API_PREFIX, datasets, health, models, progress, reports, runs, scoring
from backend.services.progress_hub import ProgressHub
from backend.settings import get_settings
from backend.uploads import BodyLimit
from backend.validation import describe_errors

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    warn_if_open(settings)
    if settings.auto_migrate:
        upgrade_database()
    app.state.redis = make_async_redis()
    app.state.progress_hub = ProgressHub(app.state.redis)
    yield
    await app.state.redis.aclose()


def error_body(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(error_content(title, detail, **extra), status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def allowed_methods(request: Request) -> list[str]:
    """Every documented method of the path (Starlette's 405 names one route's methods only)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [
            (compile_path(path)[0], {method.upper() for method in operations})
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.allowed_methods = table
    methods: set[str] = set()
    for pattern, documented in table:
        if pattern.match(request.url.path):
            methods |= documented
    return sorted(methods)


# Seconds a client is asked to wait when the database or Redis is away (503).
RETRY_AFTER_SECONDS = 5
RETRY_LATER = {"Retry-After": str(RETRY_AFTER_SECONDS)}
# The database or Redis unreachable (refused, dropped, timed out, locked): the client may retry.
DATABASE_AWAY = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free
)
REDIS_AWAY = (redis.ConnectionError, redis.TimeoutError)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers = RETRY_LATER if exc.status_code == 503 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_body(exc.status_code, exc.title, exc.message, headers=headers, **exc.extra)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        what = "Redis" if isinstance(exc, REDIS_AWAY) else "The database"
        # One line, not a traceback per request while the outage lasts; no connection details.
        log.warning(
            "%s %s: %s unreachable (%s)", request.method, request.url.path, what, type(exc).__name__
        )
        return error_body(
            503,
            "Service unavailable",
            f"{what} is unreachable right now; try again in a few seconds (Retry-After).",
            headers=RETRY_LATER,
        )

    for away in (*DATABASE_AWAY, *REDIS_AWAY):
        app.add_exception_handler(away, unavailable)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return error_body(422, "Invalid request", describe_errors(exc.errors()), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        title = getattr(exc, "title", None) or _phrase(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists the methods of the first route on the path only.
            headers["Allow"] = ", ".join(allowed_methods(request))
            detail = (
                f"{request.method} is not allowed on {request.url.path}; use {headers['Allow']}."
            )
        return error_body(exc.status_code, title, detail, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_body(
            500, "Internal error", "Something went wrong on our side; the error was logged."
        )


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging("api")
    app = FastAPI(
        title="Market Structure API",
        version=__version__,
        description="Latent structure in binary purchase data, fitted on a worker pool.",
        lifespan=lifespan,
        debug=settings.api_debug,
    )
    install_error_handlers(app)
    # Inside the access log and metrics (added later, so outside), which then see 401 and 413.
    app.add_middleware(BodyLimit)  # counts body bytes as they stream in: 413 past MAX_UPLOAD_MB
    app.add_middleware(BearerAuth)  # outside BodyLimit: no token, no body read

    install_metrics(app)  # the access log and request metrics (uvicorn's access log is off)
    app.include_router(health.router)
    # With API_TOKEN the schema documents the bearer scheme and the 401 (BearerAuth checks).
    guarded = bool(settings.api_tokens)
    routers = (
        datasets.router,
        runs.router,
        scoring.router,
        reports.router,
        progress.router,
        models.router,
    )
    for router in routers:
        app.include_router(
            router,
            prefix=API_PREFIX,
            dependencies=[Depends(bearer_scheme)] if guarded else [],
            responses=error_responses(*((400, 401, 422, 503) if guarded else (400, 422, 503))),
        )
    return app
