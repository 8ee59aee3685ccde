"""JSON request bodies bounded by kind, counted as they stream in, before anything parses them.

A JSON body's own text may be at most MAX_JSON_KB and nest at most MAX_JSON_DEPTH objects or
lists; the one big thing a JSON body may carry, the inline file of `POST /runs` (the string
`data.csv_base64`), is counted against the upload limit instead (MAX_UPLOAD_MB, plus base64's
third and room for line breaks). Parsed, a JSON list costs tens of bytes of memory per byte of
text (a 250 MB list of column names is gigabytes of Python objects) and a string one, so the
text around the inline file is what must stay small.

`JsonMeter` reads the bytes `backend/uploads.py`'s `BodyLimit` hands over. It tokenises the
text outside the inline file (strings, brackets, colons and commas: enough to know the depth and
the key path) and skips the inline string with `bytes.find`; it never builds a value, so a
refused body costs at most MAX_JSON_KB of buffer. Base64 text needs no escapes but line breaks
(`\\n`, `\\r`) and `\\/`, so an escaped quote or backslash inside the inline string is refused
at once (and the string's end is always its first unescaped quote).
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from backend.errors import AppError, InvalidInput, PayloadTooLarge
from backend.settings import get_settings

# Deepest nesting of objects and lists (a run request needs 4: the body, params,
# product_features, one record).
MAX_JSON_DEPTH = 32
# Where the inline file is: the body's "data" object, its "csv_base64" member.
INLINE_PATH = (b"data", b"csv_base64")
# Base64 as JSON text: 4 characters per 3 bytes, and a line break (an escaped "\r\n", 4
# characters) every 76 characters, as the `base64` command wraps it.
INLINE_SLACK = 4 / 3 * 80 / 76
# Text is tokenised at most this much at a time (one ASGI message may hold the whole body).
WINDOW = 64 * 1024

_TOKEN = re.compile(
    rb'\s*+(?:("[^"\\]*+(?:\\.[^"\\]*+)*+")|([{\[])|([}\]])|(:)|(,)|([^\s"{}\[\]:,]++))', re.S
)
_KEY_MAX = 32  # longer keys are never on the inline path: not kept
_BACKSLASH = 0x5C


class BodyRefused(HTTPException):
    """Raised from `receive`. An HTTPException, so FastAPI's body parsing lets it through to the
    error handler (it turns other errors into a 400)."""

    def __init__(self, error: AppError) -> None:
        # Connection: close makes the server drop the rest of the body instead of draining it.
        super().__init__(error.status_code, error.message, headers={"Connection": "close"})
        self.title = error.title


def inline_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"data.csv_base64 is larger than the upload limit of {limit / 2**20:.3g} MB "
        "(MAX_UPLOAD_MB); upload the file to /datasets and submit its dataset_id."
    )


def json_too_large(limit: int, *, json: bool = True) -> PayloadTooLarge:
    if not json:
        return PayloadTooLarge(
            f"The body is larger than {limit / 1024:.4g} kB (MAX_JSON_KB); files are uploaded "
            "as multipart/form-data to /datasets."
        )
    return PayloadTooLarge(
        f"The JSON body is larger than {limit / 1024:.4g} kB (MAX_JSON_KB), not counting an "
        "inline file (data.csv_base64); send fewer or shorter values (lists of columns hold at "
        "most MAX_COLUMNS names), or upload large data to /datasets."
    )


def too_deep() -> InvalidInput:
    return InvalidInput(
        f"The JSON body nests objects or lists more than {MAX_JSON_DEPTH} levels deep "
        "(MAX_JSON_DEPTH); parameters are numbers, text, or short lists and records of them."
    )


def is_json(headers: Headers) -> bool:
    """What FastAPI parses as JSON: no content type, application/json or application/*+json."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return not kind or kind == "application/json" or kind.endswith("+json")


class JsonMeter:
    """Counts a JSON body's text and its inline file apart, chunk by chunk, and raises
    `BodyRefused` as soon as one passes its limit or the text nests too deep. A body of another
    kind (not multipart, not JSON) is only counted against MAX_JSON_KB (`parse=False`)."""

    def __init__(self, max_text: int, max_inline: int, *, parse: bool = True) -> None:
        self.max_text, self.max_inline, self.parse = max_text, max_inline, parse
        self.text = 0  # bytes of JSON text outside the inline file
        self.inline = 0  # bytes of the inline file's JSON string
        self.pending = b""  # text not tokenised yet: an unfinished string
        self.in_inline = False
        self.escape_pending = False  # the inline string's last byte so far is a backslash
        # One entry per open container: [is_object, its current key (while short)].
        self.stack: list[list[object]] = []
        self.last_string: bytes | None = None
        self.after_colon = False

    @classmethod
    def for_request(cls, headers: Headers) -> JsonMeter | None:
        """The meter of a request's body; None for an upload (multipart), which BodyLimit counts
        against MAX_UPLOAD_MB."""
        if headers.get("content-type", "").startswith("multipart/"):
            return None
        settings = get_settings()
        max_inline = int(settings.max_upload_bytes * INLINE_SLACK) + 4096
        return cls(int(settings.max_json_kb * 1024), max_inline, parse=is_json(headers))

    def feed(self, chunk: bytes) -> None:
        for window in range(0, len(chunk), WINDOW):
            piece = chunk[window : window + WINDOW]
            if not self.parse:
                self._count_text(len(piece))
                continue
            start = 0
            while start < len(piece):
                if self.in_inline:
                    start = self._skip_inline(piece, start)
                else:
                    resumed = self._scan_text(piece, start)
                    self._count_text(resumed - start)
                    start = resumed

    def _count_text(self, size: int) -> None:
        self.text += size
        if self.text > self.max_text:
            raise BodyRefused(json_too_large(self.max_text, json=self.parse))

    def _scan_text(self, piece: bytes, start: int) -> int:
        """Tokenise JSON text up to the end of the piece or the start of the inline string;
        answers where the text stops in the piece."""
        buffer = self.pending + piece[start:] if self.pending else piece[start:]
        self.pending = b""
        pos = 0
        while pos < len(buffer):
            if self.after_colon and self._at_inline_path():
                while pos < len(buffer) and buffer[pos] in b" \t\r\n":
                    pos += 1
                if pos < len(buffer) and buffer[pos] == ord('"'):
                    # The inline string starts: after its opening quote, it is the file.
                    self.after_colon, self.in_inline = False, True
                    return len(piece) - (len(buffer) - pos) + 1
            match = _TOKEN.match(buffer, pos)
            if match is None or match.lastindex is None:
                # White space only, or a string that goes on in the next chunk.
                self.pending = buffer[pos:].lstrip()
                break
            self._token(match.lastindex, match.group(match.lastindex))
            pos = match.end()
        return len(piece)

    def _token(self, kind: int, token: bytes) -> None:
        self.after_colon = False
        if kind == 1:  # a string
            self.last_string = token[1:-1] if len(token) <= _KEY_MAX + 2 else None
        elif kind == 2:  # { or [
            if len(self.stack) >= MAX_JSON_DEPTH:
                raise BodyRefused(too_deep())
            self.stack.append([token == b"{", None])
        elif kind == 3:  # } or ]
            if self.stack:
                self.stack.pop()
        elif kind == 4:  # the colon after a key
            if self.stack and self.stack[-1][0]:
                self.stack[-1][1] = self.last_string
            self.after_colon = True
        elif kind == 5 and self.stack and self.stack[-1][0]:  # a comma between members
            self.stack[-1][1] = None

    def _at_inline_path(self) -> bool:
        return len(self.stack) == len(INLINE_PATH) and all(
            entry[0] and entry[1] == key for entry, key in zip(self.stack, INLINE_PATH, strict=True)
        )

    def _skip_inline(self, piece: bytes, start: int) -> int:
        """Skip the inline string up to its closing quote; answers where JSON text resumes in
        the piece (its length when the string goes on)."""
        if self.escape_pending and piece[start] in b'"\\':
            raise BodyRefused(_escaped_quote())
        self.escape_pending = False
        end = piece.find(b'"', start)
        stop = len(piece) if end < 0 else end
        if piece.find(b"\\\\", start, stop) >= 0 or (end > start and piece[end - 1] == _BACKSLASH):
            raise BodyRefused(_escaped_quote())
        self.inline += stop - start
        if self.inline > self.max_inline:
            raise BodyRefused(inline_too_large(get_settings().max_upload_bytes))
        if end < 0:
            self.escape_pending = piece[-1] == _BACKSLASH
            return len(piece)
        self.in_inline = False
        self.last_string = None
        self._count_text(1)  # the closing quote is JSON text again
        return end + 1


def _escaped_quote() -> InvalidInput:
    return InvalidInput(
        'data.csv_base64 is not valid base64: it holds an escaped quote or backslash (\\" or '
        "\\\\), which base64 never does."
    )
