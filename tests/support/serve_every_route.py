"""Serves every route of the API once, in this process, then prints which heavy modules the
process holds (tests/test_layers.py runs it in a fresh interpreter).

    python -m tests.support.serve_every_route <completed run id> <its dataset id>
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from fastapi.testclient import TestClient

HEAVY = ("workers", "sklearn", "scipy", "pymc", "pytensor", "nutpie", "arviz", "stepmix",
         "prince", "networkx")  # fmt: skip
CSV = b"id,a,b,c\n" + b"".join(f"h{i},{i % 2},{i % 3 == 0:d},{i % 5 == 0:d}\n".encode()
                               for i in range(40))  # fmt: skip


def main(run_id: str, dataset_id: str) -> None:
    from backend.app import create_app

    app = create_app()
    answered: dict[str, int] = {}
    with TestClient(app, base_url="http://testserver") as client:
        spare_dataset = client.post("/api/v1/datasets", files={"file": ("x.csv", CSV)}).json()
        spare_run = client.post(
            "/api/v1/runs",
            json={
                "model_type": "lca",
                "dataset_id": spare_dataset["id"],
                "params": {"n_classes": 2},
            },
        ).json()
        # Every operation the API documents; deletes last, on the spare dataset and run,
        # everything else on the completed run.
        operations = sorted(
            ((method.upper(), path) for path, item in app.openapi()["paths"].items()
             for method in item),
            key=lambda op: (op[0] == "DELETE", "datasets" in op[1]),
        )  # fmt: skip
        for method, route_path in operations:
            deleting = method == "DELETE"
            ids = {
                "run_id": spare_run["id"] if deleting else run_id,
                "dataset_id": spare_dataset["id"] if deleting else dataset_id,
                "name": "assignments",
                "chart_id": "unknown",
            }
            path = re.sub(
                r"\{(\w+)(:\w+)?\}", lambda m, ids=ids: ids.get(m.group(1), "x"), route_path
            )
            response = client.request(method, path, **_body(method, route_path))
            answered[f"{method} {route_path}"] = response.status_code
    heavy = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY})
    print(json.dumps({"answered": answered, "heavy": heavy}))


def _body(method: str, path: str) -> dict[str, Any]:
    if path.endswith("/datasets") and method == "POST":
        return {"files": {"file": ("y.csv", CSV)}}
    if path.endswith("/runs") and method == "POST":
        return {"json": {"model_type": "mca", "data": {"csv_base64": ""}}}
    if method in ("POST", "PATCH", "PUT"):
        return {"json": {}}
    return {}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
