"""Names people type (runs, segments, datasets, products) show literally on the app's pages
(issue 12, item 10): Markdown in a run name rendered on the Runs page, so an image link made
every viewer's browser fetch a URL of the uploader's choice and `:red[…]` painted fake errors.

Streamlit renders Markdown in the browser; AppTest sees the Markdown the page sends. The checks
read that Markdown with a CommonMark parser (markdown-it, as Streamlit's react-markdown does)
and look for Streamlit's own syntax (`:red[…]`, `$…$`, `:material/…:`) unescaped."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.support.data import simulate_lca
from tests.support.runs import submit_lca, upload, wait_for
from tests.ui.test_app import app
from ui.formatting import escape_markdown

HOSTILE = [
    "<!--<script>",
    "</script>",
    "![x](http://attacker.example/x.png)",
    ":red[fake error]",
    "**bold**",
    "$x$",
]
NAME = " ".join(HOSTILE)
# Streamlit's own inline syntax: coloured text and backgrounds, TeX, icons.
STREAMLIT_SYNTAX = re.compile(
    r"(?<!\\)(:(?:red|orange|yellow|green|blue|violet|gray|grey|rainbow|primary)(?:-background)?"
    r"(?<!\\)\[|\$|:material/)"
)
PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])


def read(markdown: str) -> tuple[str, set[str]]:
    """What a browser shows of `markdown`: its text, and the kinds of element it makes."""
    text, kinds = [], set()
    for block in PARSER.parse(markdown):
        kinds.add(block.type)
        for token in block.children or []:
            kinds.add(token.type)
            if token.type in ("text", "code_inline", "image"):
                text.append(token.content)
    return "".join(text).replace("\u2060", ""), kinds


def assert_literal(markdown: str, expected: str) -> None:
    text, kinds = read(markdown)
    assert expected in text, (markdown, text)
    assert not kinds & {"image", "link_open", "html_inline", "html_block", "code_inline"}, kinds
    assert not STREAMLIT_SYNTAX.search(markdown), markdown
    # GitHub Markdown links bare addresses in the text it reads: none is left whole
    shown = markdown.replace("\\", "")
    assert not re.search(r"(?i)https?://|www\.|@\w", shown), markdown


@pytest.mark.parametrize(
    "text",
    [
        *HOSTILE,
        NAME,
        ":material/warning: done",
        "see https://attacker.example/x or www.attacker.example, bob@attacker.example",
        "1. not a list",
        "# not a heading",
        "> not a quote",
        "a_b_c *x* `c` ~~s~~ | t |",
        "Busy families",
    ],
)
def test_escaped_text_reads_as_itself(text: str) -> None:
    assert_literal(escape_markdown(text), text)
    assert_literal(f"**{escape_markdown(text)}**", text)


def test_plain_names_are_left_alone() -> None:
    assert escape_markdown("Busy families 2") == "Busy families 2"
    assert escape_markdown("two\nlines") == "two lines"


def texts_of(at: AppTest) -> list[str]:
    kinds = ("title", "subheader", "markdown", "caption", "info", "error", "warning", "success")
    return [str(e.value) for kind in kinds for e in getattr(at, kind)]


def containing(at: AppTest, needle: str) -> list[str]:
    return [t for t in texts_of(at) if needle in read(t)[0]]


@pytest.fixture
def hostile_run(
    monkeypatch: pytest.MonkeyPatch, live_stack: str, client: httpx.Client
) -> dict[str, Any]:
    """A finished segmentation named NAME, its segments named with markup-looking names; the
    app pointed at the API that holds it."""
    monkeypatch.setenv("API_URL", live_stack)
    monkeypatch.delenv("API_TOKEN", raising=False)
    dataset = upload(client, simulate_lca(n=200).csv(), name=NAME).json()
    run = wait_for(client, submit_lca(client, dataset["id"], name=NAME, n_init=1)["id"])
    assert run["status"] == "completed", run
    labels = {"Class 1": ":red[fake error]", "Class 2": "![x](http://attacker.example/x.png)"}
    patched = client.patch(f"/runs/{run['id']}", json={"labels": labels})
    assert patched.status_code == 200, patched.text
    return patched.json()


def test_runs_and_results_pages_show_names_literally(hostile_run: dict[str, Any]) -> None:
    # When the person opens the Runs page
    at = app().run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    # Then the run's name is there as text: no image, link, colour or formula made of it
    shown = containing(at, NAME)
    assert shown, texts_of(at)
    for markdown in shown:
        assert_literal(markdown, NAME)
    # and the dataset's name in the run's caption too
    assert any("products · created" in t for t in containing(at, NAME))

    # When the run is opened on the Results page
    at.session_state["run_id"] = hostile_run["id"]
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    # Then its heading is the name, literally
    assert read(at.subheader[0].value)[0] == NAME
    assert_literal(at.subheader[0].value, NAME)
    for markdown in texts_of(at):
        text, kinds = read(markdown)
        assert "image" not in kinds, markdown
        if any(piece in text for piece in HOSTILE):
            assert_literal(markdown, next(p for p in HOSTILE if p in text))

    # When the Exports page lists the segments' names
    at.switch_page("views/exports.py").run()
    assert not at.exception, at.exception
    (named,) = [t for t in texts_of(at) if "Named:" in t]
    assert_literal(
        named.split("Named: ", 1)[1], ":red[fake error], ![x](http://attacker.example/x.png)"
    )
