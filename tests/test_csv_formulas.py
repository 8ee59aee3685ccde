"""Every CSV the product writes is safe to open in a spreadsheet (issue 12, item 2): the app's
exports carried 8,211 live formula cells from an uploaded file alone.

A dataset whose household IDs, product names and segment names are formulas goes through a
real fit; then every CSV a person can take away — /assignments, each CSV in the ZIP export,
and each CSV download button of the app (Results and Exports pages, AppTest) — is counted
as the issue counted: cells whose text starts with a formula character (=, +, -, @, tab, CR),
genuine numbers (`-0.5`, `-42`) aside. There must be none, and the risky text must still be
there, quoted."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from tests.ui.test_app import app

FORMULAS = ['=HYPERLINK("http://attacker.example","click")', "+1+1", "@SUM(A1)", "-2+3"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run as a formula."""
    return [c for c in cells(text) if c.startswith(FORMULA_START) and not NUMBER.fullmatch(c)]


def assert_defused(name: str, text: str) -> None:
    assert formula_cells(text) == [], name
    assert "'" + FORMULAS[0] in cells(text) or "'" + FORMULAS[1] in cells(text), name


@pytest.fixture(scope="module")
def risky_run(live_stack: str) -> Iterator[dict[str, Any]]:
    """A finished segmentation of households with formula IDs, product names and names."""
    sim = simulate_lca(n=300, seed=7)
    products = [c for c in sim.frame.columns if c != "household_id"]
    frame = sim.frame.rename(columns=dict(zip(products, FORMULAS, strict=False)))
    ids = [*FORMULAS, "\t=TAB()", "\r=CR()"]  # Parquet keeps tab and CR exactly
    frame.loc[: len(ids) - 1, "household_id"] = ids
    frame.loc[len(ids), "household_id"] = "-42"
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    with httpx.Client(base_url=f"{live_stack}/api/v1", timeout=30) as client:
        dataset = upload(client, buffer.getvalue(), "risky.parquet").json()
        run = submit_lca(client, dataset["id"], n_classes=2, n_init=1, id_column="household_id")
        assert wait_for(client, run["id"])["status"] == "completed"
        labels = {"Class 1": FORMULAS[0], "Class 2": FORMULAS[1]}
        patched = client.patch(f"/runs/{run['id']}", json={"labels": labels})
        assert patched.status_code == 200, patched.text
        yield patched.json()


def test_api_csvs_hold_no_formula(client: httpx.Client, risky_run: dict[str, Any]) -> None:
    run_id = risky_run["id"]
    # The per-household assignments
    assignments = client.get(f"/runs/{run_id}/assignments", params={"format": "csv"})
    assert assignments.status_code == 200
    assert_defused("assignments", assignments.text)
    assert "-42" in cells(assignments.text)  # a genuine number stays a number
    # and every CSV in the ZIP
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/runs/{run_id}/export").content))
    names = [n for n in archive.namelist() if n.endswith(".csv")]
    assert {"memberships.csv", "class_profile.csv"} <= set(names)
    for name in names:
        assert formula_cells(archive.read(name).decode()) == [], name
    for name in ("memberships.csv", "class_profile.csv"):
        assert_defused(name, archive.read(name).decode())


Recorded = list[tuple[str, Callable[[], Any] | bytes | str]]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Every st.download_button drawn (its file name and data), as the app draws it."""
    recorded: Recorded = []
    original = DeltaGenerator.download_button

    def record(
        self: DeltaGenerator,
        label: str,
        data: Any,
        file_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        recorded.append((str(file_name), data))
        return original(self, label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: record(st._main, *a, **k))
    return recorded


def content(data: Callable[[], Any] | bytes | str) -> bytes:
    value = data() if callable(data) else data
    return value.encode() if isinstance(value, str) else bytes(value)


def test_app_downloads_hold_no_formula(
    monkeypatch: pytest.MonkeyPatch,
    live_stack: str,
    risky_run: dict[str, Any],
    downloads: Recorded,
) -> None:
    monkeypatch.setenv("API_URL", live_stack)
    monkeypatch.delenv("API_TOKEN", raising=False)
    # When the person opens the run's results and its exports
    at = app().run()
    at.session_state["run_id"] = risky_run["id"]
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    at.switch_page("views/exports.py").run()
    assert not at.exception, at.exception
    # Then every CSV (and every CSV inside the ZIP) they can download holds no formula
    offered = {name: content(data) for name, data in downloads}
    csvs = {name: data.decode() for name, data in offered.items() if name.endswith(".csv")}
    for name, data in offered.items():
        if name.endswith(".zip"):
            archive = zipfile.ZipFile(io.BytesIO(data))
            csvs |= {
                f"{name}/{n}": archive.read(n).decode()
                for n in archive.namelist()
                if n.endswith(".csv")
            }
    assert any(n.startswith("memberships_") for n in csvs)  # the Results page's download
    assert sum(n.endswith("_memberships.csv") for n in csvs) == 1  # the Exports page's
    assert len(csvs) >= 10, sorted(csvs)
    for name, text in csvs.items():
        assert formula_cells(text) == [], name
    memberships = next(text for n, text in csvs.items() if n.startswith("memberships_"))
    assert_defused("the Results page's memberships", memberships)
