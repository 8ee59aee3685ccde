"""What people read of a finished run, built on the server: its charts (the catalogue, then
each as Vega-Lite) and the self-contained HTML report. The ZIP is GET /runs/{id}/export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from backend.deps import FitRunDep, SessionDep
from backend.errors import error_responses
from backend.presentation import charts
from backend.routes.downloads import download
from backend.schemas.charts import ChartList
from backend.services import presentation

router = APIRouter(prefix="/runs", tags=["runs"])
COMPLETED_ONLY = error_responses(404, 409)


@router.get("/{run_id}/charts", response_model=ChartList, responses=COMPLETED_ONLY)
def list_charts(session: SessionDep, run: FitRunDep) -> dict[str, Any]:
    """The run's chart sections in reading order, with the options each takes, and its units
    with their names."""
    return {"run_id": run.id, **charts.listing(presentation.chart_view(session, run))}


@router.get(
    "/{run_id}/charts/{chart_id}",
    responses={
        200: {"description": "A Vega-Lite specification, data inline."},
        **error_responses(404, 409, 422),
    },
)
def get_chart(
    session: SessionDep, run: FitRunDep, chart_id: str, request: Request
) -> dict[str, Any]:
    """One chart as Vega-Lite JSON; the section's options go in the query string (e.g.
    `?measure=index`, `?units=Class 1,Class 3`, `?colour=clusters`)."""
    view = presentation.chart_view(session, run)
    return charts.vega(view, chart_id, dict(request.query_params))


@router.get(
    "/{run_id}/report",
    response_class=Response,
    responses={
        200: {
            "description": "A self-contained HTML report (charts as SVG, interactive ones in the "
            "appendix, Vega inlined), or the same printed to PDF.",
            "content": {"text/html": {}, "application/pdf": {}},
        },
        **error_responses(404, 409, 503),
    },
)
def get_report(
    session: SessionDep,
    run: FitRunDep,
    format: Annotated[
        Literal["html", "pdf"], Query(description="html (self-contained) or pdf (printed).")
    ] = "html",
    paper: Annotated[Literal["a4", "letter"], Query(description="The sheet it prints on.")] = "a4",
) -> Response:
    """The executive report: the run's name, the data and method in plain words, key findings,
    a section per unit, the maps, who they are; the technical tables in an appendix."""
    if format == "pdf":
        return download(
            presentation.report_pdf(session, run, paper), "application/pdf", f"report_{run.id}.pdf"
        )
    return download(
        presentation.report_html(session, run, paper),
        "text/html",
        f"report_{run.id}.html",
        inline=True,
    )
