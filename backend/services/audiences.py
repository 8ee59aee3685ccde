"""Audiences: per segment, the households whose probability of it is at least a threshold,
from a fit's or a scoring run's per-household table (docs/scoring.md, "Audiences"). Written by
the one CSV writer every export uses (backend.services.ingest.to_csv), so IDs and names that
look like spreadsheet formulas are defused."""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput
from backend.families import family
from backend.orm import Run
from backend.presentation.names import units
from backend.services import runs as run_service
from backend.services.ingest import to_csv
from backend.storage.records import artifact_frame


def audience_table(session: Session, run: Run, threshold: float) -> pd.DataFrame:
    """Long form: ID, segment (number), segment name, probability; one row per household and
    segment it reaches the threshold in (a low threshold can put a household in several)."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidInput(f"threshold={threshold}: give a probability above 0 and at most 1.")
    run_service.require_completed(run)
    assert run.result is not None
    result = run.result.result
    spec = family(run.model_type)
    if run.kind not in ("fit", "score") or spec.kind.value != "segments":
        raise Conflict(
            f"Run {run.id} has no segment probabilities: audiences come from latent class fits "
            "and their scoring runs."
        )
    names = units(spec, result, run.labels).names
    rows = artifact_frame(run_service.get_artifact(session, run, "assignments"))
    key = str(rows.columns[0])
    parts = []
    for c, name in enumerate(names):
        column = f"p_class_{c + 1}"
        if column not in rows.columns:
            continue
        probability = pd.to_numeric(rows[column], errors="coerce")
        chosen = probability >= threshold
        part = pd.DataFrame(
            {
                key: rows.loc[chosen, key].to_numpy(),
                "segment": c + 1,
                "segment_name": name,
                "probability": probability[chosen].to_numpy(),
            }
        )
        parts.append(part.sort_values("probability", ascending=False, kind="stable"))
    if not parts:
        return pd.DataFrame(columns=[key, "segment", "segment_name", "probability"])
    return pd.concat(parts, ignore_index=True)


def long_csv(table: pd.DataFrame) -> str:
    return to_csv(table)


def zipped(table: pd.DataFrame, threshold: float) -> bytes:
    """One CSV per segment (ID and probability), named after the segment."""
    key = str(table.columns[0])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for (segment, name), part in table.groupby(["segment", "segment_name"], sort=True):
            filename = f"audience_{segment}_{_slug(str(name))}.csv"
            archive.writestr(filename, to_csv(part[[key, "probability"]]))
        archive.writestr(
            "README.txt",
            f"One file per segment: the households whose probability of the segment is at least "
            f"{threshold:g}, most probable first.\n",
        )
    return buffer.getvalue()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:60] or "segment"


def filename_stem(run: Run, threshold: float) -> str:
    return f"audiences_{run.id}_{threshold:g}"
