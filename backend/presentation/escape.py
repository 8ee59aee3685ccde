"""User text (names of runs, units, products, columns; descriptions) escaped for where it lands
in what the server builds: one helper per target.

- `html_text`: text or an attribute value in HTML (the report's headings, chips, metadata).
- `script_json`: a value written as JSON inside a `<script>` element (the report's Vega specs).
  Escaping `</` alone is not enough: in a script element `<!--` followed by `<script` makes the
  HTML parser swallow the closing `</script>`, and the rest of the page is lost. So `<`, `>`
  and `&` never appear raw; nor do U+2028/U+2029 (line ends to older JavaScript).

Tables in the report go through pandas' `to_html`, which escapes cells and headers itself.
"""

from __future__ import annotations

import html
import json
from typing import Any

_SCRIPT_SAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def html_text(value: object) -> str:
    """`value` as HTML text, safe in an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """`value` as JSON to place inside `<script>`: it parses to the same value, and no character
    of it can end the element or change how the HTML parser reads it. (`<`, `>` and `&` only
    occur inside JSON strings, where `\\u003c` and friends are the same characters.)"""
    return json.dumps(value).translate(_SCRIPT_SAFE)
