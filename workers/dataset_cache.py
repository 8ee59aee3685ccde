"""A small per-process cache of parsed datasets, keyed by dataset id.

A sweep's children, repeated fits and bootstrap samples read the same dataset: the worker
reads its Parquet (from storage, or a blob not yet moved there) once, not once per run. Bounded
by total memory so a worker holding a few large datasets does not grow without limit.

The key is the dataset, not the upload's SHA-256: two datasets made from the same bytes can
hold different tables (another XLSX sheet, or one stored before IDs were kept as text), and a
dataset's stored table never changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd
from sqlalchemy import select

from backend.db import session_scope
from backend.errors import DataError
from backend.orm import Dataset
from backend.storage.records import stored_frame

MAX_CACHE_BYTES = 1 << 30  # 1 GiB of parsed frames per worker process


class DatasetCache:
    def __init__(self, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def frame(self, dataset_id: str) -> pd.DataFrame:
        with session_scope() as session:
            exists = session.scalar(select(Dataset.id).where(Dataset.id == dataset_id))
            if exists is None:
                raise DataError(f"Dataset {dataset_id} was deleted.")
            with self._lock:
                if dataset_id in self._frames:
                    self._frames.move_to_end(dataset_id)
                    return self._frames[dataset_id]
            frame = stored_frame(session, dataset_id)
        if frame is None:
            raise DataError(f"Dataset {dataset_id} was deleted.")
        with self._lock:
            self._frames[dataset_id] = frame
            while len(self._frames) > 1 and self._size() > self.max_bytes:
                self._frames.popitem(last=False)
        return frame

    def _size(self) -> int:
        return sum(int(f.memory_usage(deep=False).sum()) for f in self._frames.values())


datasets = DatasetCache()
