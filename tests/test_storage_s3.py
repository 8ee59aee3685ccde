"""Storage on S3: a real S3-compatible HTTP server on loopback (moto's server mode), reached by
s3fs exactly as a deployment reaches its bucket (STORAGE_URL, STORAGE_OPTIONS)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from backend.db import session_scope
from backend.orm import Dataset
from backend.services.datasets import create_dataset, delete_dataset, load_frame
from backend.settings import get_settings
from backend.storage import get_store, read_rows, row_groups
from backend.storage.records import artifact_bytes, ensure_dataset_stored, new_artifacts
from tests.support.data import simulate_lca
from tests.support.stored import blob_dataset

BUCKET = "market-structure-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def on_s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's settings point at the bucket (row groups of 100 rows) for one test."""
    options = {
        "endpoint_url": s3_endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    monkeypatch.setenv("STORAGE_URL", f"s3://{BUCKET}/prefix")
    monkeypatch.setenv("STORAGE_OPTIONS", json.dumps(options))
    monkeypatch.setenv("STORAGE_ROW_GROUP_ROWS", "100")
    get_settings.cache_clear()
    store = get_store()
    if not store.fs.exists(BUCKET):
        store.fs.mkdir(BUCKET)
    try:
        yield
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.usefixtures("on_s3")
def test_a_dataset_on_s3_reads_by_row_group_and_goes_with_its_row() -> None:
    # Given an upload while storage is the bucket
    sim = simulate_lca(n=250, seed=2)
    with session_scope() as session:
        dataset = create_dataset(session, sim.csv(), filename="s3.csv")
        key = dataset.storage_key
    assert key is not None and get_store().exists(key)
    assert get_store().full_url(key).startswith(f"s3://{BUCKET}/prefix/datasets/")
    # Then its row groups are 100 rows each, and one reads alone by ranged reads
    assert row_groups(key) == [100, 100, 50]
    part = read_rows(key, columns=["prod_1"], row_groups=[2])
    assert part["prod_1"].tolist() == sim.frame["prod_1"].iloc[200:].tolist()
    # When the dataset is deleted, Then its object is gone too
    with session_scope() as session:
        stored = session.get(Dataset, dataset.id)
        assert stored is not None
        delete_dataset(session, stored, force=False)
    assert not get_store().exists(key)


@pytest.mark.usefixtures("on_s3")
def test_a_blob_moves_to_s3_and_artifacts_round_trip() -> None:
    # Given a dataset stored as a blob (before migration 0009)
    frame = pd.DataFrame({"id": ["a", "b", "c"], "p1": [1.0, 0.0, 1.0], "p2": [0.0, 0.0, 1.0]})
    with session_scope() as session:
        dataset = blob_dataset(session, frame)
    # When it is moved, Then it reads from the bucket as it did from the blob
    key = ensure_dataset_stored(dataset.id)
    assert key is not None and get_store().exists(key)
    with session_scope() as session:
        moved = session.get(Dataset, dataset.id)
        assert moved is not None and moved.data is None
        pd.testing.assert_frame_equal(load_frame(moved), load_frame(dataset))
    assert ensure_dataset_stored(dataset.id) == key  # a second move is a no-op
    # And an artifact's bytes round-trip through the bucket
    with session_scope() as session:
        (artifact,) = new_artifacts(
            session, "0" * 32, {"posterior": ("application/x-netcdf", b"nc")}
        )
    assert artifact_bytes(artifact) == b"nc"


@pytest.mark.usefixtures("on_s3")
def test_a_write_that_fails_midway_leaves_the_key_as_it_was() -> None:
    # Given an object, When a rewrite fails after a multipart upload began (over 5 MB written)
    store = get_store()
    store.put_bytes("tests/kept", b"before")
    with pytest.raises(RuntimeError), store.writer("tests/kept") as sink:
        sink.write(b"x" * (6 << 20))
        raise RuntimeError("the table could not be encoded")
    # Then the key still holds the old bytes (the upload was aborted, not completed)
    assert store.read_bytes("tests/kept") == b"before"
