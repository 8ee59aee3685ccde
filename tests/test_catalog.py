"""The API's model catalog and the workers' fit registry describe the same models."""

from __future__ import annotations

import subprocess
import sys

import httpx

from backend.catalog import CATALOG
from backend.queue import ACTOR_BY_QUEUE
from workers.models import REGISTRY


def test_every_served_model_has_a_fit_function_and_an_actor() -> None:
    assert set(CATALOG) == set(REGISTRY)
    for spec in CATALOG.values():
        assert spec.queue in ACTOR_BY_QUEUE


def test_models_endpoint_publishes_param_schemas(app_client: httpx.Client) -> None:
    models = {m["model_type"]: m for m in app_client.get("/api/v1/models").json()}
    schema = models["lca"]["params_schema"]["properties"]
    assert schema["n_classes"]["minimum"] == 1 and schema["n_classes"]["default"] == 3
    assert {"n_init", "max_iter", "tol", "random_state"} <= set(schema)


def test_backend_stays_light() -> None:
    """The API process never imports the model libraries (start-up stays fast)."""
    code = (
        "import sys, backend.app; backend.app.create_app(); "
        "heavy = [m for m in ('stepmix', 'pymc', 'pytensor', 'prince', 'workers') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_health_ready_live(app_client: httpx.Client) -> None:
    health = app_client.get("/health").json()
    assert health["status"] == "healthy"
    assert health["database_connected"] and health["redis_connected"]
    assert app_client.get("/ready").status_code == 200
    assert app_client.get("/live").json() == {"status": "alive"}
