"""Bad input gets a 4xx JSON error that names the problem, and nothing stored changes."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from backend.settings import get_settings
from tests.support.data import simulate_lca
from tests.support.services import IsolatedStack

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


# Issue 12: requests bounded by kind, validations linear, no 5xx from any input.


def best_time(call: Callable[[int], object], n: int, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call(n)
        best = min(best, time.perf_counter() - start)
    return best


def test_column_list_checks_take_linear_time(
    app_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a MAX_COLUMNS that does not cut the lists short (the check under test runs)
    monkeypatch.setattr(get_settings(), "max_columns", 1_000_000)
    dataset = post_file(app_client, GOOD.csv()).json()

    def submit(n: int) -> None:  # n entries naming one product column again and again
        body = {
            "model_type": "lca",
            "dataset_id": dataset["id"],
            "params": {"n_classes": 2},
            "product_columns": ["prod_1"] * n,
        }
        response = app_client.post("/api/v1/runs", json=body)
        assert response.status_code == 422 and "twice" in response.json()["detail"]

    def upload(n: int) -> None:  # the same list as an upload's form field
        response = post_file(app_client, GOOD.csv(), product_columns=",".join(["prod_1"] * n))
        assert response.status_code == 422 and "twice" in response.json()["detail"]

    # When the lists grow tenfold, then the time grows about tenfold, not a hundredfold
    # (quadratic: 20,000 entries took 5 s, 2,000 took 0.03 s)
    for call in (submit, upload):
        small, large = best_time(call, 2_000), best_time(call, 20_000)
        assert large / small < 20, (call.__name__, small, large)
    app_client.delete(f"/api/v1/datasets/{dataset['id']}")


def test_column_lists_are_bounded_by_max_columns(
    app_client: httpx.Client, stored: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_columns", 50)
    body = {"model_type": "lca_covariates", "params": {}, "dataset_id": "0" * 32}
    for field in ("product_columns", "covariate_columns"):
        response = app_client.post(
            "/api/v1/runs", json={**body, field: [f"c{i}" for i in range(51)]}
        )
        assert response.status_code == 422, response.text
        assert f'"{field}" lists 51 columns; at most 50 (MAX_COLUMNS)' in response.json()["detail"]
    assert_nothing_changed(app_client, stored)


def post_streaming_json(chunks: Iterator[bytes], path: str = "/api/v1/runs") -> httpx.Response:
    """Stream a JSON body into the ASGI app as a server would (chunked, no Content-Length)."""
    from backend.app import create_app

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                path, content=body(), headers={"content-type": "application/json"}
            )

    return asyncio.run(send())


class HugeColumnList:
    """A JSON run request of `total` bytes, most of them a list of column names, made on
    demand; counts what the server pulled."""

    def __init__(self, total: int = 250 * 2**20) -> None:
        self.total, self.sent = total, 0

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"model_type": "lca", "params": {}, "dataset_id": "x", "product_columns": ['
        block = b'"prod_1", ' * 6554  # 64 kB
        while self.sent < self.total:
            self.sent += len(block)
            yield block
        yield b'"prod_1"]}'


def test_a_250_mb_json_body_is_refused_after_max_json_kb(
    app_client: httpx.Client, stored: tuple[int, int]
) -> None:
    # Given a 250 MB JSON body that is not an inline file (parsed: gigabytes of objects)
    body = HugeColumnList()
    # When it streams in
    response = post_streaming_json(iter(body))
    # Then it is refused once its text passes MAX_JSON_KB, long before its end
    assert response.status_code == 413, response.text
    assert "MAX_JSON_KB" in response.json()["detail"] and "1024 kB" in response.json()["detail"]
    assert body.sent < 2 * 2**20, body.sent
    assert_nothing_changed(app_client, stored)


def test_inline_file_counts_against_the_upload_limit_not_the_json_limit(
    app_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a JSON limit far below the inline file (12 kB of CSV, 16 kB as base64)
    monkeypatch.setattr(get_settings(), "max_json_kb", 2.0)
    sim = simulate_lca(n=600, seed=4)
    csv = sim.csv()
    assert len(csv) > 10_000
    # and the file encoded as the base64 command does (a line break every 76 characters)
    wrapped = base64.encodebytes(csv).decode()
    assert wrapped.count("\n") > 100
    body = {
        "model_type": "lca",
        "params": {"n_classes": 2, "n_init": 2},
        "data": {"csv_base64": wrapped, "filename": "wrapped.csv"},
    }
    # When it is submitted inline, then it is accepted, and the data is the file's
    response = app_client.post("/api/v1/runs", json=body)
    assert response.status_code == 202, response.text
    run = response.json()
    dataset = app_client.get(f"/api/v1/datasets/{run['dataset_id']}").json()
    assert dataset["n_rows"] == 600
    assert [c["name"] for c in dataset["columns"]] == list(sim.frame.columns)
    expected = sim.frame[run["product_columns"]].mean().tolist()
    profiles = {c["name"]: c for c in dataset["columns"]}
    assert [profiles[p]["prevalence"] for p in run["product_columns"]] == pytest.approx(expected)
    app_client.delete(f"/api/v1/datasets/{dataset['id']}", params={"force": "true"})
    # But the same number of bytes outside the file is refused, naming MAX_JSON_KB
    response = app_client.post(
        "/api/v1/runs", json={**body, "description": "x" * 3000, "data": {"csv_base64": "AAAA"}}
    )
    assert response.status_code == 413 and "MAX_JSON_KB" in response.json()["detail"]


def test_deeply_nested_json_is_refused_with_the_depth_limit_and_little_log(
    app_client: httpx.Client, stored: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for depth in (33, 500, 5_000, 100_000):
        nested = '{"a": ' * depth + "1" + "}" * depth
        body = '{"model_type": "lca", "dataset_id": "x", "params": {"x": ' + nested + "}}"
        response = app_client.post(
            "/api/v1/runs", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (depth, response.text[:300])
        assert "32 levels deep (MAX_JSON_DEPTH)" in response.json()["detail"]
    # No traceback logged (was a RecursionError and 236 kB of log per request)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum(len(r.getMessage()) for r in caplog.records) < 10_000
    assert_nothing_changed(app_client, stored)


def queued_run(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dataset and a run on it that stays queued (no worker in these tests)."""
    dataset = post_file(client, GOOD.csv()).json()
    body = {"model_type": "lca", "params": {"n_classes": 2}, "dataset_id": dataset["id"]}
    run = client.post("/api/v1/runs", json={**body, "name": "kept"}).json()
    return dataset, run


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"description": "line\x00"}, "description"),
        ({"labels": {"Class 1": "Fami\x00lies"}}, "labels"),
        ({"labels": {"Class\x001": "Families"}}, "labels"),
    ],
    ids=["name", "description", "label", "label-key"],
)
def test_patch_refuses_nul_characters(
    app_client: httpx.Client, change: dict[str, Any], field: str
) -> None:
    # PostgreSQL refuses NUL in text and JSON (a 500 there); SQLite stored it.
    dataset, run = queued_run(app_client)
    response = app_client.patch(f"/api/v1/runs/{run['id']}", json=change)
    assert response.status_code == 422, response.text
    assert f'"{field}"' in response.json()["detail"] and "NUL" in response.json()["detail"]
    after = app_client.get(f"/api/v1/runs/{run['id']}").json()
    assert after["name"] == "kept" and after["description"] is None and after["labels"] == {}
    app_client.delete(f"/api/v1/datasets/{dataset['id']}", params={"force": "true"})


