"""A file as the answer of a route: its bytes, media type and the name it is saved under."""

from __future__ import annotations

from typing import Any

from fastapi import Response


def download(content: Any, media_type: str, filename: str, *, inline: bool = False) -> Response:
    """`content` with a Content-Disposition naming `filename`: an attachment to save, or
    `inline` to show in the browser."""
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )
