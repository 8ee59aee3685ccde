"""Sets the process-wide Dramatiq broker before any actor is declared, with structured logs,
the reconciler and (when WORKER_METRICS_PORT is set) Dramatiq's Prometheus middleware."""

import os
import tempfile

import dramatiq
from dramatiq.middleware import CurrentMessage

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
    # Dramatiq reads these when its middleware module is imported. One metrics directory per
    # port, so two worker groups on one host do not clear each other's files.
    os.environ["dramatiq_prom_port"]  # noqa: SIM112  (Dramatiq's own name) = str(settings.worker_metrics_port)
    os.environ.setdefault(
        "dramatiq_prom_db",
        os.path.join(tempfile.gettempdir(), f"dramatiq-prometheus-{settings.worker_metrics_port}"),
    )
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())
dramatiq.set_broker(broker)
