"""The typing tool (issue 15, item 4): forward selection of the products that assign a
household its segment, with its exports. Done means: its SQL, run in SQLite and PostgreSQL on
the training rows, gives exactly the tool's own classification; so do the Python function and
the scoring sheet; its accuracy on held-back households is reported next to the full model's."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.support.runs import submit_lca, upload, wait_for
from tests.support.survey import item_probabilities

N_ROWS, N_CLASSES, N_PRODUCTS = 2000, 4, 12
ODD = 'fresh "bio" milk'  # a product name SQL must quote
LABEL = 'Mum\'s "best" buys'  # a segment name SQL must quote


def purchases(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probs = item_probabilities(N_CLASSES, N_PRODUCTS, seed)
    classes = rng.choice(N_CLASSES, size=N_ROWS, p=[0.4, 0.3, 0.2, 0.1])
    values = (rng.random((N_ROWS, N_PRODUCTS)) < probs[classes]).astype(float)
    values[rng.random(values.shape) < 0.03] = np.nan  # unknown answers: NULL in the warehouse
    names = [f"prod_{j + 1}" for j in range(N_PRODUCTS - 1)] + [ODD]
    frame = pd.DataFrame(values, columns=names).astype("Int64")
    frame.insert(0, "household_id", [f"H{i:05d}" for i in range(N_ROWS)])
    return frame


@pytest.fixture(scope="module")
def tool(live_stack: str) -> Iterator[dict[str, Any]]:
    frame = purchases()
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=60) as client:
        dataset = upload(client, frame.to_csv(index=False).encode(), "typing.csv").json()
        fit = submit_lca(
            client,
            dataset["id"],
            id_column="household_id",
            n_classes=N_CLASSES,
            n_init=4,
            random_state=3,
        )
        run = wait_for(client, fit["id"], timeout=180)
        assert run["status"] == "completed", run["error"]
        client.patch(f"/runs/{run['id']}", json={"labels": {"Class 2": LABEL}})
        made = client.post(f"/runs/{run['id']}/typing", json={"max_products": 10, "holdout": 0.25})
        assert made.status_code == 202, made.text
        assert made.json()["kind"] == "typing"
        typing = wait_for(client, made.json()["id"], timeout=120)
        assert typing["status"] == "completed", typing["error"]
        result = client.get(f"/runs/{typing['id']}/results").json()
        table = pd.read_parquet(
            io.BytesIO(client.get(f"/runs/{typing['id']}/assignments?format=parquet").content)
        )
        yield {
            "client": client,
            "run": run,
            "typing": typing,
            "result": result,
            "table": table,
            "frame": frame,
        }


def export(tool: dict[str, Any], fmt: str, **params: Any) -> str:
    response = tool["client"].get(f"/runs/{tool['typing']['id']}/typing-tool/{fmt}", params=params)
    assert response.status_code == 200, response.text
    return response.text


def test_the_curve_the_confusion_and_the_holdout_next_to_the_full_model(
    tool: dict[str, Any],
) -> None:
    result = tool["result"]
    steps = result["steps"]
    assert [s["k"] for s in steps] == list(range(1, 11))
    assert len(set(result["order"])) == 10 and "Forward selection" in result["method"]
    assert result["n_holdout"] == 500 and result["n_selection"] == 1500
    full = result["full_model_holdout_expected_accuracy"]
    for step in steps:
        # No rule can be surer of the latent segment than the full model's own posterior.
        assert step["holdout_expected_accuracy"] <= full + 1e-12
        confusion = np.array(step["confusion"])
        assert confusion.sum() == result["n_holdout"]
        assert np.trace(confusion) / confusion.sum() == pytest.approx(step["holdout_accuracy"])
    assert steps[-1]["holdout_accuracy"] > 0.8 > steps[0]["holdout_accuracy"]
    assert 1 <= result["suggested_k"] <= 10
    assert "within" in result["suggestion_rule"]


def tool_segments(tool: dict[str, Any], k: int) -> dict[str, int]:
    table = tool["table"]
    return dict(zip(table["household_id"], table[f"segment_k{k}"].astype(int), strict=True))


def sql_answers(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    return {str(key): int(segment) for key, segment, _ in rows}


def create_table(frame: pd.DataFrame, quote: Any) -> tuple[str, str]:
    products = [c for c in frame.columns if c != "household_id"]
    columns = ", ".join(
        [f"{quote('household_id')} TEXT"] + [f"{quote(p)} INTEGER" for p in products]
    )
    return f"CREATE TABLE purchases ({columns})", ", ".join(["?"] * (len(products) + 1))


def rows_of(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        tuple(None if pd.isna(v) else (v if isinstance(v, str) else int(v)) for v in row)
        for row in frame.itertuples(index=False)
    ]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_the_sql_gives_the_tools_classification_in_sqlite(tool: dict[str, Any], k: int) -> None:
    from backend.services.typing_tool import quote_name

    query = export(tool, "sql", k=k)
    db = sqlite3.connect(":memory:")
    create, marks = create_table(tool["frame"], quote_name)
    db.execute(create)
    db.executemany(f"INSERT INTO purchases VALUES ({marks})", rows_of(tool["frame"]))
    rows = db.execute(query).fetchall()
    assert sql_answers(rows) == tool_segments(tool, k)
    names = {int(segment): name for _, segment, name in rows}
    assert names[2] == LABEL


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.mark.parametrize("k", [1, 3, 10])
def test_the_sql_gives_the_tools_classification_in_postgresql(tool: dict[str, Any], k: int) -> None:
    psycopg = pytest.importorskip("psycopg")
    from backend.services.typing_tool import quote_name

    url = postgres_url().replace("postgresql+psycopg://", "postgresql://")
    try:
        connection = psycopg.connect(url, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {url}: {exc}")
    query = export(tool, "sql", k=k)
    with connection, connection.cursor() as cursor:
        create, marks = create_table(tool["frame"], quote_name)
        cursor.execute(create.replace("CREATE TABLE", "CREATE TEMP TABLE"))
        cursor.executemany(
            f"INSERT INTO purchases VALUES ({marks.replace('?', '%s')})", rows_of(tool["frame"])
        )
        cursor.execute(query)
        rows = cursor.fetchall()
        connection.rollback()
    assert sql_answers(rows) == tool_segments(tool, k)
    assert {int(s): n for _, s, n in rows}[2] == LABEL


def test_the_python_function_and_the_sheet_give_the_same_classification(
    tool: dict[str, Any],
) -> None:
    k = tool["result"]["suggested_k"]
    namespace: dict[str, Any] = {}
    exec(export(tool, "python"), namespace)  # the default k is the suggested one
    frame = tool["frame"]
    expected = tool_segments(tool, k)
    answers = frame.drop(columns="household_id").astype(object).where(frame.notna(), None)
    got = {
        key: namespace["assign_segment"](row)
        for key, row in zip(frame["household_id"], answers.to_dict("records"), strict=True)
    }
    assert got == expected
    sheet = list(csv.DictReader(io.StringIO(export(tool, "sheet", k=k))))
    segments = [c for c in sheet[0] if c not in ("question", "answer")]
    assert LABEL in segments and len(sheet) == 1 + 2 * k
    points = {(r["question"], r["answer"]): [int(r[s]) for s in segments] for r in sheet[1:]}
    start = [int(sheet[0][s]) for s in segments]
    for key, row in list(zip(frame["household_id"], answers.to_dict("records"), strict=True))[:300]:
        totals = np.array(start)
        for (question, answer), earned in points.items():
            value = row[question]
            if value is not None and (value == 1) == (answer == "bought"):
                totals += earned
        assert int(np.argmax(totals)) + 1 == expected[key]
