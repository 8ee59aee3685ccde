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
