from __future__ import annotations

from fastapi import APIRouter

from backend.families import families
from backend.schemas.api import ModelInfo

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelInfo])
def list_models() -> list[ModelInfo]:
    return [
        ModelInfo(
            model_type=spec.model_type,
            title=spec.title,
            description=spec.description,
            queue=spec.queue,
            sweep_param=spec.sweep_param,
            params_schema=spec.params.model_json_schema(),
            result_schema=spec.result.model_json_schema(),
            **spec.client_view(),
        )
        for spec in families().values()
    ]
