from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from backend.deps import DatasetDep, OffsetQuery, SessionDep
from backend.errors import error_responses
from backend.schemas.api import DatasetList, DatasetOut
from backend.services import datasets as service
from backend.services.basket import dataset_basket
from backend.uploads import spooled_upload

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.post(
    "", status_code=201, response_model=DatasetOut, responses=error_responses(413, 415, 422)
)
def upload_dataset(
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV, XLSX or Parquet; one row per household.")],
    name: Annotated[str | None, Form()] = None,
    product_columns: Annotated[
        str | None, Form(description="Comma-separated product columns to check now (optional).")
    ] = None,
    id_column: Annotated[
        str | None,
        Form(description="The household ID column, checked now: no missing or repeated IDs."),
    ] = None,
    sheet: Annotated[
        str | None, Form(description="XLSX: the sheet to read (default: the first with data).")
    ] = None,
    kind: Annotated[
        Literal["households", "product_features"],
        Form(
            description="households (default: one row per household, 0/1 product columns) or "
            "product_features (one row per product: a `product` column and feature columns, "
            "for a discrete choice run's product_features_dataset)."
        ),
    ] = "households",
) -> DatasetOut:
    # A plain `def`: FastAPI runs it in its thread pool, so parsing a large file never holds
    # the event loop (/live, progress streams) while it runs.
    dataset = service.upload_dataset(
        session,
        spooled_upload(file),
        filename=file.filename,
        name=name,
        product_columns=product_columns,
        id_column=id_column,
        sheet=sheet,
        kind=kind,
    )
    return service.dataset_out(dataset, preview=True)


@router.get("", response_model=DatasetList)
def list_datasets(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
) -> DatasetList:
    items, total = service.list_datasets(session, limit, offset)
    return DatasetList(
        items=[service.dataset_out(d) for d in items], total=total, limit=limit, offset=offset
    )


@router.get("/{dataset_id}", response_model=DatasetOut, responses=error_responses(404))
def get_dataset(dataset: DatasetDep) -> DatasetOut:
    return service.dataset_out(dataset, preview=True)


@router.delete("/{dataset_id}", status_code=204, responses=error_responses(404, 409))
def delete_dataset(
    session: SessionDep, dataset: DatasetDep, force: Annotated[bool, Query()] = False
) -> Response:
    service.delete_dataset(session, dataset, force=force)
    return Response(status_code=204)


@router.get("/{dataset_id}/basket", responses=error_responses(404, 422))
def get_basket(
    dataset: DatasetDep,
    products: Annotated[
        str | None,
        Query(description="Comma-separated product columns; default every 0/1 column."),
    ] = None,
    weight_column: Annotated[
        str | None,
        Query(description="A column of case weights: each household counts as its weight."),
    ] = None,
) -> dict[str, Any]:
    """Penetration per product, duplication of purchase (row A, column B: share of A's buyers
    who also buy B) and lift, computed once per dataset, product list and weight column."""
    return dataset_basket(dataset, products, weight_column)
