"""The family specifications: every served model type has a fit the workers can load, a queue
an actor consumes, and the client view /models publishes; and the model types are named in
few places (the specification and each family's own package)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend.families import FamilySpec, families
from backend.queue import ACTOR_BY_QUEUE

REPO = Path(__file__).resolve().parents[1]
SPECS = list(families().values())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_every_family_has_a_loadable_fit_and_an_actor(spec: FamilySpec) -> None:
    assert spec.queue in ACTOR_BY_QUEUE
    module, _, attribute = spec.fit.partition(":")
    # In a fresh interpreter: the import path is real, and names a callable.
    code = f"import {module} as m; assert callable(getattr(m, {attribute!r}))"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    if spec.sweep_param is not None:
        assert spec.sweep_param in spec.params.model_fields
    if spec.profile is not None:
        assert spec.profile.field in spec.result.model_fields
    assert spec.units_field in spec.result.model_fields


def test_models_endpoint_publishes_params_and_client_view(app_client: httpx.Client) -> None:
    served = {m["model_type"]: m for m in app_client.get("/api/v1/models").json()}
    assert list(served) == [s.model_type for s in SPECS]
    for spec in SPECS:
        info = served[spec.model_type]
        assert info["kind"] == spec.kind.value and info["unit"] == spec.unit
        assert info["has_product_map"] is (spec.embedding is not None)
        assert info["household_features"] == spec.household_features.value
    schema = served["lca"]["params_schema"]["properties"]
    assert schema["n_classes"]["minimum"] == 1 and schema["n_classes"]["default"] == 3
    assert {"n_init", "max_iter", "tol", "random_state"} <= set(schema)


def test_an_unknown_model_type_is_refused_naming_the_available_ones(
    app_client: httpx.Client,
) -> None:
    answer = app_client.post("/api/v1/runs", json={"model_type": "kmeans", "dataset_id": "x"})
    assert answer.status_code == 422
    assert '"model_type"' in answer.json()["detail"] and "lca_covariates" in answer.json()["detail"]
    listed = app_client.get("/api/v1/runs", params={"model_type": "kmeans"})
    assert listed.status_code == 422 and "available" in listed.json()["detail"]


def _files_naming(model_type: str) -> list[str]:
    """Source files outside tests/, docs/ and bench/ with the model type as a string constant or
    as an attribute (`ModelType.lca`). Benchmarks, like tests, choose which families to time and
    with which settings: naming them there is not family knowledge living outside its home."""
    found = []
    for path in sorted(REPO.glob("**/*.py")):
        relative = path.relative_to(REPO)
        if relative.parts[0] in {"tests", "docs", "bench", ".venv", ".tools", "data"}:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(
            (isinstance(node, ast.Constant) and node.value == model_type)
            or (isinstance(node, ast.Attribute) and node.attr == model_type)
            for node in ast.walk(tree)
        ):
            found.append(str(relative))
    return found


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.model_type)
def test_a_model_type_is_named_in_at_most_three_files(spec: FamilySpec) -> None:
    files = _files_naming(spec.model_type)
    assert "backend/families/builtin.py" in files
    assert len(files) <= 3, files
