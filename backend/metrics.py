"""Prometheus metrics of the API: requests by route and status, and their latency. Served at
/metrics (next to /health). Workers export Dramatiq's own metrics (WORKER_METRICS_PORT)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

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
    "Time to answer an HTTP request (streams: time to the first byte).",
    ["method", "route"],
    registry=REGISTRY,
)


def install_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, not the path: one series per endpoint, not per run id.
        template = getattr(route, "path", "unmatched")
        # Routes of included routers carry their own path without the include prefix.
        if request.url.path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template
        if template != "/metrics":
            REQUESTS.labels(request.method, template, str(response.status_code)).inc()
            LATENCY.labels(request.method, template).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
