"""Done for issue 16, in a real headless Chromium: the demo data → a sweep of segment numbers →
the segments named → the report, its PDF and the PowerPoint downloaded from the Exports page →
the report opened in Chromium (the names there, no internal field names in its body, numbers
formatted for people) → the deck parsed, and rendered by LibreOffice to pictures. Screenshots of
each step, of the report and of the slides go to build/ui-screenshots (or UI_SCREENSHOT_DIR).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.test_report_exports import INTERNAL, body_of
from tests.ui.test_browser import SHOTS, chromium_page, require_chromium, ui_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["ui_url"]  # the fixture, shared with the other browser test

NAMES = ["Busy families", "Health seekers", "Snackers", "Traditional", "Foodies", "Sixth"]


def render_slides(deck: Path, out: Path) -> list[Path]:
    """The deck as one PNG per slide (LibreOffice to PDF, Ghostscript to PNG); [] without
    them."""
    soffice, gs = shutil.which("soffice"), shutil.which("gs")
    if not (soffice and gs):
        return []
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(out),
                    str(deck)], check=True, capture_output=True, timeout=180)  # fmt: skip
    pdf = out / (deck.stem + ".pdf")
    pages = f"-sOutputFile={out}/slide_%02d.png"
    subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=png16m", "-r60", pages,
                    str(pdf)], check=True, timeout=180)  # fmt: skip
    return sorted(out.glob("slide_*.png"))


def test_sweep_named_segments_report_pdf_and_slides(ui_url: str, client: httpx.Client) -> None:
    require_chromium()
    from playwright.sync_api import expect
    from pptx import Presentation
    from pptx.enum.chart import XL_CHART_TYPE

    shots = SHOTS / "deliverable"
    shots.mkdir(parents=True, exist_ok=True)
    with chromium_page(1800) as page:

        def shot(name: str, settle: int = 700) -> None:
            page.wait_for_timeout(settle)
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # Given the demo data, saved, and a sweep of the number of segments
        page.goto(ui_url)
        page.get_by_role("radio", name="Demo data").click()
        page.get_by_role("button", name="Use the demo data").click()
        page.get_by_role("button", name="Save as dataset").click()
        page.get_by_role("button", name="Next: set up an analysis").click()
        page.get_by_text("Compare several numbers of segments").click()
        shot("01_sweep_form")
        page.get_by_role("button", name="Start analysis").click()
        # When it is done, the comparison and the recommended segments are shown
        expect(page.get_by_text("numbers of segments.")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Segment sizes")).to_be_visible()
        # and the run picker says the run is done (it kept saying "Running" or "Waiting")
        picker = page.get_by_role("combobox", name="Run")
        for _ in range(60):  # its value shows in the accessibility tree, not as text
            if "· Done" in picker.aria_snapshot():
                break
            page.wait_for_timeout(500)
        assert "· Done" in picker.aria_snapshot(), picker.aria_snapshot()
        expect(page.get_by_role("button", name="Cancel this run")).to_have_count(0)
        shot("02_sweep_results", settle=2000)
        # When the person names the segments
        boxes = page.get_by_role("textbox", name=re.compile(r"^Segment \d+$"))
        count = boxes.count()
        assert count >= 2
        for k in range(count):
            boxes.nth(k).fill(NAMES[k])
        page.get_by_role("button", name="Save names").click()
        expect(page.get_by_text(NAMES[0]).first).to_be_visible()
        shot("03_named")

        # Then the Exports page gives the report, its PDF and the PowerPoint
        page.get_by_role("button", name="All exports and report").click()
        expect(page.get_by_role("heading", name="Exports")).to_be_visible()
        shot("04_exports")
        files = {}
        for label, suffix in (("Download report", "html"), ("Download PDF", "pdf"),
                              ("Download PowerPoint", "pptx")):  # fmt: skip
            with page.expect_download(timeout=180_000) as download:
                page.get_by_role("button", name=label).click()
            target = shots / f"deliverable.{suffix}"
            download.value.save_as(str(target))
            files[suffix] = target
        assert files["pdf"].read_bytes()[:5] == b"%PDF-"

        # When the report is opened in Chromium
        html = files["html"].read_text(encoding="utf-8")
        page.goto(files["html"].as_uri())
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.screenshot(path=str(shots / "05_report_top.png"))
        # Then it names the segments, uses no internal field names in its body, and shows
        # numbers as people write them
        body = body_of(html)
        for name in NAMES[:count]:
            expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        for word in INTERNAL:
            assert word not in body, word
        assert re.search(r"\d{1,2}% of households", body)
        assert re.search(r"index \d{2,3}\)", body)
        assert not re.search(r"\b0\.\d{3,}", body)
        page.get_by_role("heading", name=NAMES[0], exact=True).scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "06_report_segment.png"))
        page.emulate_media(media="print")
        page.screenshot(path=str(shots / "07_report_print.png"), full_page=True)

    # And the deck opens with python-pptx: native charts, the names, a slide per segment
    deck = Presentation(io.BytesIO(files["pptx"].read_bytes()))
    charts = [sh.chart for s in deck.slides for sh in s.shapes if sh.has_chart]
    assert {XL_CHART_TYPE.BAR_CLUSTERED, XL_CHART_TYPE.XY_SCATTER} <= {c.chart_type for c in charts}
    said = " ".join(sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame)
    for name in NAMES[:count]:
        assert said.count(name) >= 2, name  # its own slide and the findings or charts
    pictures = render_slides(files["pptx"], shots / "slides")
    if shutil.which("soffice"):
        assert len(pictures) == len(deck.slides)
    print(f"screenshots: {shots}")
