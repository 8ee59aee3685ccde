"""The whole flow in a real headless Chromium: upload, choose columns, start an LCA, watch it
run, see the segments and download the assignments.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`); Playwright's own
browser download is not used.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.embedded_redis import free_port
from tests.support.data import simulate_lca
from tests.support.services import start_process, stop_process, wait_for_http

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


@pytest.fixture
def ui_url(live_stack: str, tmp_path: Path) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free port, talking to the live API."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]
    env = {**os.environ, "API_URL": live_stack}
    process = start_process(command, env, tmp_path / "streamlit.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=60, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_upload_run_and_see_segments_in_a_browser(ui_url: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found; install it with `apt-get install -y chromium`")
    from playwright.sync_api import expect, sync_playwright

    sim = simulate_lca(n=600)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.set_default_timeout(30_000)

            # Given the app, opened on its data page
            page.goto(ui_url)
            expect(page.get_by_text("Upload a file to begin.")).to_be_visible()

            # When a purchase file is uploaded
            page.locator("input[type=file]").set_input_files(
                {"name": "households.csv", "mimeType": "text/csv", "buffer": sim.csv()}
            )
            # Then its shape is shown
            expect(page.get_by_text("0/1 product columns")).to_be_visible()
            expect(page.get_by_test_id("stMetricValue").first).to_have_text("600")

            # When the person sets up a 3-segment analysis (ID and products are pre-chosen)
            page.get_by_role("button", name="Next: set up an analysis").click()
            expect(page.get_by_text("1 · Columns")).to_be_visible()
            expect(page.get_by_text(f"{len(sim.products)} products selected.")).to_be_visible()
            segments = page.get_by_role("spinbutton", name="Number of segments")
            segments.fill("3")
            segments.press("Enter")
            page.get_by_text("Advanced settings").click()
            for label, value in (("Random starts", "100"), ("Random seed", "7")):
                box = page.get_by_role("spinbutton", name=label)
                box.fill(value)
                box.press("Enter")
            expect(page.get_by_role("spinbutton", name="Random starts")).to_have_value("100")
            page.get_by_role("button", name="Start analysis").click()

            # Then a live progress panel appears
            expect(page.get_by_role("button", name="Cancel this run")).to_be_visible()
            expect(page.get_by_role("progressbar")).to_be_visible()

            # and, when the worker is done, the segments
            expect(page.get_by_text("Segment sizes")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("What each segment buys")).to_be_visible()
            expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
            metrics = page.get_by_test_id("stMetric")
            expect(metrics.filter(has_text="Segments")).to_contain_text("3")

            # When the assignments are downloaded
            with page.expect_download() as download:
                page.get_by_role("button", name="Household assignments (CSV)").click()
            rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
            # Then there is one row per household, with its ID
            assert len(rows) == 600
            assert rows[0]["household_id"] == "HH000000"

            page.wait_for_timeout(500)  # let the charts finish drawing
            shot = tmp_path / "results.png"
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
        finally:
            browser.close()
