"""Datasets' rows and runs' artifacts in object storage (a local directory under DATA_DIR here):
through the whole API, a failed transaction, and moving blobs stored before migration 0009."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend import cli
from backend.db import session_scope
from backend.orm import Artifact, Dataset, Result, Run
from backend.schemas.results import ArtifactBlob
from backend.services.datasets import create_dataset, load_frame
from backend.services.ingest import from_parquet, to_parquet
from backend.services.runs import PARQUET
from backend.settings import get_settings
from backend.storage import get_store, read_rows, row_groups, write_rows
from backend.storage.records import artifact_bytes, artifact_frame, dataset_key
from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from tests.support.stored import blob_dataset
from workers import executor


def storage_dir() -> Path:
    url = get_settings().resolved_storage_url
    assert url.startswith("file://")
    return Path(url.removeprefix("file://"))


def objects_under(prefix: str) -> list[Path]:
    folder = storage_dir() / prefix
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_row_groups_are_fixed_and_read_alone() -> None:
    # Given a table with text IDs (missing in the whole first group) and 0/1 columns
    frame = pd.DataFrame(
        {
            "id": [None] * 7 + [f"h{i}" for i in range(13)],
            "p1": [float(i % 2) for i in range(20)],
            "p2": [1.0, None] * 10,
        }
    ).astype({"id": object})
    # When it is stored in row groups of 7 rows
    write_rows("tests/groups.parquet", frame, row_group_rows=7)
    # Then the footer answers 7, 7, 6 and one group reads alone, typed as the whole table is
    assert row_groups("tests/groups.parquet") == [7, 7, 6]
    whole = read_rows("tests/groups.parquet")
    pd.testing.assert_frame_equal(whole, from_parquet(to_parquet(frame)))
    second = read_rows("tests/groups.parquet", columns=["id", "p2"], row_groups=[1])
    pd.testing.assert_frame_equal(second, whole.loc[7:13, ["id", "p2"]].reset_index(drop=True))


def test_upload_run_assignments_and_delete_through_storage(client: httpx.Client) -> None:
    # Given an upload
    sim = simulate_lca(n=400, seed=3)
    dataset = upload(client, sim.csv(), "households.csv").json()
    # Then its rows are an object at its key, and the database holds the key, not the bytes
    with session_scope() as session:
        stored = session.get(Dataset, dataset["id"])
        assert stored is not None and stored.storage_key == dataset_key(dataset["id"])
        assert stored.data is None
        assert load_frame(stored, ["prod_1"])["prod_1"].tolist() == sim.frame["prod_1"].tolist()
    assert objects_under(f"datasets/{dataset['id']}") != []
    assert client.get(f"/datasets/{dataset['id']}").json()["preview"]

    # When a run fits it
    run = submit_lca(client, dataset["id"], n_classes=2, n_init=2, id_column="household_id")
    assert wait_for(client, run["id"])["status"] == "completed"
    # Then its per-household rows are served from its objects
    saved = objects_under(f"artifacts/{run['id']}")
    assert [p.name for p in saved] == ["assignments"]
    table = pd.read_csv(io.StringIO(client.get(f"/runs/{run['id']}/assignments").text))
    assert len(table) == 400
    parquet = client.get(f"/runs/{run['id']}/assignments", params={"format": "parquet"})
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 400

    # When the run is deleted, Then its objects go; and then the dataset's with the dataset
    assert client.delete(f"/runs/{run['id']}").status_code == 204
    assert objects_under(f"artifacts/{run['id']}") == []
    assert objects_under(f"datasets/{dataset['id']}") != []
    assert client.delete(f"/datasets/{dataset['id']}").status_code == 204
    assert objects_under(f"datasets/{dataset['id']}") == []


def lca_run(session: Session, dataset_id: str, status: str, **fields: Any) -> Run:
    """A run row as the API stores one, in `status`."""
    run = Run(
        name=f"{status} run",
        model_type="lca",
        status=status,
        params={},
        dataset_id=dataset_id,
        product_columns=[],
        queue_name="fits",
        **fields,
    )
    session.add(run)
    session.flush()
    return run


def test_a_saved_again_run_keeps_only_its_last_save_and_a_stale_save_writes_nothing() -> None:
    # Given a running run of this worker
    with session_scope() as session:
        dataset = blob_dataset(session, pd.DataFrame({"p1": [0.0, 1.0], "p2": [1.0, 0.0]}))
        run_id = lca_run(session, dataset.id, "running", worker_id=executor.WORKER_ID).id
    provenance = SimpleNamespace(data_hash="h", library_versions={})
    result: Any = SimpleNamespace(
        artifacts={"posterior": ArtifactBlob("application/x-netcdf", "p.nc", b"first")},
        provenance=provenance,
    )
    rows = to_parquet(pd.DataFrame({"p_class_1": [0.5, 0.5]}))
    # When it is saved twice (a save retried after its commit's answer was lost: the run is
    # running again), Then only the second save's objects are left
    assert executor._write_result(run_id, result, {}, {}, rows)
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(status="running"))
    result.artifacts["posterior"] = ArtifactBlob("application/x-netcdf", "p.nc", b"second")
    assert executor._write_result(run_id, result, {}, {}, rows)
    assert len(objects_under(f"artifacts/{run_id}")) == 2
    with session_scope() as session:
        saved = session.scalars(select(Artifact).where(Artifact.run_id == run_id)).all()
        assert {a.name: artifact_bytes(a) for a in saved}["posterior"] == b"second"
    # And a save for a run no longer this worker's (completed now) leaves no object behind
    assert not executor._write_result(run_id, result, {}, {}, rows)
    assert len(objects_under(f"artifacts/{run_id}")) == 2


def test_a_transaction_that_fails_removes_the_object_it_wrote() -> None:
    # Given an upload whose transaction fails after its rows were written
    dataset_id = None
    with pytest.raises(RuntimeError), session_scope() as session:
        dataset_id = create_dataset(session, simulate_lca(n=50, seed=1).csv(), filename="a.csv").id
        assert objects_under(f"datasets/{dataset_id}") != []
        raise RuntimeError("the request failed after the upload")
    # Then neither the row nor its object is left
    assert dataset_id is not None and objects_under(f"datasets/{dataset_id}") == []
    with session_scope() as session:
        assert session.get(Dataset, dataset_id) is None


def blob_dataset_with_a_run(frame: pd.DataFrame) -> tuple[str, str, pd.DataFrame]:
    """A dataset and a completed run stored as before migration 0009 (bytes in blobs), and
    the dataset's typed table."""
    with session_scope() as session:
        fresh = create_dataset(session, frame.to_csv(index=False).encode(), filename="old.csv")
        dataset = blob_dataset(session, typed := load_frame(fresh))
        run = lca_run(session, dataset.id, "completed")
        session.add(Result(run_id=run.id, result={}))
        rows = pd.DataFrame({"household_id": frame["household_id"], "class_1": 1.0})
        session.add(
            Artifact(run_id=run.id, name="assignments", content_type=PARQUET, data=to_parquet(rows))
        )
        return dataset.id, run.id, typed