def test_clustering_seeds_are_bounded(app_client: httpx.Client) -> None:
    dataset, run = queued_run(app_client)
    for seed in (-1, 2**70, True, 1.5, "0"):
        response = app_client.post(
            f"/api/v1/runs/{run['id']}/clustering", json={"random_state": seed}
        )
        assert response.status_code == 422, (seed, response.text)
        assert '"random_state"' in response.json()["detail"]
    app_client.delete(f"/api/v1/datasets/{dataset['id']}", params={"force": "true"})


def test_a_real_server_refuses_a_250_mb_json_body_without_its_memory_jumping(
    tmp_path: Path,
) -> None:
    # Given the API as it runs in production (uvicorn, its own process)
    stack = IsolatedStack(tmp_path)
    try:
        stack.start_api()
        api = psutil.Process(stack.environment.processes[-1].pid)
        before = api.memory_info().rss
        # When a 250 MB JSON body of column names streams in
        body = HugeColumnList()
        try:
            response: httpx.Response | None = httpx.post(
                f"{stack.api_url}/api/v1/runs",
                content=iter(body),
                headers={"content-type": "application/json"},
                timeout=60,
            )
        except httpx.TransportError:
            response = None  # answered and closed while the client was still writing
        # Then it is refused early (was: read whole, 2.3 GB more memory, 10 s frozen)
        if response is not None:
            assert response.status_code == 413 and "MAX_JSON_KB" in response.json()["detail"]
        assert body.sent < 32 * 2**20, body.sent  # plus what the sockets buffered
        grown = api.memory_info().rss - before
        assert grown < 100 * 2**20, f"the API grew by {grown / 2**20:.0f} MB"
        assert httpx.get(f"{stack.api_url}/live", timeout=5).status_code == 200
    finally:
        stack.close()


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_the_json_meter_tells_the_inline_file_from_the_text_at_any_chunk_boundary(
    chunk: int,
) -> None:
    from backend.json_limits import JsonMeter

    wrapped = base64.encodebytes(bytes(range(256)) * 20).decode()  # "\n" every 76 characters
    text = {
        "model_type": "lca",
        "name": 'a "csv_base64": "name" \\ with quotes',
        "params": {"csv_base64": "counted as text", "n_classes": [2, 3]},
        "data": {"filename": "x.csv", "csv_base64": wrapped.replace("/", "\\/")},
        "product_columns": ["p1", "p2"],
    }
    body = json.dumps(text).encode().replace(b"\\\\/", b"\\/")
    assert json.loads(body)["data"]["csv_base64"] == wrapped
    meter = JsonMeter(max_text=10_000, max_inline=100_000)
    for start in range(0, len(body), chunk):
        meter.feed(body[start : start + chunk])
    inline = len(json.dumps(wrapped).encode()) - 2 + wrapped.count("/")  # between the quotes
    assert (meter.inline, meter.text) == (inline, len(body) - inline)
    assert not meter.in_inline and meter.stack == []
