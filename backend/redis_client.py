"""Redis clients (sync for workers and services, async for the SSE stream) and key names."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import redis
import redis.asyncio as aioredis

from backend.settings import get_settings

# How both clients connect: text answers, a short connect timeout, a health check every 30 s.
CONNECTION: dict[str, Any] = {
    "decode_responses": True,
    "socket_connect_timeout": 3,
    "health_check_interval": 30,
}


@lru_cache
def get_redis() -> redis.Redis:
    # Reads time out (10 s); the async client's stream reads wait as long as they must.
    return redis.Redis.from_url(get_settings().resolved_redis_url, socket_timeout=10, **CONNECTION)


def make_async_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(get_settings().resolved_redis_url, **CONNECTION)


class Keys:
    """Every key this deployment writes starts with REDIS_PREFIX."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or get_settings().redis_prefix

    def progress(self, run_id: str) -> str:
        return f"{self.prefix}:progress:{run_id}"

    def events(self, run_id: str) -> str:
        return f"{self.prefix}:progress:{run_id}:events"

    def cancel(self, run_id: str) -> str:
        return f"{self.prefix}:cancel:{run_id}"
