"""The Dask cluster named by DASK_SCHEDULER_ADDRESS: this process's client, row partitions kept
on the cluster's workers, and waiting for a pass the way a fit waits.

Dramatiq stays the job queue; a fit hands its sums over rows to Dask when the address is set
(docs/scaling.md, "One fit on a Dask cluster"). Unset, `client()` is None and every caller
computes in process, exactly as before.

Waiting ticks the fit's progress about twice a second: the tick is where a cancel arrives (the
reporter raises RunCancelled), and then the pass's futures are cancelled. The heartbeat thread
keeps beating because waiting releases the GIL. A worker that dies takes its partitions with it
(scattered data is the one thing Dask cannot recompute): they are scattered again from the copy
kept here and the pass is repeated (`Partitions.run`), as is a partition whose worker died while
it was being sent. A scheduler that cannot be reached fails the fit with SchedulerLost, which
the executor treats as transient, so the run is handed back to the queue and retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # distributed is imported when a scheduler is configured, not before
    from distributed import Client, Future

log = logging.getLogger(__name__)

Tick = Callable[[], None]
# How often waiting for a pass ticks the fit's progress (and so notices a cancel).
TICK_SECONDS = 0.5
# How long connecting to the scheduler may take before the fit fails as SchedulerLost.
CONNECT_SECONDS = 10.0
# Times one pass is repeated after losing partitions with a worker before the fit gives up.
PASS_RETRIES = 3
# Pause before sending a partition again whose worker died: the scheduler drops the dead worker
# from the ones scatter chooses among.
RESCATTER_SECONDS = 1.0

_lock = threading.Lock()
_clients: dict[str, Client] = {}


class SchedulerLost(ConnectionError):
    """The Dask scheduler cannot be reached or went away during a fit (transient: retried)."""


class PartitionsLost(ConnectionError):
    """Workers kept dying under one pass or one partition's scatter (more than PASS_RETRIES
    times); transient too: the next attempt may find the cluster well again."""


def address() -> str | None:
    from backend.settings import get_settings

    return get_settings().dask_scheduler_address or None


def client_for(cells: int) -> Client | None:
    """The client when a fit over this many cells (rows × products) goes to the cluster: a
    scheduler is configured and the data have at least DASK_MIN_CELLS cells."""
    from backend.settings import get_settings

    return client() if cells >= get_settings().dask_min_cells else None


def close() -> None:
    """Closes this process's clients (tests, and a worker that shuts down)."""
    with _lock:
        for c in _clients.values():
            c.close()
        _clients.clear()


