"""The whole flow in a real headless Chromium: the demo data, an LCA, its live progress, the
segments, the memberships and the ZIP; screenshots of each page go to build/ui-screenshots
(or UI_SCREENSHOT_DIR) for CI to keep.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`); Playwright's own
browser download is not used. Without it the test is skipped on a workstation, but fails where
the browser is required (REQUIRE_BROWSER=1, which .ci/run sets, or CI set).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from backend.embedded_redis import free_port
from tests.support.services import start_process, stop_process, wait_for_http

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


@pytest.fixture
def ui_url(live_stack: str, tmp_path: Path) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free port, talking to the live API."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    env = {**os.environ, "API_URL": live_stack}
    process = start_process(command, env, tmp_path / "streamlit.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=60, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


SHOTS = Path(
    os.environ.get("UI_SCREENSHOT_DIR")
    or Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"
)


def browser_required() -> bool:
    flags = (os.environ.get("REQUIRE_BROWSER", ""), os.environ.get("CI", ""))
    return any(flag.strip().lower() not in ("", "0", "false", "no") for flag in flags)


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    missing = f"{CHROMIUM} not found; install it with `apt-get install -y chromium`"
    if browser_required():
        pytest.fail(f"{missing} (REQUIRE_BROWSER or CI is set: this test must run)")
    pytest.skip(missing)


@contextmanager
def chromium_page(height: int) -> Iterator[Page]:
    """A page of a headless Chromium, 1400 px wide and `height` tall, that accepts downloads
    and waits up to 30 s (its own calls and `expect`); the browser is closed after."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            viewport: ViewportSize = {"width": 1400, "height": height}
            page = browser.new_page(viewport=viewport, accept_downloads=True)
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


# A run name that, as Markdown, would fetch an image, paint a fake error and format text.
HOSTILE_NAME = "<!--<script> ![x](http://attacker.invalid/x.png) :red[fake error] **bold** $x$"


def test_demo_to_segments_and_zip_in_a_browser(ui_url: str, client: httpx.Client) -> None:
    require_chromium()
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(2000) as page:

        def shot(name: str, settle: int = 700) -> None:
            page.wait_for_timeout(settle)  # let the charts finish drawing
            page.screenshot(path=str(SHOTS / f"{name}.png"))

        # Given the app, opened on its data page
        page.goto(ui_url)
        expect(page.get_by_text("try the demo data, to begin")).to_be_visible()
        shot("01_data")

        # When the visitor takes the demo data
        page.get_by_role("radio", name="Demo data").click()
        page.get_by_role("button", name="Use the demo data").click()
        # Then its quality report and the suggested columns are shown
        expect(page.get_by_text("Choose the columns")).to_be_visible()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("2,000")
        shot("02_data_demo")

        # When they save it and set up a segmentation (columns come from the Data page)
        page.get_by_role("button", name="Save as dataset").click()
        page.get_by_role("button", name="Next: set up an analysis").click()
        expect(page.get_by_text("24 products selected.")).to_be_visible()
        page.get_by_text("Advanced settings").click()
        starts = page.get_by_role("spinbutton", name="Random starts")
        starts.fill("400")
        starts.press("Enter")
        page.wait_for_timeout(500)
        shot("03_new_analysis")
        page.get_by_role("button", name="Start analysis").click()

        # Then a live progress panel appears
        expect(page.get_by_role("button", name="Cancel this run")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_be_visible()
        shot("04_progress", settle=0)

        # and, when the worker is done, the segments
        expect(page.get_by_text("Segment sizes")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("What each segment buys")).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
        metrics = page.get_by_test_id("stMetric")
        expect(metrics.filter(has_text="Segments")).to_contain_text("3")
        shot("05_results")

        # When the memberships are downloaded
        with page.expect_download() as download:
            page.get_by_role("button", name="Household assignments (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        # Then there is one row per household, keyed by its ID, with its segment
        assert len(rows) == 2000
        assert rows[0]["household_id"] == "HH00001"
        assert rows[0]["Segment"].startswith("Segment ")

        # When they open the exports and take the ZIP
        page.get_by_role("button", name="All exports and report").click()
        expect(page.get_by_role("heading", name="Exports")).to_be_visible()
        shot("06_exports")
        with page.expect_download(timeout=90_000) as download:
            page.get_by_role("button", name="Download ZIP").click()
        archive = zipfile.ZipFile(download.value.path())
        # Then it holds the README, the memberships, the tables and the report
        names = set(archive.namelist())
        assert {"README.md", "memberships.csv", "class_profile.csv", "report.html"} <= names

        # and the runs list shows the finished run
        page.get_by_role("link", name="Runs").click()
        expect(page.get_by_text("Done").first).to_be_visible()
        shot("07_runs")

        # When the run gets a name made of Markdown and markup
        run_id = client.get("/runs", params={"limit": 1}).json()["items"][0]["id"]
        assert client.patch(f"/runs/{run_id}", json={"name": HOSTILE_NAME}).is_success
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url) if "attacker" in r.url else None)
        page.reload()
        # Then the Runs page shows it as text: no image fetched, no colour, no formula
        name = page.get_by_test_id("stMarkdownContainer").filter(has_text="fake error").first
        expect(name).to_be_visible()
        shown = name.inner_text().replace("\u2060", "")
        assert shown == HOSTILE_NAME, shown
        assert name.locator("img, a, .katex, strong span").count() == 0
        page.wait_for_timeout(1000)
        assert fetched == []
        shot("08_runs_literal_names")
        print(f"screenshots: {SHOTS}")
