"""The app hosted alone installs only ui/requirements.txt: it must cover what ui/ imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"
# Import name -> distribution name where they differ; numpy comes with pandas.
DISTRIBUTIONS = {
    "vl_convert": "vl-convert-python",
    "numpy": "pandas",
    "pyarrow": "pyarrow",
    "market_structure_client": "./clients/python",  # this repository's client package
}


def imported_modules() -> set[str]:
    names: set[str] = set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"ui", "__future__"}}


def test_requirements_cover_every_third_party_import() -> None:
    lines = (UI / "requirements.txt").read_text().splitlines()
    required = {
        re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower()
        for line in lines
        if line and not line.startswith("#")
    }
    missing = {m for m in imported_modules() if DISTRIBUTIONS.get(m, m).lower() not in required}
    assert not missing, f"add to ui/requirements.txt: {sorted(missing)}"
    assert not {"backend", "workers"} & imported_modules()
