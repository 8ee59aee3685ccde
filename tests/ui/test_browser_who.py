"""'Who they are' in a real headless Chromium: a plain LCA of the demo data profiled by its
household features (age band, income band, children, region, household size) opens on the
results page with its banner of shares and significance marks, and the 3-step section (the
features' corrected odds ratios, a spend outcome compared between the segments); screenshots to
build/ui-screenshots (or UI_SCREENSHOT_DIR)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.support.runs import wait_for
from tests.ui.test_browser import SHOTS, chromium_page, require_chromium, ui_url
from ui.demo import ID_COLUMN, PRODUCTS, demo_frame

pytestmark = pytest.mark.browser
__all__ = ["ui_url"]  # the fixture, shared with the whole-flow test

FEATURES = ["age_band", "income_band", "children", "region", "household_size"]


def test_who_they_are_for_a_plain_lca_in_a_browser(ui_url: str, client: httpx.Client) -> None:
    require_chromium()
    from playwright.sync_api import expect

    # Given a finished plain LCA of the demo data, profiled by its household features
    frame = demo_frame(n=1500)
    rng = np.random.default_rng(5)
    frame["weekly_spend"] = (40 + 12 * frame["household_size"] + rng.normal(0, 8, 1500)).round(2)
    content = frame.to_csv(index=False).encode()
    dataset = client.post("/datasets", files={"file": ("demo.csv", content)}).json()
    response = client.post(
        "/runs",
        json={
            "model_type": "lca",
            "name": "Demo segments profiled",
            "dataset_id": dataset["id"],
            "product_columns": list(PRODUCTS),
            "id_column": ID_COLUMN,
            "covariate_columns": FEATURES,
            "params": {
                "n_classes": 4,
                "n_init": 8,
                "random_state": 3,
                "distal_columns": ["weekly_spend"],
            },
        },
    )
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"], timeout=120)
    assert run["status"] == "completed", run.get("error")
    profiles = client.get(f"/runs/{run['id']}/results").json()["profiles"]
    assert {f["feature"] for f in profiles["features"]} == set(FEATURES)
    assert any(c["significant"] for f in profiles["features"] for c in f["cells"])
    three_step = client.get(f"/runs/{run['id']}/results").json()["three_step"]
    assert {d["outcome"] for d in three_step["distal"]} == {"weekly_spend"}

    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(2200) as page:
        # When the results page of the run is opened and "Who they are" chosen
        page.goto(f"{ui_url}/results?run={run['id']}")
        expect(page.get_by_text("What each segment buys")).to_be_visible(timeout=60_000)
        tab = page.get_by_role("tab", name="Who they are")
        expect(tab).to_be_visible()
        tab.click()
        # Then the banner is drawn with its significance marks, and the tests per feature
        expect(page.get_by_text("Who they are").last).to_be_visible()
        expect(page.get_by_text("differs significantly from all households")).to_be_visible()
        expect(page.get_by_text("Does each feature differ between the segments?")).to_be_visible()
        expect(page.locator('[data-testid="stVegaLiteChart"]:visible').first).to_be_visible()
        # and the 3-step section: corrected effects and the outcome by segment
        expect(page.get_by_text("Corrected for misassignment (3-step)")).to_be_visible()
        expect(page.get_by_text("How the segments differ in the outcomes (3-step)")).to_be_visible()
        expect(
            page.get_by_text("Does each outcome differ between the segments? (3-step)")
        ).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "10_who_they_are.png"), full_page=True)
