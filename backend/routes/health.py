from __future__ import annotations

import platform
import time
from importlib.metadata import version

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend import __version__
from backend.catalog import available_types
from backend.db import get_engine
from backend.queue import ACTOR_BY_QUEUE, get_broker
from backend.redis_client import get_redis
from backend.schemas.api import HealthOut, QueueDepth

router = APIRouter(tags=["health"])
WORKER_ALIVE_MS = 60_000


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


def queue_depths() -> dict[str, QueueDepth]:
    broker = get_broker()
    client, ns = broker.client, broker.namespace
    depths = {}
    for queue in ACTOR_BY_QUEUE:
        pipe = client.pipeline(transaction=False)
        pipe.llen(f"{ns}:{queue}")
        pipe.hlen(f"{ns}:{queue}.msgs")
        pipe.hlen(f"{ns}:{queue}.DQ.msgs")
        queued, held, delayed = pipe.execute()
        depths[queue] = QueueDepth(
            queued=queued, delayed=delayed, in_progress=max(held - queued, 0)
        )
    return depths


def workers_alive() -> int:
    broker = get_broker()
    now_ms = int(time.time() * 1000)
    return int(
        broker.client.zcount(f"{broker.namespace}:__heartbeats__", now_ms - WORKER_ALIVE_MS, "+inf")
    )


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    db, rd = database_ok(), redis_ok()
    return HealthOut(
        status="healthy" if db and rd else "degraded",
        version=__version__,
        database_connected=db,
        redis_connected=rd,
        models=available_types(),
        versions={
            "python": platform.python_version(),
            **{p: version(p) for p in ("fastapi", "dramatiq", "sqlalchemy", "redis")},
        },
        queues=queue_depths() if rd else {},
        workers_alive=workers_alive() if rd else None,
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
