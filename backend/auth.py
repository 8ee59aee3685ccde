"""Bearer-token access to the API: with API_TOKEN set, every /api/v1 request needs a valid token.

Enforced as an ASGI middleware, so it covers every path under the prefix (unknown ones, uploads
before their body is read, SSE streams) the same way. /health, /ready, /live and /metrics sit
outside the prefix and stay open for probes and scrapers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi.security import HTTPBearer
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from backend.errors import error_content
from backend.middleware import HTTPMiddleware
from backend.routes import API_PREFIX
from backend.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Only documents the scheme in the OpenAPI schema; BearerAuth does the checking.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Required on /api/v1 when the deployment sets API_TOKEN.",
)


def token_is_valid(authorization: str | None, tokens: list[str]) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    # Digests first, so lengths do not show either; then every token (no early exit), each
    # compared in constant time.
    given = hashlib.sha256(presented.strip().encode()).digest()
    matches = [hmac.compare_digest(given, hashlib.sha256(t.encode()).digest()) for t in tokens]
    return any(matches)


# The one client of an open API (no API_TOKEN): quotas and the fair order treat every request
# as this one's.
ANONYMOUS = "anonymous"


def client_id(authorization: str | None) -> str:
    """Who is asking, for quotas and the fair order: "token:" and the first 32 hex digits of the
    SHA-256 of the bearer token (the token itself is never stored), or ANONYMOUS when the API
    has no tokens. BearerAuth has already refused a request without a valid one."""
    if not get_settings().api_tokens:
        return ANONYMOUS
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return ANONYMOUS
    return "token:" + hashlib.sha256(presented.strip().encode()).hexdigest()[:32]


def guarded(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class BearerAuth(HTTPMiddleware):
    """Answers 401 JSON `{error, detail}` to /api/v1 requests without a valid bearer token."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if guarded(scope["path"]):
            tokens = get_settings().api_tokens  # read per request: tests and reloads change it
            if tokens:
                authorization = Headers(scope=scope).get("authorization")
                if not token_is_valid(authorization, tokens):
                    detail = (
                        "The bearer token is not valid; check API_TOKEN."
                        if authorization
                        else "This API needs a token: send the header "
                        "'Authorization: Bearer <token>' with one of the API_TOKEN values."
                    )
                    response = JSONResponse(
                        error_content("Unauthorized", detail),
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def warn_if_open(settings: Settings) -> None:
    """Say at start when the API answers anyone who can reach it."""
    if settings.api_tokens:
        return
    loopback = settings.api_host in ("127.0.0.1", "localhost", "::1")
    log.warning(
        "API_TOKEN is not set: the API is open to anyone who can reach it%s.",
        " (it listens on loopback only)"
        if loopback
        else f"; API_HOST={settings.api_host} exposes it beyond this machine, set API_TOKEN",
    )
