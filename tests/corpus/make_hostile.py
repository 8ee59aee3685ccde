"""Write the hostile upload corpus (tests/corpus/hostile/): `python tests/corpus/make_hostile.py`.

Every file is built by tests/support/hostile.py, which also says what must happen to it;
tests/test_hostile_uploads.py checks the committed files are what the builders make.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.hostile import CASES

HERE = Path(__file__).parent / "hostile"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    names = {case.filename for case in CASES}
    for stale in HERE.iterdir():
        if stale.name not in names:
            stale.unlink()
    for case in CASES:
        (HERE / case.filename).write_bytes(case.build())


if __name__ == "__main__":
    main()
