"""The malformed-input corpus (tests/corpus/): every file and request there is refused with a 4xx
JSON error whose `detail` names the problem (the column, the value or the parameter), and
nothing already stored changes. A few near-misses that are fine (BOM, UTF-16, quoted headers,
0.0/1.0, TRUE/FALSE, 0/1 as text) are accepted as binary data.

The big inputs — 10,000 columns, a zip bomb, a gigabyte — are built here, on the fly; the
gigabyte is a lazy generator, refused after about a megabyte without ever being held.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tomllib
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from backend.settings import get_settings

CORPUS = Path(__file__).parent / "corpus"
UPLOADS = CORPUS / "uploads"
RUNS = CORPUS / "runs"
REFERENCE = (CORPUS / "reference.csv").read_bytes()
PRODUCTS = "p1,p2,p3,p4"
API = "/api/v1"
# What the API answers to each file of the corpus: the refusals (status, words the detail must
# contain) and the near-misses accepted, one table per kind of request.
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text())
BAD_UPLOADS: list[dict[str, Any]] = EXPECTED["bad_uploads"]
ACCEPTED_UPLOADS: list[dict[str, Any]] = EXPECTED["accepted_uploads"]
# Run requests (in runs/; "$DATASET" stands for the reference dataset): the original corpus
# and issue 12's hostile ones, refused alike.
REFUSED_RUNS: list[dict[str, Any]] = EXPECTED["bad_runs"] + EXPECTED["hostile_runs"]
ACCEPTED_RUNS: list[dict[str, Any]] = EXPECTED["accepted_runs"]


def post_run_file(
    client: httpx.Client, filename: str, dataset_id: str
) -> tuple[str, httpx.Response]:
    """Send a run request of runs/ as it is written, on `dataset_id`: the body and the answer."""
    body = (RUNS / filename).read_text().replace("$DATASET", dataset_id)
    headers = {"content-type": "application/json"}
    return body, client.post(f"{API}/runs", content=body.encode(), headers=headers)


def by_file(cases: list[dict[str, Any]]) -> list[Any]:
    """A table's rows as test cases named after their file (and the form fields sent)."""
    return [
        pytest.param(case, id="-".join([case["file"], *case.get("form", {})])) for case in cases
    ]


def post_file(client: httpx.Client, content: bytes, filename: str, **form: str) -> httpx.Response:
    return client.post(f"{API}/datasets", files={"file": (filename, content)}, data=form)


@pytest.fixture
def reference(app_client: httpx.Client) -> Iterator[dict[str, Any]]:
    """A dataset already stored: its content must be the same after every refusal."""
    response = post_file(app_client, REFERENCE, "reference.csv", name="reference")
    assert response.status_code == 201, response.text
    dataset = response.json()
    yield dataset
    app_client.delete(f"{API}/datasets/{dataset['id']}", params={"force": "true"})


def stored_state(client: httpx.Client, dataset_id: str) -> tuple[int, int, dict[str, Any]]:
    return (
        client.get(f"{API}/datasets").json()["total"],
        client.get(f"{API}/runs").json()["total"],
        client.get(f"{API}/datasets/{dataset_id}").json(),
    )


