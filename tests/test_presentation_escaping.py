"""User text in the HTML report (issue 12, item 10): product, segment and run names that look
like markup (`<!--<script>`, `</script>`, Markdown, TeX) leave every chart drawable and show as
the text they are.

The report is read as a browser reads it: `script_end` follows the HTML tokenizer's states
for a script element (WHATWG HTML, "script data" and its escaped and double-escaped states),
so a `<!--<script>` that swallows the closing tag is caught the way Chromium would meet it."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd

from backend.families import family
from backend.presentation.charts import ChartView
from backend.presentation.escape import html_text, script_json
from backend.presentation.names import units
from backend.presentation.report import html_report
from backend.presentation.tables import result_tables
from tests.ui.fixtures import result, rows

HOSTILE = [
    "<!--<script>",
    "</script><script>alert(1)</script>",
    "![x](http://attacker.example/x.png)",
    ":red[fake error]",
    "**bold** & $x$",
    "line\u2028separator\u2029end",
]
OPEN = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
TAG_END = re.compile(r"[\s/>]")


def script_end(page: str, start: int) -> int:
    """Where the script element whose content starts at `start` ends (the index of its
    `</script`), as the HTML tokenizer finds it; -1 if it never ends."""
    state, i, low = "data", start, page.lower()
    while i < len(page):
        if state == "data":
            if low.startswith("<!--", i):
                state, i = "escaped", i + 4
                continue
        elif low.startswith("-->", i):
            state, i = "data", i + 3
            continue
        elif state == "escaped" and low.startswith("<script", i) and TAG_END.match(low, i + 7):
            state, i = "double", i + 7
            continue
        elif state == "double" and low.startswith("</script", i) and TAG_END.match(low, i + 8):
            state, i = "escaped", i + 8
            continue
        if state != "double" and low.startswith("</script", i) and TAG_END.match(low, i + 8):
            return i
        i += 1
    return -1


def scripts(page: str) -> list[str]:
    """The text of every script element, in order."""
    found, at = [], 0
    while (match := OPEN.search(page, at)) is not None:
        end = script_end(page, match.end())
        assert end >= 0, "a script element never ends: the rest of the page is lost"
        found.append(page[match.end() : end])
        at = end
    return found


class Text(HTMLParser):
    """The text of the page outside scripts and styles, as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def hostile_report() -> tuple[str, dict[str, str]]:
    """The report of a stored segmentation whose products, segments and run are named with
    `HOSTILE` (the products renamed throughout the stored result)."""
    spec = family("lca")
    stored = result("lca")
    renamed = dict(zip(stored["products"][: len(HOSTILE)], HOSTILE, strict=True))
    text = json.dumps(stored)
    for old, new in renamed.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    res = json.loads(text)
    labels = {"Class 1": HOSTILE[0], "Class 2": HOSTILE[1], "Class 3": HOSTILE[3]}
    household_rows = rows("lca")
    view = ChartView(
        spec, res, units(spec, res, labels), load_rows=lambda: household_rows, has_rows=True
    )
    run = {
        "id": "r1",
        "name": HOSTILE[0] + " " + HOSTILE[2],
        "product_columns": res["products"],
        "created_at": "2026-01-01T00:00:00",
    }
    return html_report(run, view, result_tables("lca", res, labels)), labels


def test_hostile_names_leave_every_chart_of_the_report_drawable() -> None:
    # Given a report whose products, segments and run carry markup-looking names
    page, labels = hostile_report()
    # When the browser splits it into script elements
    found = scripts(page)
    # Then there are exactly the Vega bundle and the specs, and the page goes on after them
    assert len(found) == 2
    assert page[page.rindex("</script>") :].strip() == "</script>\n</body></html>"
    body = found[1].strip()
    assert body.startswith("const specs = ")
    written = body[len("const specs = ") : body.index(";\n")]
    for forbidden in ("<", ">", "&", "\u2028", "\u2029"):
        assert forbidden not in written
    # and every spec is valid JSON whose data holds each name exactly as given
    specs = json.loads(written)
    assert specs and all(isinstance(s, dict) and "$schema" in s for s in specs)
    data = json.dumps([s.get("datasets") for s in specs], ensure_ascii=False)
    for name in [*HOSTILE, *labels.values()]:
        assert json.dumps(name, ensure_ascii=False)[1:-1] in data, name


def test_hostile_names_read_as_text_in_the_report() -> None:
    page, labels = hostile_report()
    reader = Text()
    reader.feed(page)
    text = "".join(reader.parts)
    # The run's name, the segment chips and the tables show the names literally
    assert f"{HOSTILE[0]} {HOSTILE[2]}" in text
    for name in labels.values():
        assert name in text
    assert "<!--" not in page.split("<script", 1)[0]  # no comment opened before the scripts
    # and no element was made from them outside the escaped text
    assert "<script>alert(1)" not in page


def test_the_helpers_round_trip() -> None:
    value = {"name": "</script><!--<script>&\u2028", "n": [1, 2.5, None]}
    assert json.loads(script_json(value)) == value
    assert not set(script_json(value)) & set("<>&\u2028\u2029")
    assert html.unescape(html_text('<a href="x">&\'')) == '<a href="x">&\''
    assert not set(html_text('<a href="x">&\'')) & set("<>\"'")
    frame = pd.DataFrame({"<b>": ["</script>"]})
    assert "&lt;/script&gt;" in frame.to_html(escape=True)
