"""The report as PDF: the HTML report printed by headless Chromium in a subprocess (no browser
library in the API process; one print at a time, bounded by a timeout). Chromium honours the
report's @page rule, so the paper (A4 or Letter) is chosen in the HTML."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from backend.errors import AppError

log = logging.getLogger(__name__)
_ONE_AT_A_TIME = threading.Lock()


class PdfUnavailable(AppError, status_code=503, title="PDF unavailable"):
    """The PDF cannot be made here (no Chromium, or it failed); the HTML report still can."""


def html_to_pdf(html: str, *, chromium: str, timeout: float) -> bytes:
    """`html` printed to PDF. Scripts run for a few (virtual) seconds first, so the report's
    interactive charts have drawn, though print hides them."""
    binary = shutil.which(chromium) or (chromium if Path(chromium).exists() else None)
    if binary is None:
        raise PdfUnavailable(
            f"The PDF is printed by Chromium, which is not installed here ({chromium}); set "
            "CHROMIUM_PATH, or download the HTML report and print it from a browser."
        )
    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="ms-report-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=5000",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfUnavailable(
                f"Printing the report to PDF took longer than {timeout:.0f} s; try again, or "
                "download the HTML report and print it from a browser."
            ) from exc
        if not out.exists() or out.stat().st_size == 0:
            log.error("chromium printed no PDF (exit %s): %s", done.returncode, done.stderr[-2000:])
            raise PdfUnavailable(
                "Chromium could not print the report to PDF; the HTML report has the same content."
            )
        return out.read_bytes()