def assert_refused(response: httpx.Response, status: int, words: list[str]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["error"] == body["detail"], body
    for word in words:
        assert word in body["detail"], f"{word!r} not in {body['detail']!r}"
    assert "Traceback" not in response.text


@pytest.mark.parametrize("case", by_file(BAD_UPLOADS))
def test_bad_upload_is_refused_and_nothing_changes(
    app_client: httpx.Client, reference: dict[str, Any], case: dict[str, Any]
) -> None:
    before = stored_state(app_client, reference["id"])
    content = (UPLOADS / case["file"]).read_bytes()
    response = post_file(app_client, content, case["file"], **case["form"])
    assert_refused(response, case["status"], case["words"])
    assert stored_state(app_client, reference["id"]) == before


@pytest.mark.parametrize("case", by_file(ACCEPTED_UPLOADS))
def test_near_misses_are_accepted_as_binary(
    app_client: httpx.Client, reference: dict[str, Any], case: dict[str, Any]
) -> None:
    names = case["columns"]
    response = post_file(app_client, (UPLOADS / case["file"]).read_bytes(), case["file"])
    assert response.status_code == 201, response.text
    body = response.json()
    try:
        assert [c["name"] for c in body["columns"]] == names
        assert [c["is_binary"] for c in body["columns"]] == [False, True, True, True, True]
        expected = [c["prevalence"] for c in reference["columns"][1:]]
        assert [c["prevalence"] for c in body["columns"][1:]] == pytest.approx(expected)
        # And a run can use them.
        run = app_client.post(
            f"{API}/runs",
            json={"model_type": "lca", "dataset_id": body["id"], "params": {"n_classes": 2}},
        )
        assert run.status_code == 202, run.text
        assert run.json()["product_columns"] == names[1:]
    finally:
        app_client.delete(f"{API}/datasets/{body['id']}", params={"force": "true"})


def test_file_names_are_cleaned_not_refused(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    for sent, kept in [
        ("C:\\fakepath\\purchases.csv", "purchases.csv"),
        ("f" * 300 + ".csv", "f" * 251 + ".csv"),
    ]:
        response = post_file(app_client, REFERENCE, sent)
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == kept
        app_client.delete(f"{API}/datasets/{response.json()['id']}")


def test_ten_thousand_columns_are_refused_before_parsing(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    before = stored_state(app_client, reference["id"])
    values = np.random.default_rng(0).integers(0, 2, size=(20, 10_000))
    wide = pd.DataFrame(values, columns=[f"c{i}" for i in range(10_000)])
    response = post_file(app_client, wide.to_csv(index=False).encode(), "wide.csv")
    assert_refused(response, 422, ["10000 columns", "MAX_COLUMNS"])
    assert response.elapsed.total_seconds() < 5  # refused on the header, not after profiling
    assert stored_state(app_client, reference["id"]) == before


def zip_bomb(expanded_mb: int = 64) -> bytes:
    """A workbook whose sheet inflates from a few kB to `expanded_mb` MB of XML."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b"<worksheet><sheetData>")
            block = b" " * (1 << 20)
            for _ in range(expanded_mb):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def test_zip_bomb_xlsx_is_refused_before_inflating(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    before = stored_state(app_client, reference["id"])
    bomb = zip_bomb()
    assert len(bomb) < 200_000
    response = post_file(app_client, bomb, "bomb.xlsx")
    assert_refused(response, 422, ["XLSX", "expands to 67 MB"])
    assert stored_state(app_client, reference["id"]) == before


class LazyUpload:
    """A multipart body of `total` bytes made on demand; counts what the server pulled."""

    def __init__(self, total: int = 1 << 30, chunk: int = 1 << 16) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def body(self) -> AsyncIterator[bytes]:
        yield (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n"
        )
        block = b"0,1\n" * (self.chunk // 4)
        while self.sent < self.total:
            self.sent += len(block)
            yield block
        yield b"\r\n--B--\r\n"


def post_streaming(upload: LazyUpload, headers: dict[str, str]) -> httpx.Response:
    """Stream the body into the ASGI app as a server would (no Content-Length: chunked)."""
    from backend.app import create_app

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                f"{API}/datasets",
                content=upload.body(),
                headers={"content-type": "multipart/form-data; boundary=B", **headers},
            )

    return asyncio.run(send())


@pytest.mark.parametrize(
    "headers",
    [{}, {"content-length": "1000"}],
    ids=["chunked-without-length", "lying-content-length"],
)
def test_gigabyte_upload_is_cut_off_after_the_limit(
    app_client: httpx.Client,
    reference: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
) -> None:
    before = stored_state(app_client, reference["id"])
    monkeypatch.setattr(get_settings(), "max_upload_mb", 1.0)
    upload = LazyUpload()
    response = post_streaming(upload, headers)
    assert_refused(response, 413, ["MAX_UPLOAD_MB", "1 MB"])
    assert response.json()["title"] == "Payload too large"
    # The server stopped reading right after the limit: ~1 MB of the gigabyte was pulled.
    assert upload.sent < 2 * 2**20, upload.sent
    monkeypatch.undo()
    assert stored_state(app_client, reference["id"]) == before


def test_declared_gigabyte_is_refused_without_reading(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    upload = LazyUpload()
    response = post_streaming(upload, {"content-length": str(1 << 30)})
    assert_refused(response, 413, ["MAX_UPLOAD_MB"])
    assert upload.sent == 0


def test_oversized_inline_csv_is_refused(
    app_client: httpx.Client, reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = stored_state(app_client, reference["id"])
    monkeypatch.setattr(get_settings(), "max_upload_mb", 0.01)
    body = {
        "model_type": "lca",
        "params": {},
        "data": {"csv_base64": base64.b64encode(REFERENCE * 200).decode()},
    }
    response = app_client.post(f"{API}/runs", json=body)
    assert_refused(response, 413, ["MAX_UPLOAD_MB"])
    monkeypatch.undo()
    assert stored_state(app_client, reference["id"]) == before


@pytest.mark.parametrize("case", by_file(REFUSED_RUNS))
def test_bad_run_request_is_refused_and_nothing_changes(
    app_client: httpx.Client, reference: dict[str, Any], case: dict[str, Any]
) -> None:
    before = stored_state(app_client, reference["id"])
    _, response = post_run_file(app_client, case["file"], reference["id"])
    assert_refused(response, case["status"], case["words"])
    assert stored_state(app_client, reference["id"]) == before


@pytest.mark.parametrize("filename", ["yes_no.csv", "mixed_encoding.csv", "one_row.csv"])
def test_bad_inline_data_is_refused_like_an_upload(
    app_client: httpx.Client, reference: dict[str, Any], filename: str
) -> None:
    before = stored_state(app_client, reference["id"])
    upload = post_file(app_client, (UPLOADS / filename).read_bytes(), filename)
    inline = app_client.post(
        f"{API}/runs",
        json={
            "model_type": "lca",
            "params": {},
            "data": {
                "csv_base64": base64.b64encode((UPLOADS / filename).read_bytes()).decode(),
                "filename": filename,
            },
        },
    )
    assert upload.status_code == inline.status_code == 422
    assert inline.json()["detail"] == upload.json()["detail"]
    assert stored_state(app_client, reference["id"]) == before


def test_unavailable_model_type_is_named(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    before = stored_state(app_client, reference["id"])
    body = {"model_type": "kmeans", "dataset_id": reference["id"], "params": {}}
    response = app_client.post(f"{API}/runs", json=body)
    assert_refused(response, 422, ['"model_type"', "'kmeans'", "available", "lca_covariates"])
    assert stored_state(app_client, reference["id"]) == before


def test_nul_characters_are_refused_not_stored(
    app_client: httpx.Client, reference: dict[str, Any]
) -> None:
    # PostgreSQL refuses NUL in text and JSON: these must be a 4xx, never a 500.
    before = stored_state(app_client, reference["id"])
    body = {"model_type": "lca", "dataset_id": reference["id"], "name": "a\x00b", "params": {}}
    assert_refused(app_client.post(f"{API}/runs", json=body), 422, ["NUL"])
    assert_refused(
        app_client.post(f"{API}/runs", json={**body, "name": "x", "dataset_id": "\x00"}),
        422,
        ["NUL"],
    )
    assert_refused(app_client.get(f"{API}/runs/%00"), 404, ["does not exist"])
    assert_refused(app_client.get(f"{API}/datasets/a%00b"), 404, ["does not exist"])
    assert_refused(app_client.get(f"{API}/runs", params={"parent_id": "\x00"}), 422, ["parent_id"])
    response = post_file(app_client, REFERENCE, "r.csv", name="a\x00b")
    assert_refused(response, 422, ['"name"', "control characters"])
    assert stored_state(app_client, reference["id"]) == before


@pytest.mark.parametrize("case", by_file(ACCEPTED_RUNS))
def test_near_miss_run_request_is_accepted_with_its_values(
    app_client: httpx.Client, reference: dict[str, Any], case: dict[str, Any]
) -> None:
    params, sweep = case["params"], case.get("sweep")
    # The reference's columns on 120 households: room for 4 classes of 4 products (on the
    # reference's 12, 3 classes already need more parameters than households: a 422).
    header, *lines = REFERENCE.decode().strip().splitlines()
    rows = [f"R{k}-{line}" for k in range(10) for line in lines]  # R0-H000,0,0,0,0, …
    roomy = post_file(app_client, "\n".join([header, *rows]).encode(), "roomy.csv").json()
    body, response = post_run_file(app_client, case["file"], roomy["id"])
    assert response.status_code == 202, response.text
    run = response.json()
    try:
        assert {k: run["params"][k] for k in params} == params
        assert run["product_columns"] == PRODUCTS.split(",")
        children = app_client.get(f"{API}/runs", params={"parent_id": run["id"]}).json()["items"]
        if sweep is None:
            assert run["child_ids"] == [] and children == []
            assert run["sweep_value"] is None
        else:
            assert sorted(c["sweep_value"] for c in children) == sweep
            assert sorted(c["params"]["n_classes"] for c in children) == sweep
        if "data" in json.loads(body):
            # The inline file is the reference data, value by value
            stored = app_client.get(f"{API}/datasets/{run['dataset_id']}").json()
            assert stored["sha256"] == reference["sha256"]
            assert stored["columns"] == reference["columns"]
            assert stored["n_rows"] == reference["n_rows"]
    finally:
        app_client.delete(f"{API}/runs/{run['id']}")
        app_client.delete(f"{API}/datasets/{roomy['id']}", params={"force": "true"})
        if run["dataset_id"] != reference["id"]:
            app_client.delete(f"{API}/datasets/{run['dataset_id']}", params={"force": "true"})


def test_every_run_request_in_the_corpus_is_checked() -> None:
    listed = {case["file"] for case in REFUSED_RUNS + ACCEPTED_RUNS}
    assert {p.name for p in RUNS.iterdir()} == listed
    assert len(EXPECTED["hostile_runs"]) + len(ACCEPTED_RUNS) >= 40


def test_corpus_is_large_enough() -> None:
    files = [
        p for p in UPLOADS.iterdir() if p.name not in {case["file"] for case in ACCEPTED_UPLOADS}
    ]
    assert len(files) + len(list(RUNS.iterdir())) >= 30
    assert json.loads((RUNS / "unknown_param.json").read_text())["params"] == {"n_clases": 2}
