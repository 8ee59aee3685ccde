"""Sets the process-wide Dramatiq broker before any actor is declared."""

import dramatiq
from dramatiq.middleware import CurrentMessage

from backend.queue import build_broker
from workers.reconciler import Reconciler

broker = build_broker()
broker.add_middleware(CurrentMessage())
broker.add_middleware(Reconciler())
dramatiq.set_broker(broker)
