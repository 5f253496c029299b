"""Reading request bodies into memory, bounded in size and time, without ever touching the disk.

Starlette's `request.form()` hands multipart uploads to `UploadFile`, a SpooledTemporaryFile that
rolls over to a temporary file past 1 MiB: attachment bytes would land on disk (and in backups,
swap-less tmpfs limits, forensic traces). So uploads are parsed here with python-multipart's
streaming `MultipartParser` straight into a bytearray, and every byte counts against the body
limit while it is read: a lying or absent Content-Length cannot make the service buffer more.
A declared Content-Length over the limit is refused before the first byte is read, and the
whole body must arrive within a deadline (a client sending one byte a second is cut off, 408).

Error texts name the problem and never quote the request's bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from .names import content_disposition

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file
MAX_PARTS = 16  # a scan request carries one file and a few small fields (passwords)
MAX_FIELD_BYTES = 4096  # one non-file field (a password): small, whatever the file limit
MAX_PART_HEADER = 8 * 1024  # one part header line (Content-Disposition with a long file name)
MAX_PART_HEADERS = 16


class BodyError(Exception):
    """A request body the service refuses: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class _Ticket(Protocol):
    def hold(self, size: int) -> None: ...


class _Unbounded:
    def hold(self, size: int) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str
    fields: dict[str, list[bytes]]  # the other, non-file parts, by name


def _too_large(limit: int) -> BodyError:
    return BodyError(413, f"request body larger than the limit of {limit} bytes (MALDOC_MAX_BYTES)",
                     headers={"Connection": "close"})


def _timed_out(timeout_s: float) -> BodyError:
    return BodyError(408, f"request body not received within {timeout_s:g} s (MALDOC_BODY_TIMEOUT_S)",
                     headers={"Connection": "close"})


def declared_length(headers: Mapping[str, str], limit: int) -> int | None:
    """The body's Content-Length (None when chunked), refused at once when over `limit`."""
    value = headers.get("content-length")
    if value is None:
        return None
    if headers.get("transfer-encoding") is not None:
        raise BodyError(400, "request has both Content-Length and Transfer-Encoding; send one of them")
    value = value.strip()
    if not value.isdigit() or not value.isascii() or len(value) > 19:
        raise BodyError(400, "invalid Content-Length header: not a decimal byte count")
    length = int(value)
    if length > limit:
        raise _too_large(limit)
    return length


# Old name, kept for callers outside this module.
def _check_length(request, limit: int) -> int | None:
    return declared_length(request.headers, limit)


async def _chunks(request, timeout_s: float | None) -> AsyncIterator[bytes]:
    """The body's chunks; raises BodyError 408 when the whole body takes longer than `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s if timeout_s else None
    stream = request.stream().__aiter__()
    while True:
        try:
            if deadline is None:
                chunk = await stream.__anext__()
            else:
                left = deadline - loop.time()
                if left <= 0:
                    raise _timed_out(timeout_s)
                chunk = await asyncio.wait_for(stream.__anext__(), left)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _timed_out(timeout_s) from None
        except ClientDisconnect:
            raise BodyError(400, "client disconnected before the body was complete") from None
        yield chunk


async def read_raw(request, limit: int, *, ticket: _Ticket | None = None, timeout_s: float | None = None) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    declared_length(request.headers, limit)
    ticket = ticket or _Unbounded()
    buf = bytearray()
    async for chunk in _chunks(request, timeout_s):
        if len(buf) + len(chunk) > limit:
            raise _too_large(limit)
        ticket.hold(len(buf) + len(chunk))
        buf += chunk
    return bytes(buf)


def is_multipart(request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


class _Collector:
    """python-multipart callbacks that keep the parts in memory, each header bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[tuple[dict[str, bytes], bytearray]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin, "on_header_field": self._hfield, "on_header_value": self._hvalue,
            "on_header_end": self._hend, "on_part_data": self._data,
        }

    def _begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise BodyError(400, f"multipart body has more than {MAX_PARTS} parts; send one file per request")
        self._headers = {}
        self.parts.append((self._headers, bytearray()))

    def _grow(self, buf: bytearray, data: bytes, start: int, end: int) -> None:
        if len(buf) + end - start > MAX_PART_HEADER:
            raise BodyError(400, f"multipart part header longer than {MAX_PART_HEADER} bytes")
        buf += data[start:end]

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._grow(self._field, data, start, end)

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._grow(self._value, data, start, end)

    def _hend(self) -> None:
        if len(self._headers) >= MAX_PART_HEADERS:
            raise BodyError(400, f"multipart part with more than {MAX_PART_HEADERS} headers")
        self._headers[self._field.decode("latin-1").lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1][1]
        if len(part) + end - start > self.limit:
            raise _too_large(self.limit)
        part += data[start:end]


async def read_upload(request, limit: int, field: str = "file", *, ticket: _Ticket | None = None,
                      timeout_s: float | None = None) -> Upload:
    """The one file of a multipart/form-data body (the part named `field`, or the only file part),
    and its other fields (`Upload.fields`, each at most MAX_FIELD_BYTES)."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BodyError(400, "multipart/form-data body without a boundary parameter in Content-Type")
    total = limit + MULTIPART_SLACK
    declared_length(request.headers, total)
    ticket = ticket or _Unbounded()
    collector = _Collector(limit)
    try:
        # the parser's own header bounds sit just above ours, so ours (with a clear message) trip first
        parser = MultipartParser(boundary, collector.callbacks(), max_header_size=MAX_PART_HEADER + 1024,
                                 max_header_count=MAX_PART_HEADERS + 1)
        seen = 0
        async for chunk in _chunks(request, timeout_s):
            seen += len(chunk)
            if seen > total:
                raise _too_large(limit)
            ticket.hold(seen)
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError):
        # python-multipart's messages quote the offending bytes: say what kind of problem it is, no more
        raise BodyError(400, "malformed multipart body (boundaries or part headers do not parse)") from None

    files = []
    fields: dict[str, list[bytes]] = {}
    for headers, data in collector.parts:
        name, filename = content_disposition(headers.get("content-disposition", b""))
        if name == field or filename is not None:
            files.append((name, filename or "", data))
        elif name:
            if len(data) > MAX_FIELD_BYTES:
                raise BodyError(400, f"multipart body has a non-file field longer than {MAX_FIELD_BYTES} bytes")
            fields.setdefault(name, []).append(bytes(data))
    named = [f for f in files if f[0] == field]
    chosen = named or files
    if not chosen:
        raise BodyError(400, f"multipart body has no file part; send the file in a form field named {field!r}")
    if len(chosen) > 1:
        raise BodyError(400, "multipart body has more than one file; send one file per request")
    _, filename, data = chosen[0]
    return Upload(bytes(data), filename, fields)
