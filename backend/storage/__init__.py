"""Datasets' rows and runs' artifacts as objects under STORAGE_URL; the database keeps metadata.

Layout (keys are relative to STORAGE_URL, which is any fsspec URL: `file:///…`, the default
`DATA_DIR/storage`, or `s3://bucket/prefix`):

    datasets/{dataset_id}/rows.parquet      one Parquet file per dataset, written once at upload
    artifacts/{run_id}/{save_id}/{name}     a run's outputs (assignments, posterior, …)

- `datasets.storage_key` / `artifacts.storage_key` hold the key; NULL means the row still has
  its bytes in the old `data` blob (stored before migration 0009). Readers here take either,
  so nothing stored before is lost; `market-structure migrate-storage` moves the blobs.
- A dataset's Parquet file holds row groups of STORAGE_ROW_GROUP_ROWS rows (default 100,000;
  the last one shorter), columns as the upload was typed: 0/1 columns as float64, text (and
  IDs) as strings. A row group is the unit a distributed fit partitions by:
  `row_groups(key)` answers the rows of each group (from the footer, without reading data),
  `read_rows(key, columns=…, row_groups=[…])` one or several of them. Both read the store
  from this process's own settings, so a Dask worker started with the same STORAGE_URL and
  credentials reads by key and no credentials travel in a task graph.
  `ensure_dataset_stored(dataset_id)` moves a legacy blob first and answers the key.
- A save writes its artifacts under a new `save_id`, so a stale worker's late save never
  overwrites objects a committed row points at; `artifacts/{run_id}/` goes with the run.
- Objects are written before the transaction that records them and deleted only after the
  transaction that forgets them commits (`backend.storage.lifecycle`): a failed transaction
  never leaves the database pointing at nothing. A crash between the two can leave an
  orphaned object (never a dangling key); orphans are harmless and can be swept by listing
  the prefixes against the database.
"""

from __future__ import annotations

from backend.storage.store import Store, get_store
from backend.storage.tables import read_rows, row_groups, write_rows

__all__ = ["Store", "get_store", "read_rows", "row_groups", "write_rows"]
