"""Sets the process-wide Dramatiq broker before any actor is declared, with structured logs,
the reconciler and (when WORKER_METRICS_PORT is set) Dramatiq's Prometheus middleware."""

import os

import dramatiq
from dramatiq.middleware import CurrentMessage

from backend.cli import metrics_env
from backend.logging_setup import configure_logging
from backend.queue import build_broker
from backend.settings import get_settings
from workers.reconciler import Reconciler
from workers.tuning import WorkerTuning

settings = get_settings()
configure_logging("worker")
broker = build_broker()
broker.add_middleware(CurrentMessage())
broker.add_middleware(Reconciler())
broker.add_middleware(WorkerTuning())
if settings.worker_metrics_port:
    # Dramatiq's exposition server runs in a process forked from the `dramatiq` master, which
    # never imports this module: `market-structure worker`/`up` put these variables in the
    # master's environment too (backend.cli.metrics_env); here they keep this process's
    # metrics files in the same directory.
    os.environ.update(metrics_env(settings.worker_metrics_port))
    # Our own counters (workers/metrics.py) go to the same directory; prometheus_client picks
    # its multiprocess mode when first imported, which is after this line.
    metrics_dir = metrics_env(settings.worker_metrics_port)["dramatiq_prom_db"]
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())
dramatiq.set_broker(broker)
