"""Bad input gets a 4xx JSON error that names the problem, and nothing stored changes."""

from __future__ import annotations

import base64
import io

import httpx
import pytest

from backend.settings import get_settings
from tests.support.data import simulate_lca

GOOD = simulate_lca(n=50, seed=1)
GOOD.frame["always"] = 1


def post_file(
    client: httpx.Client, content: bytes, filename: str = "x.csv", **form: str
) -> httpx.Response:
    return client.post("/api/v1/datasets", files={"file": (filename, content)}, data=form)


@pytest.fixture
def stored(app_client: httpx.Client) -> tuple[int, int]:
    datasets = app_client.get("/api/v1/datasets").json()["total"]
    runs = app_client.get("/api/v1/runs").json()["total"]
    return datasets, runs


def assert_nothing_changed(client: httpx.Client, stored: tuple[int, int]) -> None:
    assert client.get("/api/v1/datasets").json()["total"] == stored[0]
    assert client.get("/api/v1/runs").json()["total"] == stored[1]


@pytest.mark.parametrize(
    ("content", "filename", "status", "words"),
    [
        (b"", "empty.csv", 422, ["empty"]),
        (b"   \n\n", "blank.csv", 422, ["empty"]),
        (b"a,b,c\n", "header.csv", 422, ["row"]),
        (b"a,b,a\n1,0,1\n" * 1, "dupes.csv", 422, ['"a"', "Duplicate"]),
        (b"a,b\n" + b"1,0\n" * 3, "short.csv", 422, ["3 data row", "at least"]),
        (b"id,a\n" + b"x,1\n" * 20, "one.csv", 422, ["fewer than 2"]),
        (b"a,b,c\n" + b"1,no,yes\n" * 20, "one_binary.csv", 422, ["fewer than 2", '"c"', '"yes"']),
        (b"PAR1 this is not parquet", "bad.parquet", 422, ["Parquet"]),
        (b"PK\x03\x04 broken zip", "bad.xlsx", 422, ["XLSX"]),
        (b"a,b\n1,0\n", "renamed.parquet", 422, ["PARQUET"]),
    ],
)
def test_bad_uploads_are_refused(
    app_client: httpx.Client,
    stored: tuple[int, int],
    content: bytes,
    filename: str,
    status: int,
    words: list[str],
) -> None:
    response = post_file(app_client, content, filename)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and isinstance(body["detail"], str)
    for word in words:
        assert word in body["detail"], body["detail"]
    assert "Traceback" not in response.text
    assert_nothing_changed(app_client, stored)


