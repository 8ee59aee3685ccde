"""The ZIP bundle of a run: every table as CSV (safe to open in a spreadsheet) and Parquet,
the per-household memberships keyed by the ID column with the units' names, the full result
JSON, the run's record, its labels, the HTML report, the run's other artifacts (a Bayesian
posterior), a README saying what each file holds and a manifest.json listing the same for
programs."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from backend.families import FamilySpec
from backend.presentation.names import Units
from backend.presentation.tables import describe
from backend.services.ingest import to_csv, to_parquet

FILES = {
    "results.json": "The full result as JSON, exactly as GET /runs/{id}/results answers it.",
    "run.json": "The run's record: settings, timings, data hash, library versions, labels.",
    "labels.json": "The names given to the units (raw key → name).",
    "report.html": "A self-contained HTML report with the charts (open it in a browser).",
    "manifest.json": "This list, for programs: each file with what it holds.",
}


@dataclass(frozen=True)
class Bundle:
    """What goes in a run's ZIP."""

    spec: FamilySpec
    run: Mapping[str, Any]  # the run's record (RunOut as JSON)
    result: Mapping[str, Any]
    units: Units
    labels: Mapping[str, str]
    tables: Mapping[str, pd.DataFrame]
    memberships: pd.DataFrame | None = None
    report_html: str | None = None
    # Other stored outputs as they are: (file name, what it holds, bytes).
    artifacts: Iterable[tuple[str, str, bytes]] = ()


def readme(bundle: Bundle, listed: Mapping[str, str]) -> str:
    run = bundle.run
    lines = [
        f"# {run.get('name', 'Run')}",
        "",
        f"{bundle.spec.title} · model type {run.get('model_type')} · run id {run.get('id')} · "
        f"exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Products: {len(run.get('product_columns') or [])} · ID column: "
        f"{run.get('id_column') or '(none: rows are numbered from 1)'}.",
        "",
    ]
    if bundle.units.names:
        lines.append(
            f"{bundle.units.plural}, as named in every file: " + ", ".join(bundle.units.names) + "."
        )
        if bundle.labels:
            given = ", ".join(f"{k} → {v}" for k, v in bundle.labels.items())
            lines.append(f"(Names given to them: {given}.)")
        lines.append("")
    lines += ["## Files", ""]
    lines += [f"- `{name}` — {what}" for name, what in listed.items()]
    lines += ["", "Every table comes as CSV (opens in a spreadsheet) and Parquet (types kept)."]
    return "\n".join(lines) + "\n"


def zip_bundle(bundle: Bundle) -> bytes:
    files: dict[str, bytes] = {}
    listed: dict[str, str] = {}
    rows: dict[str, int] = {}
    tables = dict(bundle.tables)
    if bundle.memberships is not None:
        tables["memberships"] = bundle.memberships
    for name, table in tables.items():
        if table.empty:
            continue  # no empty files: a table with no rows (DCM without product features)
        files[f"{name}.csv"] = to_csv(table).encode("utf-8")
        files[f"{name}.parquet"] = to_parquet(table)
        listed[f"{name}.csv"] = describe(bundle.spec, name)
        rows[f"{name}.csv"] = len(table)
    files["results.json"] = json.dumps(bundle.result, indent=1).encode()
    files["run.json"] = json.dumps(bundle.run, indent=1, default=str).encode()
    if bundle.labels:
        files["labels.json"] = json.dumps(
            dict(bundle.labels), indent=1, ensure_ascii=False
        ).encode()
    if bundle.report_html:
        files["report.html"] = bundle.report_html.encode("utf-8")
    for filename, what, data in bundle.artifacts:
        files[filename] = data
        listed[filename] = what
    listed |= {
        name: what for name, what in FILES.items() if name in files or name == "manifest.json"
    }
    manifest = [
        {
            "file": name,
            "table": name.rsplit(".", 1)[0] if name.endswith(".csv") else None,
            "description": what,
            "rows": rows.get(name),
        }
        for name, what in listed.items()
    ]
    files["manifest.json"] = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    counted = {
        name: f"{what} ({rows[name]:,} row{'' if rows[name] == 1 else 's'})"
        if name in rows
        else what
        for name, what in listed.items()
    }
    files["README.md"] = readme(bundle, counted).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ["README.md", *sorted(f for f in files if f != "README.md")]:
            archive.writestr(name, files[name])
    return buffer.getvalue()
