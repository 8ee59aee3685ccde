"""Workers parse a dataset once per process, keyed by its digest, within a memory bound."""

from __future__ import annotations

import pytest

from backend.db import session_scope
from backend.errors import DataError
from backend.services.datasets import create_dataset
from tests.support.data import simulate_lca
from workers.dataset_cache import DatasetCache


def stored_dataset(seed: int) -> str:
    with session_scope() as session:
        return create_dataset(session, simulate_lca(n=200, seed=seed).csv(), filename="d.csv").id


def test_second_read_is_a_hit_and_the_bound_evicts_the_oldest() -> None:
    # A hit answers the frame parsed the first time
    cache = DatasetCache()
    first = stored_dataset(1)
    a = cache.frame(first)
    assert cache.frame(first) is a
    # With room for one frame only, a second dataset evicts the first: it is parsed again
    small = DatasetCache(max_bytes=1)
    evicted = small.frame(first)
    small.frame(stored_dataset(2))
    assert small.frame(first) is not evicted
    assert small.frame(first) is small.frame(first)


def test_a_deleted_dataset_is_a_data_error() -> None:
    with pytest.raises(DataError, match="deleted"):
        DatasetCache().frame("no-such-dataset")


def test_datasets_made_from_the_same_file_are_cached_apart() -> None:
    # Given one workbook (one SHA-256) stored twice: once from each of its sheets
    from tests.support.uploads import binary_rows, sheet_xml, workbook

    first, second = binary_rows(12, 3, seed=1), binary_rows(12, 3, seed=2)
    content = workbook({"A": sheet_xml(first), "B": sheet_xml(second)})
    with session_scope() as session:
        a = create_dataset(session, content, filename="w.xlsx", sheet="A").id
        b = create_dataset(session, content, filename="w.xlsx", sheet="B").id
    # When a worker reads both, Then each answers its own table
    cache = DatasetCache()
    assert cache.frame(a)["p1"].tolist() == [row[1] for row in first[1:]]
    assert cache.frame(b)["p1"].tolist() == [row[1] for row in second[1:]]
