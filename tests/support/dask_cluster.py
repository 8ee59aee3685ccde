"""A small Dask LocalCluster for tests, and pointing this process's settings at it.

Two worker processes of one thread each (the CI and development machines have two cores that
other work shares); no dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from backend.settings import get_settings
from workers.models import cluster


@contextmanager
def local_cluster(**options: Any) -> Iterator[Any]:
    from distributed import LocalCluster

    kw: dict[str, Any] = dict(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with LocalCluster(**{**kw, **options}) as lc:
        yield lc


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    """The scheduler of one LocalCluster shared by the test modules that import this fixture."""
    with local_cluster() as lc:
        yield lc.scheduler_address


@contextmanager
def scheduler_set(
    monkeypatch: pytest.MonkeyPatch, address: str, min_cells: int = 0
) -> Iterator[None]:
    """DASK_SCHEDULER_ADDRESS (and DASK_MIN_CELLS) for the block; the client closed after."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    monkeypatch.setenv("DASK_MIN_CELLS", str(min_cells))
    get_settings.cache_clear()
    try:
        yield
    finally:
        cluster.close()
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        monkeypatch.delenv("DASK_MIN_CELLS")
        get_settings.cache_clear()


def both_ways(monkeypatch: pytest.MonkeyPatch, address: str, fn: Any) -> tuple[Any, Any, list[int]]:
    """fn() in process, then with the scheduler set; and the partitions the second one used."""
    here = fn()
    used: list[int] = []
    scatter = cluster.Partitions._scatter

    def counting(self: cluster.Partitions, which: Any) -> Any:
        used.append(len(which))
        return scatter(self, which)

    monkeypatch.setattr(cluster.Partitions, "_scatter", counting)
    with scheduler_set(monkeypatch, address):
        there = fn()
    return here, there, used
