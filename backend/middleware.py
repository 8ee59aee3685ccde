"""The base of the API's pure ASGI middlewares (auth, body limits, request observation).

Pure ASGI on purpose: Starlette's `@app.middleware("http")` pipes every chunk of a streaming
response through an extra task and memory stream, which adds up with hundreds of SSE clients.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from starlette.types import ASGIApp, Receive, Scope, Send


class HTTPMiddleware(ABC):
    """Hands HTTP requests to `http`; lifespan and websocket scopes pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What the middleware does with one HTTP request (each subclass says)."""
