"""A typed Python client of the Market Structure API (httpx and pydantic).

    from market_structure_client import Client

    with Client("http://127.0.0.1:8000", token=None) as api:
        dataset = api.upload("purchases.csv", id_column="household_id")
        run = api.submit("lca", {"n_classes": 4}, dataset_id=dataset.id, id_column="household_id")
        run = api.wait(run.id, on_progress=lambda p: print(f"{p.progress:.0%} {p.message}"))
        print(api.tables(run.id)["class_profile"])

`AsyncClient` offers the same calls for asyncio.
"""

from market_structure_client._core import ApiError, ApiUnavailable, Retry
from market_structure_client.aio import AsyncClient
from market_structure_client.models import Dataset, DatasetPage, ModelInfo, Progress, Run, RunPage
from market_structure_client.sync import Client

__all__ = [
    "ApiError",
    "ApiUnavailable",
    "AsyncClient",
    "Client",
    "Dataset",
    "DatasetPage",
    "ModelInfo",
    "Progress",
    "Retry",
    "Run",
    "RunPage",
]
