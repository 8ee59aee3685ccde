"""Read an upload in chunks and stop at the size limit, so an oversized file is refused early."""

from __future__ import annotations

from fastapi import UploadFile

from backend.errors import PayloadTooLarge
from backend.settings import get_settings

CHUNK = 1 << 20


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {limit / 2**20:.0f} MB (MAX_UPLOAD_MB); "
        "split the file or ask the operator to raise the limit."
    )


async def read_limited(file: UploadFile) -> bytes:
    limit = get_settings().max_upload_bytes
    chunks: list[bytes] = []
    size = 0
    while chunk := await file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
