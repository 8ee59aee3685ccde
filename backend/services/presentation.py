"""A finished run as people read it — its charts, tables, report and ZIP — gathered from the
database: the stored result, the names given to its units, and its per-household outputs (a
sweep's are those of its recommended fit). The building itself is backend/presentation."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.families import family
from backend.orm import Artifact, Run
from backend.presentation.charts import ChartView
from backend.presentation.export import Bundle, zip_bundle
from backend.presentation.names import units
from backend.presentation.pdf import html_to_pdf
from backend.presentation.report import html_report
from backend.presentation.tables import MOST_LIKELY, memberships, result_tables
from backend.services.runs import artifact_filename, require_completed, run_out
from backend.settings import get_settings
from backend.storage.records import artifact_bytes, artifact_frame

ROWS = "assignments"
ARTIFACT_DESCRIPTIONS = {
    "posterior": "The posterior draws as NetCDF (ArviZ InferenceData): open it with "
    "arviz.from_netcdf.",
}


def _rows_artifact(session: Session, run: Run) -> Artifact | None:
    """The run's per-household outputs; a sweep's parent has its recommended fit's."""
    found = next((a for a in run.artifacts if a.name == ROWS), None)
    if found is not None or run.result is None:
        return found
    sweep = run.result.result.get("sweep")
    child_id = sweep.get("recommended_run_id") if isinstance(sweep, dict) else None
    child = session.get(Run, child_id) if isinstance(child_id, str) else None
    return next((a for a in child.artifacts if a.name == ROWS), None) if child else None


def chart_view(session: Session, run: Run) -> ChartView:
    """What a completed run's charts, tables and report are drawn from."""
    require_completed(run)
    assert run.result is not None
    spec = family(run.model_type)
    result = run.result.result
    rows = _rows_artifact(session, run)
    return ChartView(
        spec,
        result,
        units(spec, result, run.labels),
        load_rows=lambda: artifact_frame(rows) if rows is not None else None,
        has_rows=rows is not None,
    )


def _record(run: Run) -> dict[str, Any]:
    return run_out(run).model_dump(mode="json")


def _dataset_name(run: Run) -> str | None:
    dataset = run.dataset
    return (dataset.filename or dataset.name) if dataset is not None else None


def report_html(session: Session, run: Run, paper: str = "a4") -> str:
    view = chart_view(session, run)
    tables = result_tables(run.model_type, view.result, run.labels)
    return html_report(_record(run), view, tables, dataset=_dataset_name(run), paper=paper)


def report_pdf(session: Session, run: Run, paper: str = "a4") -> bytes:
    """The report printed to PDF by headless Chromium (backend/presentation/pdf.py)."""
    settings = get_settings()
    return html_to_pdf(
        report_html(session, run, paper),
        chromium=settings.chromium_path,
        timeout=settings.report_pdf_timeout_seconds,
    )


def results_with_names(session: Session, run: Run) -> dict[str, Any]:
    """GET /runs/{id}/results: the stored result with the run's `labels` and its `units` (key,
    default, name, colour) added, so a REST client reads the names people gave."""
    view = chart_view(session, run)
    return {**view.result, "labels": dict(run.labels or {}), "units": view.units.as_json()}


def named_assignments(session: Session, run: Run, rows: Any) -> Any:
    """Per-household outputs with, after each most-likely unit column (`modal_class`,
    `dominant_component`…), its name (`modal_class_name`): the columns clients already read
    stay as they are."""
    view = chart_view(session, run)
    out = rows.copy()
    for column in [c for c in rows.columns if MOST_LIKELY.fullmatch(str(c))]:
        named = [
            # pd.NA (a household with no data has no modal class) is not comparable: notna.
            view.units.name_of(int(k) - 1) if pd.notna(k) and int(k) >= 1 else None
            for k in rows[column]
        ]
        out.insert(list(out.columns).index(column) + 1, f"{column}_name", named)
    return out


EXPORT_FORMATS = ("zip", "pptx")
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def export(session: Session, run: Run, format: str, *, with_report: bool = True) -> bytes:
    """GET /runs/{id}/export: the run's bundle as a ZIP, or its slides as PowerPoint."""
    if format not in EXPORT_FORMATS:
        raise InvalidInput(f"Exports come as {' or '.join(EXPORT_FORMATS)}; got format={format!r}.")
    if format == "pptx":
        from backend.presentation.slides import pptx_deck  # python-pptx: on first use only

        view = chart_view(session, run)
        return pptx_deck(_record(run), view, dataset=_dataset_name(run))
    return export_zip(session, run, with_report=with_report)


def export_zip(session: Session, run: Run, *, with_report: bool = True) -> bytes:
    view = chart_view(session, run)
    tables = result_tables(run.model_type, view.result, run.labels)
    rows = view.rows()
    artifacts = [
        (
            artifact_filename(a.name, a.content_type),
            ARTIFACT_DESCRIPTIONS.get(a.name, f"The run's {a.name} output, as stored."),
            artifact_bytes(a),
        )
        for a in run.artifacts
        if a.name != ROWS
    ]
    record = _record(run)
    bundle = Bundle(
        spec=view.spec,
        run=record,
        result=results_with_names(session, run),
        units=view.units,
        labels=run.labels or {},
        tables=tables,
        memberships=None if rows is None else memberships(rows, view.units),
        report_html=(
            html_report(record, view, tables, dataset=_dataset_name(run)) if with_report else None
        ),
        artifacts=artifacts,
    )
    return zip_bundle(bundle)
