"""Worker-side counters. With WORKER_METRICS_PORT set they are written to the same
multiprocess directory as Dramatiq's own metrics (workers/broker.py points prometheus_client
there before it is imported), so Dramatiq's exposition server serves them too."""

from __future__ import annotations

from prometheus_client import Counter

INTERNAL_ERRORS = Counter(
    "ms_worker_internal_errors_total",
    "Runs that failed with an internal error (a bug, logged with its traceback and error id).",
    ["model_type"],
    registry=None,  # multiprocess files are collected by Dramatiq's exposition server
)