def test_non_binary_product_column_is_named_with_its_values(
    app_client: httpx.Client, stored: tuple[int, int]
) -> None:
    frame = GOOD.frame.copy()
    frame["prod_7"] = frame["prod_7"].astype(object)
    frame.loc[3, "prod_7"] = 2
    frame.loc[4, "prod_7"] = "yes"
    response = post_file(
        app_client, frame.to_csv(index=False).encode(), product_columns="prod_1,prod_7"
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert '"prod_7"' in detail and "2" in detail and '"yes"' in detail
    assert_nothing_changed(app_client, stored)


def test_upload_over_the_limit_is_refused_with_413(
    app_client: httpx.Client, stored: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_mb", 0.01)  # 10 kB
    response = post_file(app_client, GOOD.csv() * 10)
    assert response.status_code == 413
    assert "MAX_UPLOAD_MB" in response.json()["detail"]
    assert_nothing_changed(app_client, stored)


def test_formats_csv_variants_xlsx_and_parquet_are_read(app_client: httpx.Client) -> None:
    frame = GOOD.frame
    semicolon = frame.to_csv(index=False, sep=";").encode("utf-8-sig")  # BOM + semicolons
    xlsx, parquet = io.BytesIO(), io.BytesIO()
    frame.to_excel(xlsx, index=False)
    frame.to_parquet(parquet, index=False)
    for content, name, fmt in [
        (semicolon, "semi.csv", "csv"),
        (xlsx.getvalue(), "data.xlsx", "xlsx"),
        (parquet.getvalue(), "data.parquet", "parquet"),
    ]:
        response = post_file(app_client, content, name)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["file_format"] == fmt and body["n_rows"] == len(frame)
        assert [c["name"] for c in body["columns"]] == list(frame.columns)
        assert len(body["preview"]) == 20
        app_client.delete(f"/api/v1/datasets/{body['id']}")


def test_missing_cells_are_counted_and_stay_binary(app_client: httpx.Client) -> None:
    frame = GOOD.frame.astype(object)
    frame.loc[[1, 2, 3], "prod_2"] = None
    response = post_file(app_client, frame.to_csv(index=False).encode())
    column = {c["name"]: c for c in response.json()["columns"]}["prod_2"]
    assert column["is_binary"] and column["n_missing"] == 3
    app_client.delete(f"/api/v1/datasets/{response.json()['id']}")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"model_type": "kmeans"}, 422, ["model_type"]),
        ({"params": {"n_classes": 0}}, 422, ["params.n_classes", "greater than or equal to 1"]),
        ({"params": {"n_classes": 3, "n_init": "many"}}, 422, ["params.n_init"]),
        ({"params": {"n_clases": 3}}, 422, ["params.n_clases", "not a known field"]),
        ({"product_columns": ["prod_1", "nope"]}, 422, ['"nope"', "Unknown product"]),
        ({"product_columns": ["prod_1"]}, 422, ["At least 2 product columns"]),
        (
            {"product_columns": ["prod_1", "household_id"]},
            422,
            ['"household_id"', "other than 0/1"],
        ),
        ({"id_column": "missing_id"}, 422, ['"missing_id"']),
        ({"product_columns": ["prod_1", "always"]}, 422, ['"always"', "constant"]),
        ({"dataset_id": "does-not-exist"}, 404, ["does-not-exist"]),
        ({"data": {"csv_base64": "%%%"}}, 422, ["both"]),
    ],
)
def test_bad_run_requests_are_refused(
    app_client: httpx.Client, stored: tuple[int, int], change: dict, status: int, words: list[str]
) -> None:
    dataset = post_file(app_client, GOOD.csv()).json()
    before = app_client.get("/api/v1/runs").json()["total"]
    body = {"model_type": "lca", "params": {"n_classes": 3}, "dataset_id": dataset["id"], **change}
    response = app_client.post("/api/v1/runs", json=body)
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["detail"], response.json()["detail"]
    assert app_client.get("/api/v1/runs").json()["total"] == before
    app_client.delete(f"/api/v1/datasets/{dataset['id']}")


def test_bad_inline_base64_is_refused(app_client: httpx.Client, stored: tuple[int, int]) -> None:
    body = {"model_type": "lca", "params": {}, "data": {"csv_base64": "not base64!"}}
    response = app_client.post("/api/v1/runs", json=body)
    assert response.status_code == 422 and "base64" in response.json()["detail"]
    bad_values = base64.b64encode(b"a,b\n" + b"1,maybe\n" * 20).decode()
    response = app_client.post("/api/v1/runs", json={**body, "data": {"csv_base64": bad_values}})
    assert response.status_code == 422 and '"maybe"' in response.json()["detail"]
    assert_nothing_changed(app_client, stored)


def test_unknown_ids_are_404_and_dataset_in_use_is_409(app_client: httpx.Client) -> None:
    assert app_client.get("/api/v1/runs/nope").status_code == 404
    assert (
        app_client.get("/api/v1/datasets/nope").json()["detail"] == "Dataset nope does not exist."
    )
    assert app_client.get("/api/v1/progress/nope").status_code == 404
    dataset = post_file(app_client, GOOD.csv()).json()
    run = app_client.post(
        "/api/v1/runs",
        json={"model_type": "lca", "params": {"n_classes": 2}, "dataset_id": dataset["id"]},
    ).json()
    response = app_client.delete(f"/api/v1/datasets/{dataset['id']}")
    assert response.status_code == 409 and "force=true" in response.json()["detail"]
    assert app_client.get(f"/api/v1/datasets/{dataset['id']}").status_code == 200
    assert (
        app_client.delete(f"/api/v1/datasets/{dataset['id']}", params={"force": "true"}).status_code
        == 204
    )
    assert app_client.get(f"/api/v1/runs/{run['id']}").status_code == 404
