"""A finished run as people read it — its charts, tables, report and ZIP — gathered from the
database: the stored result, the names given to its units, and its per-household outputs (a
sweep's are those of its recommended fit). The building itself is backend/presentation."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.families import family
from backend.orm import Artifact, Run
from backend.presentation.charts import ChartView
from backend.presentation.export import Bundle, zip_bundle
from backend.presentation.names import units
from backend.presentation.report import html_report
from backend.presentation.tables import memberships, result_tables
from backend.services.ingest import from_parquet
from backend.services.runs import artifact_filename, require_completed, run_out

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
        load_rows=lambda: from_parquet(rows.data) if rows is not None else None,
        has_rows=rows is not None,
    )


def _record(run: Run) -> dict[str, Any]:
    return run_out(run).model_dump(mode="json")


def report_html(session: Session, run: Run) -> str:
    view = chart_view(session, run)
    return html_report(_record(run), view, result_tables(run.model_type, view.result, run.labels))


EXPORT_FORMATS = ("zip",)


def export(session: Session, run: Run, format: str, *, with_report: bool = True) -> bytes:
    """GET /runs/{id}/export: the run's bundle in `format` (only a ZIP for now)."""
    if format not in EXPORT_FORMATS:
        raise InvalidInput(
            f"Exports come as {', '.join(EXPORT_FORMATS)} for now; got format={format!r}."
        )
    return export_zip(session, run, with_report=with_report)


def export_zip(session: Session, run: Run, *, with_report: bool = True) -> bytes:
    view = chart_view(session, run)
    tables = result_tables(run.model_type, view.result, run.labels)
    rows = view.rows()
    artifacts = [
        (
            artifact_filename(a.name, a.content_type),
            ARTIFACT_DESCRIPTIONS.get(a.name, f"The run's {a.name} output, as stored."),
            a.data,
        )
        for a in run.artifacts
        if a.name != ROWS
    ]
    record = _record(run)
    bundle = Bundle(
        spec=view.spec,
        run=record,
        result=view.result,
        units=view.units,
        labels=run.labels or {},
        tables=tables,
        memberships=None if rows is None else memberships(rows, view.units),
        report_html=html_report(record, view, tables) if with_report else None,
        artifacts=artifacts,
    )
    return zip_bundle(bundle)
