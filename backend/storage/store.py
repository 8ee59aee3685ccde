"""One fsspec filesystem rooted at STORAGE_URL, with the few operations the service needs."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from backend.settings import Settings, get_settings

# Object stores make an object visible only when its upload completes, so a reader never sees
# half of one; elsewhere (a local directory, NFS, SFTP) a file is visible while it is written,
# so it is written under a temporary name and renamed into place.
ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl"}


class Store:
    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.options = dict(options or {})
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.options)
        self.root = self.root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.atomic_put = bool(set(protocols) & ATOMIC_PUT)
        self.local = isinstance(self.fs, LocalFileSystem)

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def full_url(self, key: str) -> str:
        """The object's URL, for people and logs (readers here take keys)."""
        return f"{self.url}/{key}"

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        return self.fs.open(self.path(key), mode)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A file to stream an object's bytes into; the key holds them only once it is closed
        without an error (never a partial object at the key)."""
        final = self.path(key)
        target = final if self.atomic_put else f"{final}.tmp-{uuid.uuid4().hex}"
        if self.local:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        sink = self.fs.open(target, "wb")
        try:
            yield sink
        except BaseException:
            self._abandon(sink, target)
            raise
        sink.close()
        if target != final:
            self.fs.mv(target, final)

    def _abandon(self, sink: Any, target: str) -> None:
        """Drop a write that failed. On an object store closing would publish the bytes written
        so far (replacing what the key held): the upload is aborted instead."""
        if self.atomic_put:
            with contextlib.suppress(Exception):
                sink.discard()
            sink.closed = True  # nothing left to flush, also not when it is collected
            return
        with contextlib.suppress(Exception):
            sink.close()
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.rm(target)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as sink:
            sink.write(data)

    def read_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def copy(self, source: str, key: str) -> None:
        """Server-side on object stores: the bytes do not pass through this process."""
        if self.local:
            self.fs.makedirs(self.path(key).rsplit("/", 1)[0], exist_ok=True)
        self.fs.copy(self.path(source), self.path(key))

    def exists(self, key: str) -> bool:
        self.fs.invalidate_cache()  # s3fs caches listings; another process may have written
        return bool(self.fs.exists(self.path(key)))

    def delete(self, key: str) -> None:
        """Remove an object, or every object under a prefix ending in "/"; absent is fine."""
        path = self.path(key.rstrip("/"))
        self.fs.invalidate_cache()
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path, recursive=key.endswith("/"))


_stores: dict[tuple[str, str, int], Store] = {}
_lock = threading.Lock()


def storage_options(settings: Settings) -> dict[str, Any]:
    options = json.loads(settings.storage_options) if settings.storage_options else {}
    if not isinstance(options, dict):
        raise ValueError('STORAGE_OPTIONS must be a JSON object, e.g. {"endpoint_url": "…"}')
    return options


def get_store() -> Store:
    """The store of this process's settings. One per process id: s3fs runs an event loop on a
    thread, which a forked worker process does not inherit."""
    settings = get_settings()
    key = (settings.resolved_storage_url, settings.storage_options or "", os.getpid())
    with _lock:
        if key not in _stores:
            _stores[key] = Store(key[0], storage_options(settings))
        return _stores[key]
