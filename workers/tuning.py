"""Consumer settings that suit long, CPU-bound fits, applied however the worker was started
(`dramatiq workers`, `market-structure worker`, `up`, compose)."""

from __future__ import annotations

import dramatiq

# An idle consumer polls Redis with a backoff up to this many milliseconds (Dramatiq sleeps
# between half of it and all of it once idle). Dramatiq's default (1000) makes an idle worker
# take up to a second to notice a new run; 100 gave submit-to-start p50 68-84 ms; 25 costs
# some 55 cheap Redis calls (one fetch script each) a second per idle process.
POLL_MS = 25
# Messages a consumer holds per worker thread. Dramatiq's default (2) lets a process busy with
# an hour-long fit hoard the next message while other processes sit idle.
PREFETCH_PER_THREAD = 1


class WorkerTuning(dramatiq.Middleware):
    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Consumers are created after this hook, from these attributes.
        worker.worker_timeout = POLL_MS
        worker.queue_prefetch = PREFETCH_PER_THREAD * worker.worker_threads
