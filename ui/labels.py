"""Names people give to segments, factors and components, kept by the UI.

The API has no place for them yet, so they live in one small JSON file
(`UI_STATE_DIR`/labels.json, default `~/.market-structure/labels.json`), keyed by API address
and run id: `{"<api>|<run_id>": {"Class 1": "Busy families", ...}}`. Every chart and export the
UI produces reads them through `ui.families.display_names`. Writes replace the file atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

_LOCK = threading.Lock()


def store_path() -> Path:
    base = os.environ.get("UI_STATE_DIR") or str(Path.home() / ".market-structure")
    return Path(base) / "labels.json"


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(api: str, run_id: str) -> str:
    return f"{api.rstrip('/')}|{run_id}"


def load(api: str, run_id: str, path: Path | None = None) -> dict[str, str]:
    entry = _read(path or store_path()).get(_key(api, run_id), {})
    return {str(k): str(v) for k, v in entry.items() if str(v).strip()}


def save(api: str, run_id: str, labels: dict[str, str], path: Path | None = None) -> None:
    """Replace the run's labels (empty ones are dropped; no labels removes the entry)."""
    target = path or store_path()
    clean = {str(k): str(v).strip() for k, v in labels.items() if str(v).strip()}
    with _LOCK:
        data = _read(target)
        if clean:
            data[_key(api, run_id)] = clean
        else:
            data.pop(_key(api, run_id), None)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".labels-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, ensure_ascii=False)
        os.replace(tmp, target)
