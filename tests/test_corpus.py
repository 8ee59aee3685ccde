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


# file in tests/corpus/uploads, form fields, status, words the detail must contain
BAD_UPLOADS: list[tuple[str, dict[str, str], int, list[str]]] = [
    ("wrong_delimiter.csv", {}, 422, ['"id:p1:p2:p3:p4"', 'separated by ":"']),
    ("mixed_encoding.csv", {}, 422, ["mixes text encodings", "line 7", "0xeb"]),
    ("quoted_header_unbalanced.csv", {}, 422, ["quote", '"id,p1,p2,p3,p4']),
    ("duplicate_headers.csv", {}, 422, ["Duplicate", '"p2"']),
    ("duplicate_headers_after_trim.csv", {}, 422, ["Duplicate", '"p1"']),
    ("empty.csv", {}, 422, ["empty"]),
    ("whitespace_only.csv", {}, 422, ["empty"]),
    ("header_only.csv", {}, 422, ["0 data row", "at least 10"]),
    ("blank_header_name.csv", {}, 422, ["[3]", "no name"]),
    ("no_header_row.csv", {}, 422, ["looks like data", '"1", "0"']),
    ("non_binary_values.csv", {"product_columns": PRODUCTS}, 422, ['"p2"', "2, -1"]),
    ("negative_one_zero.csv", {}, 422, ['"p1"', "-1"]),
    ("yes_no.csv", {}, 422, ['"p1"', '"yes"', "Recode"]),
    ("yes_no.xlsx", {}, 422, ['"p1"', '"yes"', "Recode"]),
    ("all_zero_column.csv", {"product_columns": PRODUCTS}, 422, ['"p3"', "nobody bought"]),
    ("all_one_column.csv", {"product_columns": PRODUCTS}, 422, ['"p4"', "every household"]),
    ("nan_everywhere.csv", {}, 422, ['"p1" is empty', "fewer than 2"]),
    ("one_row.csv", {}, 422, ["1 data row", "at least 10"]),
    (
        "formula_in_product.csv",
        {"product_columns": PRODUCTS},
        422,
        ['"p2"', '"=1+1"', '"@SUM(A1:A9)"', "\"+cmd|' /C calc'!A0\""],
    ),
    ("formula_cells.xlsx", {"product_columns": PRODUCTS}, 422, ['"p2" is empty']),
    ("ragged_rows.csv", {}, 422, ["Expected 5 fields in line 6, saw 7"]),
    ("binary_garbage.csv", {}, 415, ['"binary_garbage.csv" is a PNG image', "Upload CSV"]),
    ("nul_bytes.csv", {}, 422, ["binary data", "line 6"]),
    ("renamed_csv.xlsx", {}, 422, ['"renamed_csv.xlsx"', "XLSX"]),
    ("invalid.parquet", {}, 422, ["Parquet file could not be read"]),
    ("truncated.parquet", {}, 422, ["Parquet file could not be read"]),
    ("nested_column.parquet", {}, 422, ['"tags"', "nested"]),
    ("not_a_zip.xlsx", {}, 422, ["XLSX", "damaged"]),
    ("zip_not_workbook.xlsx", {}, 422, ["XLSX file could not be read"]),
    ("empty_sheet.xlsx", {}, 422, ["XLSX", "empty"]),
    ("bom_utf8.csv", {"product_columns": "p1,nope"}, 422, ['"nope"', "Unknown product"]),
    ("bom_utf8.csv", {"name": "x" * 300}, 422, ['"name"', "300 characters"]),
]


@pytest.mark.parametrize(
    ("filename", "form", "status", "words"),
    BAD_UPLOADS,
    ids=[f"{c[0]}-{'-'.join(c[1])}" if c[1] else c[0] for c in BAD_UPLOADS],
)
def test_bad_upload_is_refused_and_nothing_changes(
    app_client: httpx.Client,
    reference: dict[str, Any],
    filename: str,
    form: dict[str, str],
    status: int,
    words: list[str],
) -> None:
    before = stored_state(app_client, reference["id"])
    response = post_file(app_client, (UPLOADS / filename).read_bytes(), filename, **form)
    assert_refused(response, status, words)
    assert stored_state(app_client, reference["id"]) == before