def client() -> Client | None:
    """The client of DASK_SCHEDULER_ADDRESS for this process (one per address, reconnected when
    it was closed), or None when no scheduler is configured."""
    where = address()
    if where is None:
        return None
    from distributed import Client

    with _lock:
        c = _clients.get(where)
        if c is not None and c.status == "running":
            return c
        try:
            c = Client(where, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerLost(
                f"The Dask scheduler at DASK_SCHEDULER_ADDRESS={where} cannot be reached "
                f"({exc}); the run will be retried. Start the scheduler or unset the address "
                "to fit in process."
            ) from exc
        _clients[where] = c
        return c


def gather(c: Client, futures: list[Future], tick: Tick | None) -> list[Any]:
    """The futures' results in order, ticking while they run. Anything raised while waiting
    (RunCancelled from the tick above all) cancels the futures first."""
    try:
        while not _finished_within(c, futures, TICK_SECONDS):
            if tick is not None:
                tick()
            _check_scheduler(c)
        return list(c.gather(futures))
    except BaseException:
        if c.status == "running":
            c.cancel(futures)
        raise


def _finished_within(c: Client, futures: list[Future], seconds: float) -> bool:
    """Whether the futures all finished within `seconds` (wait() says it timed out by raising)."""
    from distributed import wait

    try:
        with c.as_current():
            wait(futures, timeout=seconds)
    except TimeoutError:
        return False
    return True


def _check_scheduler(c: Client) -> None:
    if c.status != "running" or c.scheduler_comm is None or c.scheduler_comm.comm is None:
        raise SchedulerLost(_lost_message(c))


def _lost_message(c: Client) -> str:
    where = getattr(c.scheduler, "address", None) or address()
    return (
        f"The connection to the Dask scheduler at {where} was lost during the fit; the run "
        "will be retried."
    )


def over_partitions(
    c: Client, parts: Sequence[object], fn: Callable[..., Any], *args: Any, tick: Tick | None
) -> list[Any]:
    """One map over partitions made for it (a single pass: scattered, mapped, released)."""
    partitions = Partitions(c, parts)
    try:
        return partitions.run(fn, *args, tick=tick)
    finally:
        partitions.release()


def _from_the_cluster(exc: BaseException) -> bool:
    """A failure of the cluster's machinery (a connection, a cancelled or lost future), as
    opposed to one raised by the fit's own code."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    if isinstance(exc, OSError | CommClosedError | CancelledError | TimeoutError):
        return True
    return type(exc).__module__.split(".")[0] in ("distributed", "tornado", "asyncio")


class Partitions:
    """Row partitions of one fit on the cluster's workers, in a fixed order (the reduce sums
    their results in that order, so a pass is deterministic). Built from objects of this
    process (`scatter`): a partition lost with its worker is scattered again from them."""

    def __init__(self, c: Client, parts: Sequence[object]) -> None:
        self.client = c
        self._local = list(parts)
        self.futures: list[Future] = self._scatter(range(len(self._local)))

    def _scatter(self, which: Sequence[int]) -> list[Future]:
        # One partition at a time: a worker receives one and can spill it before the next
        # arrives (a batch lands at once, unspillable, and can push it over its limit).
        return [self._scatter_one(self._local[i]) for i in which]

    def _scatter_one(self, part: object) -> Future:
        from distributed.comm.core import CommClosedError

        for _attempt in range(PASS_RETRIES + 1):
            try:
                # hash=False: two fits of the same data never share (or release) each other's
                # copy.
                return self.client.scatter(part, hash=False)
            except (OSError, CommClosedError) as exc:
                lost = self._lost()
                if isinstance(lost, SchedulerLost):
                    raise lost from exc
                log.warning("a Dask worker died while a partition moved to it; sending it again")
                # Give the scheduler a moment to drop the dead worker before choosing again.
                time.sleep(RESCATTER_SECONDS)
        raise self._lost()

    def _lost(self) -> ConnectionError:
        """What a broken connection means: the scheduler went away, or (it still answers) a
        worker died while data moved to or from it."""
        try:
            _check_scheduler(self.client)
        except SchedulerLost as lost:
            return lost
        return PartitionsLost(
            "A Dask worker died while row partitions moved to it (its memory limit is the usual "
            "cause: partitions are PARTITION_BYTES each, workers spill the rest to disk)."
        )

    def run(self, fn: Callable[..., Any], *args: Any, tick: Tick | None = None) -> list[Any]:
        """fn(partition, *args) on every partition where it lives; the results in order."""
        for _attempt in range(PASS_RETRIES + 1):
            futures = [
                self.client.submit(fn, part, *args, pure=False, retries=1) for part in self.futures
            ]
            try:
                return gather(self.client, futures, tick)
            except SchedulerLost:
                raise
            except Exception as exc:
                if not _from_the_cluster(exc):
                    raise  # RunCancelled from the tick, or the task's own error
                if self.client.status != "running":
                    raise SchedulerLost(_lost_message(self.client)) from exc
                lost = [i for i, f in enumerate(self.futures) if f.status != "finished"]
                if not lost:
                    continue  # a result lost in transit with its worker: the pass again
                log.warning(
                    "%d row partitions lost with a Dask worker; scattering them again", len(lost)
                )
                again = self._scatter(lost)
                for i, f in zip(lost, again, strict=True):
                    self.futures[i] = f
        raise PartitionsLost(
            f"Dask workers kept dying: row partitions were lost {PASS_RETRIES + 1} times in one "
            "pass. Check the workers' memory limit and logs."
        )

    def release(self) -> None:
        if self.client.status == "running":
            self.client.cancel(self.futures)
        self.futures = []
        self._local = []
