"""Redis clients (sync for workers and services, async for the SSE stream) and key names."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aioredis

from backend.settings import get_settings


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        get_settings().resolved_redis_url,
        decode_responses=True,
        socket_connect_timeout=3,
        socket_timeout=10,
        health_check_interval=30,
    )


def make_async_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(
        get_settings().resolved_redis_url,
        decode_responses=True,
        socket_connect_timeout=3,
        health_check_interval=30,
    )


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
