"""Reading request bodies into memory, bounded, without ever touching the disk.

Starlette's `request.form()` hands multipart uploads to `UploadFile`, a SpooledTemporaryFile that
rolls over to a temporary file past 1 MiB: attachment bytes would land on disk (and in backups,
swap-less tmpfs limits, forensic traces). So uploads are parsed here with python-multipart's
streaming `MultipartParser` straight into a bytearray, and every byte counts against the body
limit while it is read: a lying or absent Content-Length cannot make the service buffer more.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the one file
MAX_PARTS = 8  # a scan request carries one file and maybe a few small fields


class BodyError(Exception):
    """A request body the service refuses: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str


def _too_large(limit: int) -> BodyError:
    return BodyError(413, f"request body larger than the limit of {limit} bytes (MALDOC_MAX_BODY_BYTES)")


def _check_length(request: Request, limit: int) -> None:
    value = request.headers.get("content-length")
    if value is None:
        return  # chunked: enforced while reading
    try:
        length = int(value)
    except ValueError:
        raise BodyError(400, f"invalid Content-Length header {value[:40]!r}") from None
    if length > limit:
        raise _too_large(limit)


async def read_raw(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    _check_length(request, limit)
    buf = bytearray()
    try:
        async for chunk in request.stream():
            buf += chunk
            if len(buf) > limit:
                raise _too_large(limit)
    except ClientDisconnect:
        raise BodyError(400, "client disconnected before the body was complete") from None
    return bytes(buf)


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


class _Collector:
    """python-multipart callbacks that keep the file part in memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[tuple[dict[str, str], bytearray]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, str] = {}

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

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _hend(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("utf-8", "replace")
        self._field.clear()
        self._value.clear()

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1][1]
        part += data[start:end]
        if len(part) > self.limit:
            raise _too_large(self.limit)


async def read_upload(request: Request, limit: int, field: str = "file") -> Upload:
    """The one file of a multipart/form-data body (the part named `field`, or the only file part)."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BodyError(400, "multipart/form-data body without a boundary parameter in Content-Type")
    total = limit + MULTIPART_SLACK
    _check_length(request, total)
    collector = _Collector(limit)
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > total:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:
        raise BodyError(400, f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise BodyError(400, "client disconnected before the body was complete") from None

    files = []
    for headers, data in collector.parts:
        _, opts = parse_options_header(headers.get("content-disposition", ""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if name == field or filename is not None:
            files.append((name, (filename or b"").decode("utf-8", "replace"), data))
    named = [f for f in files if f[0] == field]
    chosen = named or files
    if not chosen:
        raise BodyError(400, f"multipart body has no file part; send the file in a form field named {field!r}")
    if len(chosen) > 1:
        raise BodyError(400, "multipart body has more than one file; send one file per request")
    _, filename, data = chosen[0]
    return Upload(bytes(data), filename)
