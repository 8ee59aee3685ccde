from __future__ import annotations

import platform
from importlib.metadata import version

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend import __version__, broker_state
from backend.db import get_engine
from backend.families import model_types
from backend.queue import get_broker
from backend.redis_client import get_redis
from backend.schemas.api import HealthOut

router = APIRouter(tags=["health"])


def database_ok() -> bool:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def redis_ok() -> bool:
    try:
        return bool(get_redis().ping())
    except Exception:
        return False


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    db, rd = database_ok(), redis_ok()
    return HealthOut(
        status="healthy" if db and rd else "degraded",
        version=__version__,
        database_connected=db,
        redis_connected=rd,
        models=model_types(),
        versions={
            "python": platform.python_version(),
            **{p: version(p) for p in ("fastapi", "dramatiq", "sqlalchemy", "redis")},
        },
        queues=broker_state.queue_depths(get_broker()) if rd else {},
        workers_alive=broker_state.workers_alive(get_broker()) if rd else None,
    )


@router.get(
    "/ready",
    responses={
        200: {"description": "The database and Redis are reachable."},
        503: {"description": "The database or Redis is unreachable (same body)."},
    },
)
def ready() -> JSONResponse:
    db, rd = database_ok(), redis_ok()
    body = {"ready": db and rd, "database_connected": db, "redis_connected": rd}
    return JSONResponse(body, status_code=200 if db and rd else 503)


@router.get("/live")
def live() -> dict[str, str]:
    return {"status": "alive"}
