"""Upload size limits, enforced while the body streams in, before anything parses it.

Starlette's multipart parser spools a whole upload to a temporary file before the route runs,
so a limit checked in the route comes too late. `BodyLimit` counts the body's bytes as the
server hands them over and answers 413 as soon as the count passes the limit: a lying or
missing Content-Length (chunked transfer) changes nothing. `spooled_upload` still checks the
file itself inside the route.
"""

from __future__ import annotations

from typing import BinaryIO

from fastapi import UploadFile
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from backend.errors import PayloadTooLarge, error_content
from backend.json_limits import JsonMeter
from backend.middleware import HTTPMiddleware
from backend.settings import get_settings

# Multipart framing (boundaries, part headers, form fields) on top of the file itself.
FRAMING = 64 * 1024


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {limit / 2**20:.3g} MB (MAX_UPLOAD_MB); "
        "split the file or ask the operator to raise the limit."
    )


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit. An HTTPException, so FastAPI's
    body parsing lets it through (it wraps other errors in a 400) to the error handler."""

    title = PayloadTooLarge.title

    def __init__(self, limit: int) -> None:
        # Connection: close makes the server drop the rest of the body instead of draining it.
        super().__init__(413, too_large(limit).message, headers={"Connection": "close"})


def body_limit(headers: Headers) -> int:
    """Largest body accepted: the upload limit, plus framing, or plus base64's third for JSON
    bodies that carry a file inline (`data.csv_base64`)."""
    limit = get_settings().max_upload_bytes
    if headers.get("content-type", "").startswith("multipart/"):
        return limit + FRAMING
    return limit * 4 // 3 + FRAMING


class BodyLimit(HTTPMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        limit = body_limit(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Refused on the declared length alone: not one byte of the body is read.
            exc = BodyTooLarge(get_settings().max_upload_bytes)
            response = JSONResponse(error_content(exc.title, exc.detail), 413, headers=exc.headers)
            await response(scope, receive, send)
            return
        received = 0
        meter = JsonMeter.for_request(headers)  # other bodies than uploads, by kind

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(get_settings().max_upload_bytes)
                if meter is not None:
                    meter.feed(message.get("body", b""))
            return message

        await self.app(scope, counting_receive, send)


def spooled_upload(file: UploadFile) -> BinaryIO:
    """The uploaded file as Starlette spooled it (memory, then a temporary file), checked
    against the limit and rewound: parsers stream from it instead of one joined copy."""
    limit = get_settings().max_upload_bytes
    source = file.file
    source.seek(0, 2)
    if source.tell() > limit:
        raise too_large(limit)
    source.seek(0)
    return source
