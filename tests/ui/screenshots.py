"""Screenshots of the main pages for ui/README.md, from a running app with some finished runs:
`python -m tests.ui.screenshots http://localhost:8501 <lca-sweep-run-id> <network-run-id>`.
Saved to ui/screenshots/ (1000 px wide). Not a test."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parents[2] / "ui" / "screenshots"


def save(page: Page, name: str, height: int) -> None:
    page.set_viewport_size({"width": 1400, "height": height})
    page.wait_for_timeout(2500)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image = image.crop((260, 0, 1400, height))  # without most of the sidebar
    image = image.resize((1000, round(height * 1000 / 1140)))
    image.save(OUT / f"{name}.png", optimize=True)
    print("saved", name)


def main(url: str, lca_run: str, network_run: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name="Your purchase data").wait_for(timeout=60000)
        page.get_by_role("radio", name="Demo data").click()
        page.get_by_role("button", name="Use the demo data").click()
        page.get_by_text("Choose the columns").wait_for(timeout=60000)
        save(page, "data", 1250)
        page.get_by_role("button", name="Save as dataset").click()
        page.get_by_role("tab", name="Basket statistics").click()
        save(page, "data_basket", 1500)  # counted by the API once the dataset is saved
        page.get_by_role("button", name="Next: set up an analysis").click()
        page.get_by_text("What to look for").wait_for(timeout=60000)
        page.get_by_text("Compare several numbers of segments").click()
        save(page, "new_analysis", 1150)
        page.goto(f"{url}/results?run={lca_run}")
        page.get_by_text("Segment sizes").wait_for(timeout=60000)
        save(page, "results_segments", 2300)
        page.get_by_role("tab", name="Compare segments").click()
        page.wait_for_timeout(1000)
        save(page, "results_compare_segments", 1900)
        page.goto(f"{url}/results?run={network_run}")
        page.get_by_text("Which products are bought together").wait_for(timeout=60000)
        save(page, "results_network", 1250)
        page.goto(f"{url}/runs")
        page.get_by_role("heading", name="All runs").wait_for(timeout=60000)
        save(page, "runs", 1100)
        page.goto(f"{url}/exports")
        page.get_by_role("heading", name="Tables").wait_for(timeout=60000)
        save(page, "exports", 1000)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
