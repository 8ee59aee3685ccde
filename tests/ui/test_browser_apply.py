"""'Apply to new customers' in a real headless Chromium (issue 15, item 6): a finished LCA of
the demo data is applied to a file of new households — their shares and the drift report, the
scores and audiences downloaded — then its typing tool is built and its SQL shown; screenshots
to build/ui-screenshots (or UI_SCREENSHOT_DIR)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from tests.support.runs import submit_lca, wait_for
from tests.ui.test_browser import SHOTS, chromium_page, require_chromium, ui_url
from ui.demo import ID_COLUMN, PRODUCTS, demo_frame

pytestmark = pytest.mark.browser
__all__ = ["ui_url"]

RUN_NAME = "Demo segments to apply"


def test_apply_to_new_customers_in_a_browser(
    ui_url: str, client: httpx.Client, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect

    # Given a finished LCA of the demo data, and a file of 500 new households
    content = demo_frame(n=1500).to_csv(index=False).encode()
    dataset = client.post("/datasets", files={"file": ("demo.csv", content)}).json()
    fit = submit_lca(
        client,
        dataset["id"],
        name=RUN_NAME,
        product_columns=list(PRODUCTS),
        id_column=ID_COLUMN,
        n_classes=4,
        n_init=8,
        random_state=3,
    )
    run = wait_for(client, fit["id"], timeout=120)
    assert run["status"] == "completed", run.get("error")
    new = demo_frame(n=500, seed=77)
    new[ID_COLUMN] = [f"NEW{i:04d}" for i in range(len(new))]
    new_file = tmp_path / "new_customers.csv"
    new.to_csv(new_file, index=False)

    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(2400) as page:
        # When the page is opened from the navigation, the run picked and the file uploaded
        page.goto(ui_url)
        page.get_by_role("link", name="Apply to new customers").click()
        expect(page.get_by_role("heading", name="Apply to new customers")).to_be_visible()
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=RUN_NAME).first.click()
        page.locator('input[type="file"]').set_input_files(str(new_file))
        expect(page.get_by_text("500 households")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Score these households").click()
        # Then the shares and the drift report of the new households are shown
        expect(page.get_by_text("500 households scored.")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("Mean log-likelihood per household")).to_be_visible()
        expect(page.get_by_text("Shares and drift")).to_be_visible()
        expect(page.get_by_role("button", name="One file per segment (ZIP)")).to_be_visible()
        page.wait_for_timeout(3000)
        page.screenshot(path=str(SHOTS / "11_apply_scored.png"), full_page=True)
        # When the scores and the audiences are downloaded
        with page.expect_download() as download:
            page.get_by_role("button", name="Scores (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        # Then there is one row per new household, keyed by its ID, with its segment
        assert len(rows) == 500 and rows[0][ID_COLUMN] == "NEW0000"
        assert rows[0]["modal_class"] in {"1", "2", "3", "4"}
        with page.expect_download() as download:
            page.get_by_role("button", name="One file (CSV)").click()
        audience = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert audience and all(float(r["probability"]) >= 0.5 for r in audience)
        # When the typing tool is built
        page.get_by_role("button", name="Build the typing tool").click()
        # Then its curve, its confusion matrix and its SQL are shown
        expect(page.get_by_text("Products to ask")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("SELECT").first).to_be_visible()
        expect(page.get_by_text("agrees with the full model on")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Scoring sheet (CSV)").click()
        sheet = Path(download.value.path()).read_text()
        assert sheet.startswith("question,answer,")
        page.wait_for_timeout(1500)
        page.get_by_text("Typing tool").first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "12_apply_typing_tool.png"), full_page=True)
        print(f"screenshots: {SHOTS}")
