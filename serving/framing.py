"""Refuses requests whose body framing is ambiguous, before any route reads them.

A request carrying both Content-Length and Transfer-Encoding (or two different Content-Length
values) is how request smuggling starts: a proxy in front and this service may disagree on where
the body ends. RFC 9112 section 6.1 lets a server reject it; this one always does (400), and
closes the connection, since what follows on it cannot be trusted.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send


def framing_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    lengths = {v.strip() for k, v in headers if k.lower() == b"content-length"}
    chunked = any(k.lower() == b"transfer-encoding" for k, _ in headers)
    if lengths and chunked:
        return "request has both Content-Length and Transfer-Encoding; send one of them"
    if len(lengths) > 1:
        return "request has conflicting Content-Length headers"
    return None


class FramingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = framing_problem(scope.get("headers", [])) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": problem}).encode()
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
