"""Reading the run's export ZIP the API builds (`GET /runs/{id}/export`), pure: its tables
(each described by the ZIP's manifest.json) and any one file, so the app shows and offers
exactly what is downloaded."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    frame: pd.DataFrame


def read_file(bundle: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return archive.read(name)


def tables(bundle: bytes) -> dict[str, Table]:
    """Every table of the bundle, in the manifest's order, from its Parquet file (types kept)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        out = {}
        for entry in manifest:
            name = entry.get("table")
            if not name or f"{name}.parquet" not in archive.namelist():
                continue
            frame = pd.read_parquet(io.BytesIO(archive.read(f"{name}.parquet")))
            out[name] = Table(name, str(entry.get("description", "")), frame)
    return out
