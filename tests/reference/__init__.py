"""Scripts that made the reference files in tests/expected/ (and the simulators they read).
Each runs from the repository's root as a module: `.venv/bin/python -m tests.reference.<name>`."""

from pathlib import Path

# Where the reference files live.
EXPECTED = Path(__file__).resolve().parent.parent / "expected"