# Near-misses that hold the reference data: accepted, with the same binary columns.
ACCEPTED = [
    ("bom_utf8.csv", ["id", "p1", "p2", "p3", "p4"]),
    ("bom_utf16_tabs.txt", ["id", "p1", "p2", "p3", "p4"]),
    ("quoted_headers.csv", ["id", "p 1", "p2", "p3", "p4"]),
    ("floats_binary.csv", ["id", "p1", "p2", "p3", "p4"]),
    ("true_false.csv", ["id", "p1", "p2", "p3", "p4"]),
    ("text_numbers.xlsx", ["id", "p1", "p2", "p3", "p4"]),
    ("old_mac_line_endings.csv", ["id", "p1", "p2", "p3", "p4"]),
]


@pytest.mark.parametrize(("filename", "names"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_near_misses_are_accepted_as_binary(
    app_client: httpx.Client, reference: dict[str, Any], filename: str, names: list[str]
) -> None:
    response = post_file(app_client, (UPLOADS / filename).read_bytes(), filename)
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


# file in tests/corpus/runs ("$DATASET" stands for the reference dataset), status, words
BAD_RUNS: list[tuple[str, int, list[str]]] = [
    ("unknown_model_type.json", 422, ['"model_type"', "'kmeans'"]),
    ("n_classes_zero.json", 422, ['"params.n_classes"', "greater than or equal to 1", "0"]),
    ("n_classes_too_many.json", 422, ['"params.n_classes"', "less than or equal to 30"]),
    ("n_classes_text.json", 422, ['"params.n_classes"', "'three'"]),
    ("tol_negative.json", 422, ['"params.tol"', "-0.001"]),
    ("nan_param.json", 422, ['"params.tol"', "nan"]),
    ("max_iter_huge.json", 422, ['"params.max_iter"', "1000000000000"]),
    ("random_state_too_big.json", 422, ['"params.random_state"', "1099511627776"]),
    ("unknown_param.json", 422, ['"params.n_clases"', "not a known field"]),
    ("params_not_an_object.json", 422, ['"params"', "dictionary"]),
    ("sweep_backwards.json", 422, ['"params.n_classes"', "'8-1'", "backwards"]),
    ("sweep_enormous_range.json", 422, ['"params.n_classes"', "'1-999999999999'"]),
    ("sweep_not_numbers.json", 422, ['"params.n_classes"', "whole numbers"]),
    ("unknown_product_column.json", 422, ['"nope"', "Unknown product"]),
    ("unknown_covariate_column.json", 422, ['"income"', "covariate"]),
    ("unknown_id_column.json", 422, ['"household"', "ID"]),
    ("id_column_as_product.json", 422, ['"id"', '"H000"', "0/1"]),
    ("product_listed_twice.json", 422, ['"p1"', "twice"]),
    ("product_is_also_id.json", 422, ['"p2"', "both a product and the ID"]),
    ("one_product_column.json", 422, ["At least 2 product columns", '"p1"']),
    ("product_columns_not_a_list.json", 422, ['"product_columns"', "list"]),
    ("dataset_and_inline_data.json", 422, ['"dataset_id"', '"data.csv_base64"']),
    ("neither_dataset_nor_data.json", 422, ['"dataset_id"', '"data.csv_base64"']),
    ("unknown_dataset.json", 404, ["0123456789abcdef0123456789abcdef", "does not exist"]),
    ("inline_not_base64.json", 422, ["data.csv_base64", "base64"]),
    ("name_too_long.json", 422, ['"name"', "at most 255 characters"]),
    ("unknown_top_level_field.json", 422, ['"colour"', "not a known field"]),
    ("not_json.json", 422, ["not valid JSON", "character 48"]),
    ("body_is_a_list.json", 422, ["valid dictionary"]),
]


@pytest.mark.parametrize(("filename", "status", "words"), BAD_RUNS, ids=[r[0] for r in BAD_RUNS])
def test_bad_run_request_is_refused_and_nothing_changes(
    app_client: httpx.Client,
    reference: dict[str, Any],
    filename: str,
    status: int,
    words: list[str],
) -> None:
    before = stored_state(app_client, reference["id"])
    body = (RUNS / filename).read_text().replace("$DATASET", reference["id"])
    response = app_client.post(
        f"{API}/runs", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert_refused(response, status, words)
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


# Issue 12: hostile run requests (each a file in tests/corpus/runs): refused with a 4xx whose
# detail names the problem, or accepted with the values checked one by one. Strict types (a
# boolean is not a number, 3.0 is not a whole number), bounded seeds, NaN and Infinity, NUL,
# nesting past MAX_JSON_DEPTH, column lists past MAX_COLUMNS or naming a column twice, the
# range syntax in full, and inline base64 as the `base64` command writes it.
HOSTILE_RUNS: list[tuple[str, int, list[str]]] = [
    ("n_classes_true.json", 422, ['"params.n_classes"', "valid integer", "True"]),
    ("n_classes_float.json", 422, ['"params.n_classes"', "valid integer", "3.0"]),
    ("n_classes_text_number.json", 422, ['"params.n_classes"', "'3'"]),
    ("n_classes_exponent.json", 422, ['"params.n_classes"', "valid integer", "2.0"]),
    ("n_classes_huge_integer.json", 422, ['"params.n_classes"', "less than or equal to 30"]),
    ("n_init_false.json", 422, ['"params.n_init"', "valid integer", "False"]),
    ("max_iter_float.json", 422, ['"params.max_iter"', "valid integer", "100.5"]),
    ("tol_true.json", 422, ['"params.tol"', "valid number", "True"]),
    ("tol_text.json", 422, ['"params.tol"', "valid number", "'1e-6'"]),
    ("tol_infinity.json", 422, ['"params.tol"', "finite number"]),
    ("random_state_negative.json", 422, ['"params.random_state"', "greater than or equal to 0"]),
    ("random_state_2_pow_70.json", 422, ['"params.random_state"', "4294967295"]),
    ("random_state_float.json", 422, ['"params.random_state"', "valid integer", "1.5"]),
    ("random_state_true.json", 422, ['"params.random_state"', "valid integer", "True"]),
    ("covariates_standardize_one.json", 422, ['"params.standardize"', "valid boolean", "1"]),
    ("nmf_alpha_nan.json", 422, ['"params.alpha_W"', "finite number"]),
    ("nmf_components_true.json", 422, ['"params.n_components"', "integer or a valid list"]),
    ("factor_n_factors_list.json", 422, ['"params.n_factors"', "valid integer"]),
    ("network_threshold_text.json", 422, ['"params.threshold"', "valid number", "'high'"]),
    ("dcm_feature_nan.json", 422, ['"params.product_features"', "record 2", "'price'", "nan"]),
    ("dcm_feature_infinity.json", 422, ['"params.product_features"', "record 1", "-inf"]),
    ("dcm_feature_nested_object.json", 422, ['"params.product_features.0.price"', "string or"]),
    ("dcm_features_not_records.json", 422, ['"params.product_features.0"', "dictionary"]),
    ("params_nested_200_deep.json", 422, ["32 levels deep", "MAX_JSON_DEPTH"]),
    ("params_nested_lists_100_deep.json", 422, ["32 levels deep", "MAX_JSON_DEPTH"]),
    ("body_nested_arrays_3000_deep.json", 422, ["32 levels deep", "MAX_JSON_DEPTH"]),
    ("name_nested_lists_40_deep.json", 422, ["32 levels deep", "MAX_JSON_DEPTH"]),
    ("sweep_list_with_true.json", 422, ['"params.n_classes"', "whole numbers", "True"]),
    ("sweep_list_with_float.json", 422, ['"params.n_classes"', "whole numbers", "3.0"]),
    ("sweep_empty_list.json", 422, ['"params.n_classes"', "whole numbers", "[]"]),
    ("sweep_range_from_zero.json", 422, ['"params.n_classes"', "greater than or equal to 1"]),
    ("sweep_range_negative.json", 422, ['"params.n_classes"', "'-1-3'", 'range like "1-8"']),
    ("sweep_range_trailing_junk.json", 422, ['"params.n_classes"', "'2-4x'"]),
    ("sweep_list_too_long.json", 422, ['"params.n_classes"', "22 fits", "at most 20"]),
    ("product_columns_over_max_columns.json", 422, ["2001 columns", "MAX_COLUMNS"]),
    ("product_columns_thousand_repeats.json", 422, ['"product_columns"', "twice", '"p1"']),
    ("covariate_columns_twice.json", 422, ['"covariate_columns"', "twice", '"age"']),
    ("id_column_is_a_covariate.json", 422, ['"id"', "both the ID column and a covariate"]),
    ("product_columns_numbers.json", 422, ['"product_columns.0"', "valid string"]),
    ("product_columns_null_entry.json", 422, ['"product_columns.1"', "valid string"]),
    ("product_columns_empty.json", 422, ["At least 2 product columns", "got 0"]),
    ("product_columns_object.json", 422, ['"product_columns"', "valid list"]),
    ("id_column_number.json", 422, ['"id_column"', "valid string", "5"]),
    ("covariate_columns_text.json", 422, ['"covariate_columns"', "valid list", "'age'"]),
    ("product_column_nul.json", 422, ['"product_columns"', "NUL"]),
    ("description_nul.json", 422, ['"description"', "NUL"]),
    ("params_key_nul.json", 422, ['"params"', "NUL"]),
    ("id_column_nul.json", 422, ['"id_column"', "NUL"]),
    ("inline_base64_escaped_quote.json", 422, ["data.csv_base64", "base64", "escaped quote"]),
    ("inline_base64_non_ascii.json", 422, ["data.csv_base64", "not valid base64", "'Ä'"]),
    ("inline_base64_bad_padding.json", 422, ["data.csv_base64", "base64", "multiple of 4"]),
    ("inline_data_url.json", 422, ["data.csv_base64", "not valid base64"]),
    ("inline_base64_empty.json", 422, ['"data.csv_base64"', "at least 1 character"]),
    ("inline_base64_number.json", 422, ['"data.csv_base64"', "valid string", "12345"]),
    ("inline_covariate_names_twice.json", 422, ['"data.covariate_column_names"', "twice"]),
]


@pytest.mark.parametrize(
    ("filename", "status", "words"), HOSTILE_RUNS, ids=[r[0] for r in HOSTILE_RUNS]
)
def test_hostile_run_request_is_refused_and_nothing_changes(
    app_client: httpx.Client,
    reference: dict[str, Any],
    filename: str,
    status: int,
    words: list[str],
) -> None:
    test_bad_run_request_is_refused_and_nothing_changes(
        app_client, reference, filename, status, words
    )


# Accepted: file, the run's params (those named), the sweep's values (None: one fit).
ACCEPTED_RUNS: list[tuple[str, dict[str, Any], list[int] | None]] = [
    ("sweep_one_value_range.json", {"n_classes": 3, "n_init": 2}, None),  # "3-3": one fit
    ("sweep_one_value_list.json", {"n_classes": 3, "n_init": 2}, None),  # [3]: one fit
    ("sweep_dotted_range.json", {"n_classes": [2, 3, 4]}, [2, 3, 4]),  # "2..4"
    ("sweep_colon_range.json", {"n_classes": [2, 3]}, [2, 3]),  # "2:3"
    ("sweep_range_with_spaces.json", {"n_classes": [2, 3]}, [2, 3]),  # " 2 - 3 "
    ("sweep_list_repeats.json", {"n_classes": [2, 3]}, [2, 3]),  # [3, 2, 3]
    ("inline_base64_wrapped_76.json", {"n_classes": 2, "n_init": 2}, None),
    ("inline_base64_wrapped_crlf.json", {"n_classes": 2, "n_init": 2}, None),
    ("inline_base64_escaped_slashes.json", {"n_classes": 2, "n_init": 2}, None),  # "\/"
]


@pytest.mark.parametrize(
    ("filename", "params", "sweep"), ACCEPTED_RUNS, ids=[r[0] for r in ACCEPTED_RUNS]
)
def test_near_miss_run_request_is_accepted_with_its_values(
    app_client: httpx.Client,
    reference: dict[str, Any],
    filename: str,
    params: dict[str, Any],
    sweep: list[int] | None,
) -> None:
    # The reference's columns on 120 households: room for 4 classes of 4 products (on the
    # reference's 12, 3 classes already need more parameters than households: a 422).
    header, *lines = REFERENCE.decode().strip().splitlines()
    rows = [f"R{k}-{line}" for k in range(10) for line in lines]  # R0-H000,0,0,0,0, …
    roomy = post_file(app_client, "\n".join([header, *rows]).encode(), "roomy.csv").json()
    body = (RUNS / filename).read_text().replace("$DATASET", roomy["id"])
    response = app_client.post(
        f"{API}/runs", content=body.encode(), headers={"content-type": "application/json"}
    )
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
    listed = {r[0] for r in BAD_RUNS} | {r[0] for r in HOSTILE_RUNS} | {r[0] for r in ACCEPTED_RUNS}
    assert {p.name for p in RUNS.iterdir()} == listed
    assert len(HOSTILE_RUNS) + len(ACCEPTED_RUNS) >= 40


def test_corpus_is_large_enough() -> None:
    files = [p for p in UPLOADS.iterdir() if p.name not in {a[0] for a in ACCEPTED}]
    assert len(files) + len(list(RUNS.iterdir())) >= 30
    assert json.loads((RUNS / "unknown_param.json").read_text())["params"] == {"n_clases": 2}
