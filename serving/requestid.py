"""Request ids and log lines a gateway's logs can be joined with.

Every request carries an id: the caller's `X-Request-ID` when it is a sane token, else a new one.
It is returned in the answer's `X-Request-ID` header and put on every log line written while the
request is handled (a context variable, so scans and their log lines in other tasks keep it).
`MALDOC_LOG_FORMAT=json` writes one JSON object per line: time, level, logger, request id, message
and, for scan lines, sha256, type, verdict, score and ms as fields of their own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("maldoc_request_id", default="-")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a caller's id is echoed in headers and logs: no injection
HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Pure ASGI: takes or makes the id, sets it for the request, returns it in the answer."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == HEADER), "")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (`%(request_id)s`, and the JSON field)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


SCAN_FIELDS = ("sha256", "type", "verdict", "score", "ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name,
               "request_id": getattr(record, "request_id", REQUEST_ID.get()), "message": record.getMessage()}
        scan = getattr(record, "scan", None)
        if isinstance(scan, dict):
            doc.update({k: scan[k] for k in SCAN_FIELDS if k in scan})
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = record.exc_info[0].__name__  # the type only: messages may quote input
        return json.dumps(doc, separators=(",", ":"))


def configure(level: str, fmt: str) -> None:
    """The service's logging: text with the request id, or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
