"""What a boss and a REST client get from a finished run: the names people gave the units in
/results, /assignments and the ZIP; the executive report (title, plain words, formatted numbers,
no internal field names in its body, print CSS for A4 and Letter), its PDF, and the PowerPoint
deck with native charts, for every family.

Runs hold each family's real stored result (tests/ui/fixtures), so no fit is waited for."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from typing import Any

import httpx
import pandas as pd
import pytest

from backend.families import FamilySpec, families
from tests.support.stored import stored_run

API = "/api/v1"
NAMES = {"Class 1": "Busy families", "Class 3": "Health seekers"}
# Names results and tables use inside, which a boss must never read in the report's body.
INTERNAL = (
    "loglik", "npar", "n_patterns", "bvr_truncated", "layout=", "smallest_class_share",
    "n_init", "n_obs", "item_probabilities", "Class 1", "class_sizes", "avg_posterior",
)  # fmt: skip


def named_run(app_client: httpx.Client, model_type: str = "lca", name: str = "Q3 shoppers") -> str:
    run_id = stored_run(model_type, name=name)
    if model_type.startswith("lca"):
        answer = app_client.patch(f"{API}/runs/{run_id}", json={"labels": NAMES})
        assert answer.status_code == 200, answer.text
    return run_id


def body_of(page: str) -> str:
    """The report's main body as text: before the technical appendix, without tags, styles or
    scripts."""
    main = page.split('class="appendix-start"', 1)[0]
    main = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r"<svg.*?</svg>", " ", main, flags=re.S)  # chart internals
    return re.sub(r"<[^>]+>", " ", main)


def test_a_rest_client_sees_the_names_in_results_assignments_and_the_zip(
    app_client: httpx.Client,
) -> None:
    # Given a finished segmentation named by a REST client
    run_id = named_run(app_client)
    # Then /results carries the labels and every unit with its name and colour
    results = app_client.get(f"{API}/runs/{run_id}/results").json()
    assert results["labels"] == NAMES
    assert [u["name"] for u in results["units"]] == ["Busy families", "Segment 2", "Health seekers"]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", u["color"]) for u in results["units"])
    assert results["class_sizes"]  # the stored result itself is unchanged
    # and /assignments names each household's segment beside its number, as CSV and Parquet
    csv = pd.read_csv(io.StringIO(app_client.get(f"{API}/runs/{run_id}/assignments").text))
    assert list(csv.columns[-2:]) == ["modal_class", "modal_class_name"]
    by_number = {1: "Busy families", 2: "Segment 2", 3: "Health seekers"}
    assert (csv["modal_class"].map(by_number) == csv["modal_class_name"]).all()
    parquet = pd.read_parquet(
        io.BytesIO(
            app_client.get(f"{API}/runs/{run_id}/assignments", params={"format": "parquet"}).content
        )
    )
    assert set(parquet["modal_class_name"]) <= set(by_number.values())
    # and the ZIP's results.json is what /results answers, names included
    archive = zipfile.ZipFile(io.BytesIO(app_client.get(f"{API}/runs/{run_id}/export").content))
    assert json.loads(archive.read("results.json"))["labels"] == NAMES


def test_the_report_reads_as_a_deliverable(app_client: httpx.Client) -> None:
    # Given a named segmentation
    run_id = named_run(app_client)
    page = app_client.get(f"{API}/runs/{run_id}/report").text
    body = body_of(page)
    # Then its title is the run's name, with the data and the method in sentences
    assert "<h1>Q3 shoppers</h1>" in page and "<title>Q3 shoppers</title>" in page
    assert "The data: whether each of 800 households bought each of 12 products" in body
    assert "Method: latent class segments." in body and "Key findings" in body
    # and one section per segment under its name, with its share as a percentage
    for name in ("Busy families", "Segment 2", "Health seekers"):
        assert f"<h3>{name}</h3>" in page
    assert re.search(r"Busy families is \d{1,2}% of households", body)
    assert re.search(r"index \d{2,3}\)", body)  # whole-number indexes
    # and no internal field name, no raw share (0.277) or index (63.300) in its body
    for word in INTERNAL:
        assert word not in body, word
    assert not re.search(r"\b0\.\d{3,}", body) and not re.search(r"\d+\.\d{3}\b", body)
    # and the maps and charts are inline SVG (readable offline and in print)
    assert page.count("<svg") >= 4 and "<script src" not in page
    assert "Segments and products on one map" in body and "Product map" in body
    # and the technical tables are in an appendix under names for people
    appendix = page.split('class="appendix-start"', 1)[1]
    assert "Log-likelihood" in appendix and "Random starts" in appendix
    assert "<th>loglik</th>" not in appendix and '"n_init"' not in appendix
    # and it prints on A4, or on Letter when asked
    assert "size: A4" in page and "break-before: page" in page
    letter = app_client.get(f"{API}/runs/{run_id}/report", params={"paper": "letter"}).text
    assert "size: Letter" in letter


@pytest.mark.skipif(shutil.which("/usr/bin/chromium") is None, reason="needs Chromium")
def test_the_report_comes_as_pdf(app_client: httpx.Client) -> None:
    run_id = named_run(app_client)
    pdf = app_client.get(f"{API}/runs/{run_id}/report", params={"format": "pdf"})
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    assert len(pdf.content) > 20_000  # charts and text, not an empty page
    assert re.search(rb"/Count (\d+)", pdf.content)


def slides_of(app_client: httpx.Client, run_id: str) -> Any:
    from pptx import Presentation

    answer = app_client.get(f"{API}/runs/{run_id}/export", params={"format": "pptx"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].endswith("presentationml.presentation")
    return Presentation(io.BytesIO(answer.content))


def texts(slide: Any) -> str:
    return " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def title(slide: Any) -> str:
    return next(s.text_frame.text for s in slide.shapes if s.has_text_frame)


def test_the_powerpoint_has_native_charts_a_slide_per_segment_and_the_method(
    app_client: httpx.Client,
) -> None:
    from pptx.enum.chart import XL_CHART_TYPE

    run_id = named_run(app_client)
    deck = slides_of(app_client, run_id)
    titles = [title(s) for s in deck.slides]
    assert titles[0].startswith("Q3 shoppers")
    assert {"Key findings", "Segment sizes", "Segments and products on one map", "Product map",
            "How this was done"} <= set(titles)  # fmt: skip
    charts = {title(s): sh.chart for s in deck.slides for sh in s.shapes if sh.has_chart}
    # native charts whose data carry the names
    sizes = charts["Segment sizes"]
    assert sizes.chart_type == XL_CHART_TYPE.BAR_CLUSTERED
    assert list(sizes.plots[0].categories) == ["Busy families", "Segment 2", "Health seekers"]
    index = next(c for t, c in charts.items() if t.startswith("Index vs the average"))
    assert [s.name for s in index.series] == ["Busy families", "Segment 2", "Health seekers"]
    assert charts["Segments and products on one map"].chart_type == XL_CHART_TYPE.XY_SCATTER
    # one colour per segment: the size bars and the index series agree
    size_colors = [str(p.format.fill.fore_color.rgb) for p in
                   [sizes.plots[0].series[0].points[k] for k in range(3)]]  # fmt: skip
    assert size_colors == [str(s.format.fill.fore_color.rgb) for s in index.series]
    # one slide per segment with its summary
    for name in ("Busy families", "Segment 2", "Health seekers"):
        own = [s for s in deck.slides if title(s) == name]
        assert own and f"{name} is " in texts(own[0]) and "likely to buy" in texts(own[0])


@pytest.mark.parametrize("spec", list(families().values()), ids=lambda s: s.model_type)
def test_every_family_gets_a_deck(app_client: httpx.Client, spec: FamilySpec) -> None:
    deck = slides_of(app_client, stored_run(spec.model_type))
    assert len(deck.slides) >= 4
    assert any(sh.has_chart for s in deck.slides for sh in s.shapes)
    assert title(deck.slides[-1]) == "How this was done"


def test_a_map_report_draws_its_map_once_and_leaves_wide_tables_to_the_zip(
    app_client: httpx.Client,
) -> None:
    page = app_client.get(f"{API}/runs/{stored_run('mca')}/report").text
    body = page.split('class="appendix-start"', 1)[0]
    assert body.count("<h2>Product map</h2>") == 1
    # the categories table (a dozen columns) made Chromium shrink every printed page
    assert "Too wide to print here, in the ZIP export: Categories." in page
