"""Request observation: the access log (JSON, with the run id when the path names a run) and
Prometheus request metrics, served at /metrics. Workers export Dramatiq's own metrics
(WORKER_METRICS_PORT).

A pure ASGI middleware (backend/middleware.py says why).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import Message, Receive, Scope, Send

from backend.logging_setup import run_context
from backend.middleware import HTTPMiddleware
from backend.routes import API_PREFIX

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "ms_api_requests_total",
    "HTTP requests answered.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "ms_api_request_seconds",
    "Time to answer an HTTP request (streams: until the stream ends).",
    ["method", "route"],
    registry=REGISTRY,
)
RUN_PATH = re.compile(rf"^{API_PREFIX}/(?:runs|progress)/([0-9a-f]{{32}})")
access_log = logging.getLogger("backend.access")


class RequestObserver(HTTPMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path: str = scope["path"]
        match = RUN_PATH.match(path)
        with run_context(match.group(1)) if match else contextlib.nullcontext():
            try:
                await self.app(scope, receive, observed_send)
            finally:
                seconds = time.perf_counter() - started
                self._record(scope, path, status, seconds)

    @staticmethod
    def _record(scope: Scope, path: str, status: int, seconds: float) -> None:
        method = scope["method"]
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
        # The route template, not the path: one series per endpoint, not per run id. Routes
        # of included routers carry their path without the include prefix.
        template = getattr(scope.get("route"), "path", "unmatched")
        if path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template
        if template != "/metrics":
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(seconds)


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestObserver)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
