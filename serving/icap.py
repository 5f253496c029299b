"""`maldoc icap`: an ICAP server (RFC 3507) for web proxies and gateways that call AV engines.

OPTIONS, RESPMOD and REQMOD on one service (`icap://host:1344/maldoc` by default, other names
configurable), with Preview (the server answers `100 Continue` and reads the rest), `Allow: 204`,
chunked encapsulated bodies and keep-alive. A clean body gets `204 No Content` (or, when the
client did not allow 204, a `200` that returns the message unchanged); a detected one gets a
`200` carrying `X-Infection-Found` and `X-Violations-Found` and an HTTP 403 page in place of the
content. `ISTag` is derived from the model answering, so caches in front of ICAP drop verdicts
when the model changes. Malformed requests get the RFC's error status and the connection closes.
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from maldoc import __version__
from maldoc.engine import QueueFull

from .gateway import ListenerMetrics, ListenerSettings, detected, log_answer, threat_name
from .listener import Closed, Conn, IdleTimeout, LineTooLong, Listener
from .schemas import ScanResponse
from .service import InternalScanError, Service

log = logging.getLogger("maldoc.serving.icap")

MAX_HEADER_BYTES = 64 * 1024  # ICAP header block, and the encapsulated HTTP headers
MAX_HEADERS = 100
_ENCAPSULATED = re.compile(r"^\s*(req-hdr|res-hdr|req-body|res-body|null-body|opt-body)\s*=\s*(\d+)\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FILENAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.IGNORECASE)


class IcapSettings(ListenerSettings):
    model_config = SettingsConfigDict(env_prefix="MALDOC_ICAP_", extra="ignore")

    port: int = Field(1344, ge=0, le=65535)
    services: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["maldoc"], description="comma-separated service names (the URI's path)")
    preview: int = Field(4096, ge=0, description="preview size offered in OPTIONS")
    options_ttl_s: int = Field(3600, ge=1, description="how long clients may cache the OPTIONS answer")

    @field_validator("services", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip().strip("/") for s in value.split(",") if s.strip()]
        return value


class IcapError(Exception):
    def __init__(self, status: int, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.status, self.reason, self.kind = status, reason, kind


@dataclass
class Request:
    method: str
    service: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    sections: dict[str, bytes] = field(default_factory=dict)  # req-hdr / res-hdr bytes
    body_kind: str | None = None  # req-body or res-body, None for null-body
    body: bytes = b""
    url: str = ""
    ended_in_preview: bool = False  # the whole body came in the preview: 204 is allowed without Allow: 204

    @property
    def allow_204(self) -> bool:
        return "204" in self.headers.get("allow", "")

    @property
    def keep_alive(self) -> bool:
        return "close" not in self.headers.get("connection", "").lower()


class IcapServer:
    def __init__(self, service: Service, settings: IcapSettings, *,
                 shutdown: Callable[[], None] | None = None) -> None:
        self.service = service
        self.settings = settings
        self.metrics = ListenerMetrics.of(service, "icap")
        self.listener = Listener("icap", self.handle, refuse=self.refuse, max_connections=settings.max_connections,
                                 idle_timeout_s=settings.idle_timeout_s, on_count=self.metrics.count)

    async def start(self) -> Callable:
        self.address = await self.listener.start_tcp(self.settings.host, self.settings.port)
        return self.listener.close

    def istag(self) -> str:
        loaded = self.service.models.current
        digest = hashlib.sha256(f"{__version__}|{loaded.cache_id if loaded else '-'}".encode()).hexdigest()[:16]
        return f'"maldoc-{digest}"'

    # -- framing ----------------------------------------------------------------------------------
    def _head(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None,
              encapsulated: str = "null-body=0", close: bool = False) -> bytes:
        lines = [f"ICAP/1.0 {status} {reason}", f"ISTag: {self.istag()}", f"Server: maldoc/{__version__}",
                 f"Date: {email.utils.formatdate(usegmt=True)}"]
        lines += [f"{k}: {v}" for k, v in headers or []]
        if close:
            lines.append("Connection: close")
        lines.append(f"Encapsulated: {encapsulated}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "replace")

    async def refuse(self, conn: Conn) -> None:
        await conn.write(self._head(503, "Service Overloaded", close=True))

    async def handle(self, conn: Conn) -> None:
        while True:
            try:
                conn.begin_request(self.settings.request_timeout_s)
                request = await self._read_request(conn)
                conn.begin_request(None)
                if request is None:
                    return  # the client closed between requests
                keep = await self._answer(conn, request)
            except IcapError as exc:
                self.metrics.errors.labels(kind=exc.kind).inc()
                log.info("icap: %s: %d %s (%s)", conn.peer, exc.status, exc.reason, exc.kind)
                await conn.write(self._head(exc.status, exc.reason, close=True))
                return
            except IdleTimeout:
                self.metrics.errors.labels(kind="idle_timeout").inc()
                await conn.write(self._head(408, "Request Timeout", close=True))
                return
            except Closed as exc:
                if exc.args and exc.args[0]:
                    self.metrics.errors.labels(kind="truncated").inc()
                    log.info("icap: %s closed the connection in the middle of a request", conn.peer)
                return
            if not keep:
                return

    async def _line(self, conn: Conn) -> str:
        try:
            raw = await conn.read_until(b"\n", MAX_HEADER_BYTES)
        except LineTooLong:
            raise IcapError(400, "Bad Request", "line_too_long") from None
        try:
            return raw.decode("ascii").rstrip("\r\n")
        except UnicodeDecodeError:
            raise IcapError(400, "Bad Request", "garbage") from None

    async def _read_request(self, conn: Conn) -> Request | None:
        first = ""
        for _ in range(3):  # tolerate stray empty lines between keep-alive requests
            try:
                first = await self._line(conn)
            except Closed as exc:
                if exc.args and exc.args[0]:
                    raise
                return None
            if first:
                break
        parts = first.split(" ")
        if len(parts) != 3 or not parts[2].startswith("ICAP/"):
            raise IcapError(400, "Bad Request", "bad_request_line")
        method, uri, version = parts
        if version != "ICAP/1.0":
            raise IcapError(505, "ICAP Version Not Supported", "version")
        headers: dict[str, str] = {}
        total = len(first)
        last = ""
        while True:
            line = await self._line(conn)
            total += len(line) + 2
            if total > MAX_HEADER_BYTES or len(headers) > MAX_HEADERS:
                raise IcapError(400, "Bad Request", "headers_too_large")
            if not line:
                break
            if line[0] in " \t" and last:  # folded continuation line
                headers[last] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip() or " " in name.strip():
                raise IcapError(400, "Bad Request", "bad_header")
            last = name.strip().lower()
            headers[last] = f"{headers[last]}, {value.strip()}" if last in headers else value.strip()
        target = urlsplit(uri)
        if target.scheme.lower() != "icap":
            raise IcapError(400, "Bad Request", "bad_uri")
        service = unquote(target.path).strip("/")
        if service not in self.settings.services:
            raise IcapError(404, "ICAP Service Not Found", "unknown_service")
        if method not in ("OPTIONS", "RESPMOD", "REQMOD"):
            raise IcapError(501 if method.isupper() and method.isalpha() else 400,
                            "Method Not Implemented", "unknown_method")
        request = Request(method, service, headers)
        if method != "OPTIONS":
            await self._read_encapsulated(conn, request)
        return request

    async def _read_encapsulated(self, conn: Conn, request: Request) -> None:
        spec = request.headers.get("encapsulated")
        if spec is None:
            raise IcapError(400, "Bad Request", "no_encapsulated")
        entries: list[tuple[str, int]] = []
        for item in spec.split(","):
            match = _ENCAPSULATED.match(item)
            if not match:
                raise IcapError(400, "Bad Request", "bad_encapsulated")
            entries.append((match.group(1), int(match.group(2))))
        offsets = [offset for _, offset in entries]
        bodies = [name for name, _ in entries if name.endswith("-body")]
        if (offsets[0] != 0 or offsets != sorted(offsets) or bodies != [entries[-1][0]]
                or offsets[-1] > MAX_HEADER_BYTES):
            raise IcapError(400, "Bad Request", "bad_encapsulated")
        headers = await conn.read_exactly(offsets[-1]) if offsets[-1] else b""
        for (name, start), (_, end) in itertools.pairwise(entries):
            request.sections[name] = headers[start:end]
        request.url = _url(request.sections)
        kind = entries[-1][0]
        if kind in ("req-body", "res-body"):
            request.body_kind = kind
            request.body = await self._read_body(conn, request)

    async def _read_body(self, conn: Conn, request: Request) -> bytes:
        limit = self.service.settings.max_body_bytes
        parts: list[bytes] = []
        size = 0
        preview = "preview" in request.headers
        while True:
            chunks, ieof = await self._read_chunks(conn, limit - size)
            parts += chunks
            size += sum(len(c) for c in chunks)
            if not preview or ieof:
                request.ended_in_preview = preview and ieof
                return b"".join(parts)
            preview = False  # the preview ended without ieof: ask for the rest
            await conn.write(b"ICAP/1.0 100 Continue\r\n\r\n")

    async def _read_chunks(self, conn: Conn, room: int) -> tuple[list[bytes], bool]:
        """One chunked sequence up to its zero chunk: the chunks, and whether it ended with ieof."""
        chunks: list[bytes] = []
        while True:
            line = await self._line(conn)
            size_text, _, extension = line.partition(";")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                raise IcapError(400, "Bad Request", "bad_chunk") from None
            if size < 0:
                raise IcapError(400, "Bad Request", "bad_chunk")
            if size == 0:
                if await conn.read_exactly(2) != b"\r\n":  # no trailers in ICAP
                    raise IcapError(400, "Bad Request", "bad_chunk")
                return chunks, extension.strip().lower() == "ieof"
            if size > room:
                log.warning("icap: %s: body over the %d-byte limit", conn.peer, self.service.settings.max_body_bytes)
                raise IcapError(400, "Bad Request", "body_too_large")
            room -= size
            chunks.append(await conn.read_exactly(size))
            if await conn.read_exactly(2) != b"\r\n":
                raise IcapError(400, "Bad Request", "bad_chunk")

    # -- answers ----------------------------------------------------------------------------------
    async def _answer(self, conn: Conn, request: Request) -> bool:
        close = not request.keep_alive
        if request.method == "OPTIONS":
            headers = [("Methods", "RESPMOD, REQMOD"), ("Service", f"maldoc {__version__}"),
                       ("Max-Connections", str(self.settings.max_connections)),
                       ("Options-TTL", str(self.settings.options_ttl_s)), ("Allow", "204"),
                       ("Preview", str(self.settings.preview)), ("Transfer-Preview", "*")]
            await conn.write(self._head(200, "OK", headers, close=close))
            return not close
        if request.body_kind is None:  # nothing to scan (a GET request, a body-less response)
            await self._unchanged(conn, request, close)
            return not close
        try:
            outcome = await self.service.scan(request.body, _name(request), kind="file")
        except QueueFull as exc:
            self.metrics.errors.labels(kind="queue_full").inc()
            await conn.write(self._head(503, "Service Overloaded", [("Retry-After", str(exc.retry_after_s))],
                                        close=True))
            return False
        except InternalScanError:
            await conn.write(self._head(500, "Server Error", close=True))
            return False
        response = outcome.response
        if response.decision.value == "error":
            log_answer("icap", conn.peer, response, "500")
            await conn.write(self._head(500, "Server Error", [("X-Maldoc-Failure", response.failure or "error")],
                                        close=close))
        elif detected(response, self.settings.suspicious):
            name = threat_name(response)
            log_answer("icap", conn.peer, response, name)
            await self._blocked(conn, request, response, name, close)
        else:
            log_answer("icap", conn.peer, response, "clean")
            await self._unchanged(conn, request, close)
        return not close

    async def _unchanged(self, conn: Conn, request: Request, close: bool) -> None:
        if request.allow_204 or request.ended_in_preview or ("preview" in request.headers and not request.body_kind):
            await conn.write(self._head(204, "No Content", close=close))
            return
        # No 204 allowed: send the message back as it came.
        names = ("req-hdr", "req-body") if request.method == "REQMOD" else ("res-hdr", "res-body")
        header = request.sections.get(names[0], b"")
        encapsulated = []
        if header:
            encapsulated.append(f"{names[0]}=0")
        body_name = names[1] if request.body_kind else "null-body"
        encapsulated.append(f"{body_name}={len(header)}")
        payload = header + (_chunked(request.body) if request.body_kind else b"")
        await conn.write(self._head(200, "OK", encapsulated=", ".join(encapsulated), close=close) + payload)

    async def _blocked(self, conn: Conn, request: Request, response: ScanResponse, name: str, close: bool) -> None:
        where = _CONTROL.sub("", request.url)[:200] or "-"
        page = (f"<html><head><title>Blocked</title></head><body><h1>Blocked</h1><p>The content was blocked: "
                f"{name} (score {response.score if response.score is not None else 0:.2f}).</p>"
                f"<p>sha256 {response.sha256}</p></body></html>\n").encode()
        http = ("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(page)}\r\nCache-Control: no-store\r\nConnection: close\r\n"
                f"X-Maldoc-Decision: {response.decision.value}\r\nX-Maldoc-Threat: {name}\r\n\r\n").encode()
        filename = _name(request) or where
        headers = [("X-Infection-Found", f"Type=0; Resolution=2; Threat={name};"),
                   ("X-Violations-Found", f"1\r\n\t{_CONTROL.sub('', filename)}\r\n\t{name}\r\n\t0\r\n\t2"),
                   ("X-Maldoc-Decision", response.decision.value),
                   ("X-Maldoc-Score", f"{response.score:.4f}" if response.score is not None else "-")]
        await conn.write(self._head(200, "OK", headers, encapsulated=f"res-hdr=0, res-body={len(http)}",
                                    close=close) + http + _chunked(page))


def _chunked(data: bytes) -> bytes:
    return (f"{len(data):x}\r\n".encode() + data + b"\r\n" if data else b"") + b"0\r\n\r\n"


def _url(sections: dict[str, bytes]) -> str:
    first = sections.get("req-hdr", b"").split(b"\r\n", 1)[0].decode("latin-1", "replace").split(" ")
    return first[1] if len(first) >= 2 else ""


def _name(request: Request) -> str:
    """A display name for the body: Content-Disposition's filename, else the URL's last segment."""
    header = request.sections.get("res-hdr" if request.method == "RESPMOD" else "req-hdr", b"")
    match = _FILENAME.search(header.decode("latin-1", "replace"))
    name = match.group(1) if match else unquote(urlsplit(request.url).path.rsplit("/", 1)[-1])
    return _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()[:255]
