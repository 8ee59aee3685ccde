"""The hostile upload corpus against the real API (a uvicorn process): every file in
tests/corpus/hostile/ is either stored with exactly the values it holds — IDs as the file's
text, products as 0/1 or missing, blank rows dropped and counted — or refused with a 4xx whose
detail names the problem. Never a 5xx.

"Exactly" is checked on what workers read: the dataset's stored Parquet, value by value, and on
the preview the API answers.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from backend.db import session_scope
from backend.orm import Dataset
from backend.services.datasets import load_frame
from tests.support.hostile import CASES, Case, Refused, Stored

HOSTILE = Path(__file__).parent / "corpus" / "hostile"


@pytest.fixture(scope="module")
def api(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api_url}/api/v1", timeout=60) as client:
        yield client


def stored_frame(dataset_id: str) -> Any:
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        return load_frame(dataset)


def plain(value: Any) -> Any:
    """A stored cell as the expectations spell it: None for missing, 0/1 as ints."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.filename for c in CASES])
def test_hostile_upload(api: httpx.Client, case: Case) -> None:
    content = (HOSTILE / case.filename).read_bytes()
    response = api.post("/datasets", files={"file": (case.filename, content)}, data=case.form)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    if isinstance(case.expect, Refused):
        assert response.status_code == case.expect.status, response.text
        detail = response.json()["detail"]
        for word in case.expect.words:
            assert word in detail, f"{word!r} not in {detail!r}"
        return
    assert response.status_code == 201, response.text
    body = response.json()
    try:
        check_stored(body, case.expect)
    finally:
        api.delete(f"/datasets/{body['id']}")


def check_stored(body: dict[str, Any], expect: Stored) -> None:
    frame = stored_frame(body["id"])
    assert list(frame.columns) == list(expect.columns)
    for name, values in expect.columns.items():
        stored = [plain(v) for v in frame[name].tolist()]
        assert stored == values, name
        binary = all(v in (0, 1, None) and not isinstance(v, str) for v in values)
        profile = next(c for c in body["columns"] if c["name"] == name)
        assert profile["is_binary"] is binary, name
        if not binary:  # text stays text: stored as strings, never as numbers
            assert all(isinstance(v, str) for v in frame[name].dropna().tolist()), name
    assert body["n_rows"] == len(next(iter(expect.columns.values())))
    assert body["n_blank_rows"] == expect.n_blank_rows
    for word in expect.notes:
        assert any(word in note for note in body["notes"]), (word, body["notes"])
    preview = [{k: plain(v) for k, v in row.items()} for row in body["preview"]]
    rows = zip(*expect.columns.values(), strict=True)
    expected = [dict(zip(expect.columns, row, strict=True)) for row in rows]
    assert preview == expected[: len(preview)]


def test_the_corpus_is_what_its_generator_makes() -> None:
    # The committed files are reproducible from tests/support/hostile.py (Parquet compared as
    # data: its bytes carry the writer's version).
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(c.filename for c in CASES)
    assert len(CASES) >= 60
    for case in CASES:
        committed, built = (HOSTILE / case.filename).read_bytes(), case.build()
        if case.filename.endswith(".parquet") and committed[:4] == b"PAR1":
            tables = [pq.read_table(io.BytesIO(b)) for b in (committed, built)]
            assert tables[0].schema.equals(tables[1].schema), case.filename
            assert tables[0].to_pandas().equals(tables[1].to_pandas()), case.filename
        else:
            assert committed == built, case.filename


def test_a_hundred_thousand_columns_are_counted_in_full(api: httpx.Client) -> None:
    # Given a CSV whose header alone is 590 kB (the header used to be counted in its first 64 kB)
    header = ",".join(f"c{k}" for k in range(100_000))
    rows = "\n".join(",".join(["0", "1"] * 50_000) for _ in range(2))
    content = f"{header}\n{rows}\n".encode()
    # When it is uploaded
    response = api.post("/datasets", files={"file": ("wide.csv", content)})
    # Then it is refused with its real column count, before the rows are parsed
    assert response.status_code == 422, response.text
    assert "The file has 100000 columns; at most 2000" in response.json()["detail"]
    assert response.elapsed.total_seconds() < 5
