"""Trace and rank plots of a NUTS run in a real headless Chromium (issue 18): a small Bayesian
factor model sampled by a real worker opens on the results page; its Diagnostics tab shows the
verdict, the trace plots (one line per chain, divergences marked) and the rank plots, and says
which method produced the intervals; screenshots to build/ui-screenshots (or
UI_SCREENSHOT_DIR)."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.support.runs import wait_for
from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, require_chromium, ui_url

pytestmark = pytest.mark.browser

__all__ = ["ui_url"]  # the fixture, shared with the whole-flow test


def two_factor_purchases(n: int = 150, p: int = 6, seed: int = 4) -> bytes:
    rng = np.random.default_rng(seed)
    loadings = np.zeros((p, 2))
    loadings[: p // 2, 0], loadings[p // 2 :, 1] = 1.6, 1.6
    eta = -0.3 + rng.standard_normal((n, 2)) @ loadings.T
    y = (rng.random((n, p)) < 1 / (1 + np.exp(-eta))).astype(int)
    frame = pd.DataFrame(y, columns=[f"prod_{j + 1}" for j in range(p)])
    frame.insert(0, "household", [f"h{i}" for i in range(n)])
    return frame.to_csv(index=False).encode()


def test_trace_and_rank_plots_of_a_nuts_run_in_a_browser(ui_url: str, client: httpx.Client) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    # Given a finished NUTS run of the Bayesian factor model (short chains)
    dataset = client.post(
        "/datasets", files={"file": ("two_factors.csv", two_factor_purchases())}
    ).json()
    response = client.post(
        "/runs",
        json={
            "model_type": "bayesian_factor_pymc",
            "name": "Bayesian factors, checked",
            "dataset_id": dataset["id"],
            "id_column": "household",
            "params": {"n_factors": 2, "draws": 150, "tune": 150, "random_state": 2},
        },
    )
    assert response.status_code == 202, response.text
    run = wait_for(client, response.json()["id"], timeout=600)
    assert run["status"] == "completed", run.get("error")
    result = client.get(f"/runs/{run['id']}/results").json()
    plots = result["trace_plots"]
    assert len(plots["parameters"]) == 6 and len(plots["rank_counts"][0]) == 2
    verdict = result["diagnostics"]["verdict"]
    charts = {s["id"] for s in client.get(f"/runs/{run['id']}/charts").json()["sections"]}
    assert {"trace", "rank", "energy"} <= charts

    SHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=30_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Tall enough for the whole Diagnostics tab (Streamlit scrolls inside its own container,
            # so a full-page screenshot is only the viewport).
            page = browser.new_page(viewport={"width": 1400, "height": 5200})
            page.set_default_timeout(30_000)
            # When its results page is opened and the Diagnostics tab chosen
            page.goto(f"{ui_url}/results?run={run['id']}")
            expect(page.get_by_text("NUTS: 94% highest-density intervals")).to_be_visible(
                timeout=60_000
            )
            tab = page.get_by_role("tab", name="Diagnostics")
            expect(tab).to_be_visible()
            tab.click()
            # Then the verdict, the trace plots and the rank plots are drawn
            first_words = verdict["text"].split(":")[0].split(".")[0]
            expect(page.get_by_text(first_words).first).to_be_visible()
            expect(page.get_by_text("Trace plots", exact=True)).to_be_visible()
            expect(page.get_by_text("Rank plots", exact=True)).to_be_visible()
            expect(page.get_by_text("Energy plot", exact=True)).to_be_visible()
            charts_drawn = page.locator('[data-testid="stVegaLiteChart"]:visible')
            expect(charts_drawn.nth(2)).to_be_visible()
            expect(
                page.locator(
                    '[data-testid="stVegaLiteChart"]:visible canvas, '
                    '[data-testid="stVegaLiteChart"]:visible svg'
                ).first
            ).to_be_visible()
            page.get_by_text("Trace plots", exact=True).scroll_into_view_if_needed()
            page.wait_for_timeout(2500)
            page.screenshot(path=str(SHOTS / "20_nuts_trace.png"), full_page=True)
            page.get_by_text("Rank plots", exact=True).scroll_into_view_if_needed()
            expect(page.get_by_text("every chain's bars stay near the dashed line")).to_be_visible()
            page.wait_for_timeout(2500)
            # And the energy plot (the third chart) is drawn at its own size, not squeezed to a
            # strip: a 240 px plotting area with its legend and axes.
            energy = charts_drawn.nth(2).bounding_box()
            assert energy is not None and energy["height"] >= 240, energy
            page.screenshot(path=str(SHOTS / "21_nuts_rank_energy.png"), full_page=True)
        finally:
            browser.close()