def test_migrate_storage_moves_blobs_once_and_keeps_them_readable(
    client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a dataset and an artifact stored as blobs, readable as they are
    frame = simulate_lca(n=60, seed=4).frame
    dataset_id, run_id, typed = blob_dataset_with_a_run(frame)
    before = client.get(f"/datasets/{dataset_id}").json()["preview"]
    # When the command runs
    assert cli.main(["migrate-storage"]) == 0
    assert "Moved" in capsys.readouterr().out
    # Then both are objects, the blobs are cleared, and they read as before
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None and dataset.data is None
        assert dataset.storage_key == dataset_key(dataset_id)
        artifact = session.scalar(select(Artifact).where(Artifact.run_id == run_id))
        assert artifact is not None and artifact.data is None and artifact.storage_key
        assert artifact_frame(artifact)["household_id"].tolist() == frame["household_id"].tolist()
        pd.testing.assert_frame_equal(load_frame(dataset), typed)
    assert client.get(f"/datasets/{dataset_id}").json()["preview"] == before
    # And a second run has nothing left to move
    from backend.storage.migrate import move_blobs

    assert move_blobs() == (0, 0)


def test_migrate_storage_says_which_blob_it_cannot_read_and_moves_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a blob dataset whose stored bytes are not Parquet (0 bytes), beside a readable one
    frame = simulate_lca(n=30, seed=5).frame
    good, _, _ = blob_dataset_with_a_run(frame)
    with session_scope() as session:
        unreadable = blob_dataset(session, frame, name="unreadable")
        session.flush()
        bad = unreadable.id
        unreadable.data = b""
    try:
        # When the command runs
        code = cli.main(["migrate-storage"])
        out = capsys.readouterr().out
        # Then it names the unreadable one, keeps its blob, moves the other, and exits 1
        assert code == 1
        assert f"dataset {bad} not moved" in out and "not readable Parquet" in out
        with session_scope() as session:
            assert session.get(Dataset, bad).data == b""  # type: ignore[union-attr]
            assert session.get(Dataset, good).storage_key == dataset_key(good)  # type: ignore[union-attr]
    finally:
        with session_scope() as session:
            session.execute(delete(Dataset).where(Dataset.id == bad))


def test_a_local_write_that_fails_leaves_the_file_as_it_was() -> None:
    store = get_store()
    store.put_bytes("tests/kept", b"before")
    with pytest.raises(RuntimeError), store.writer("tests/kept") as sink:
        sink.write(b"half")
        raise RuntimeError("the table could not be encoded")
    assert store.read_bytes("tests/kept") == b"before"
    assert [p.name for p in objects_under("tests") if p.name.startswith("kept")] == ["kept"]
