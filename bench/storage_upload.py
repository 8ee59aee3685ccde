"""Storing an upload: Parquet streamed to object storage against the old database blob.

    .venv/bin/python bench/storage_upload.py                      # 1M × 50 CSV, SQLite
    .venv/bin/python bench/storage_upload.py --database-url postgresql://postgres@127.0.0.1/postgres

Each variant runs in a process of its own with a fresh DATA_DIR (and a fresh database: a SQLite
file, or a PostgreSQL database made for the run from the admin URL given), uploads the same
CSV file through `create_dataset` as the API does (the file object, never joined into bytes)
and commits, then reads the whole table back as a worker does (`stored_frame`) and two columns
as the API's checks do. `storage` is the code as it is: the table streamed to STORAGE_URL a
row group at a time, the row keeping its key. `blob` is the code before issue 19: the table
serialised to Parquet bytes and written into `datasets.data`. Each prints the storing step's
seconds and resident-memory rise (parse excluded), the whole upload's seconds, the process's
peak memory (the parse's), and the reads; the two alternate twice (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import in_own_process, peak_mb, report_to_parent, size_parser  # noqa: E402


def make_csv(path: Path, n: int, p: int) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        (rng.random((n, p)) < 0.2).astype(np.int8), columns=[f"p{i}" for i in range(p)]
    )
    frame.insert(0, "household_id", [f"H{i:08d}" for i in range(n)])
    frame.to_csv(path, index=False)


class Window:
    """Seconds and resident-memory rise (sampled every 2 ms) from `open` to `close`: the storing
    of the table, from the call that stores it to the end of the commit. The parse before it
    sets the process's peak, which would hide what storing adds."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.top = 0
        self.stop = threading.Event()

    def open(self) -> None:
        self.base = self.top = self.process.memory_info().rss
        self.start = time.perf_counter()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self.stop.wait(0.002):
            self.top = max(self.top, self.process.memory_info().rss)

    def close(self) -> dict[str, float]:
        seconds = time.perf_counter() - self.start
        self.stop.set()
        return {"store_s": seconds, "store_rss_rise_mb": (self.top - self.base) / 2**20}


def child(which: str, csv: Path, database_url: str | None) -> None:
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-storage-")
    os.environ["MAX_UPLOAD_MB"] = "100000"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    from backend.db import session_scope
    from backend.migrations import upgrade_database
    from backend.services import datasets
    from backend.services.ingest import to_parquet
    from backend.storage.records import stored_frame

    upgrade_database()
    window = Window()
    store = datasets.store_dataset_rows

    def timed(session: Any, dataset: Any, frame: pd.DataFrame) -> None:
        window.open()
        if which == "blob":  # the code before issue 19
            dataset.data = to_parquet(frame)
        else:
            store(session, dataset, frame)

    datasets.store_dataset_rows = timed
    start = time.perf_counter()
    with csv.open("rb") as upload, session_scope() as session:
        dataset_id = datasets.create_dataset(session, upload, filename=csv.name).id
    figures = {**window.close(), "upload_s": time.perf_counter() - start, "peak_mb": peak_mb()}
    start = time.perf_counter()
    with session_scope() as session:
        frame = stored_frame(session, dataset_id)
        assert frame is not None
    figures["read_all_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with session_scope() as session:
        found = session.get(datasets.Dataset, dataset_id)
        assert found is not None
        datasets.load_frame(found, ["p0", "p1"])
    report_to_parent({**figures, "read_2_columns_s": time.perf_counter() - start})


def fresh_postgres(admin: str) -> str:
    from sqlalchemy import create_engine, make_url, text

    url = admin.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"bench_storage_{uuid.uuid4().hex[:8]}"
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_postgres(admin: str, database: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    name = make_url(database).database
    url = admin.replace("postgresql://", "postgresql+psycopg://", 1)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = size_parser(__doc__ or "", n=1_000_000, p=50)
    parser.add_argument("--database-url", help="PostgreSQL admin URL (default: SQLite)")
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.csv), args.database_url)
        return
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "households.csv"
        make_csv(csv, args.n, args.p)
        size = csv.stat().st_size / 1e6
        print(f"{args.n:,} × {args.p} CSV, {size:.0f} MB; load {os.getloadavg()[0]:.1f}")
        for which in ("blob", "storage", "blob", "storage"):
            extra = (
                ["--database-url", fresh_postgres(args.database_url)] if args.database_url else []
            )
            figures = in_own_process(__file__, which, "--csv", str(csv), *extra)
            print(which, {k: round(v, 2) for k, v in figures.items()})


if __name__ == "__main__":
    main()
