"""POST /v1/scan (one file) and POST /v1/scan/email (one RFC 822 message, every part scanned).

Each request is admitted by the service's upload gate before its body is read (429 past the
uploads or bytes in flight, 413 past the declared size, 408 past the body deadline), and its
answer is serialised in a thread, node by node: a verdict can be megabytes of JSON.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from maldoc.filetype import detect
from maldoc.types import FileType

from .body import MULTIPART_SLACK, BodyError, declared_length, is_multipart, read_raw, read_upload
from .codec import dump_response
from .deps import AUTH_RESPONSES, ScanAuth, ServiceDep
from .names import clean_name
from .schemas import EmailScanResponse, ErrorResponse, PartSummary, QueueFullResponse, ScanResponse
from .service import Outcome, Service

router = APIRouter(prefix="/v1/scan", tags=["scan"], dependencies=[ScanAuth])

ERRORS = {
    **AUTH_RESPONSES,
    400: {"model": ErrorResponse, "description": "malformed body (multipart without a file, not a message, "
          "both Content-Length and Transfer-Encoding...)"},
    408: {"model": ErrorResponse, "description": "body not received within MALDOC_BODY_TIMEOUT_S"},
    413: {"model": ErrorResponse, "description": "body (declared or received) larger than MALDOC_MAX_BYTES"},
    429: {"model": ErrorResponse, "description": "too many uploads or bytes in flight (MALDOC_MAX_UPLOADS, "
          "MALDOC_MAX_BUFFERED_BYTES)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    500: {"model": ErrorResponse, "description": "internal error, when MALDOC_FAIL_MODE=report"},
    503: {"model": QueueFullResponse, "description": "scan queue full, or the service is not ready yet",
          "headers": {"Retry-After": {"description": "seconds to wait before retrying",
                                      "schema": {"type": "integer"}}}},
}
_FILE_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the attachment"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "description": "the attachment's raw bytes"}},
}}}
_EMAIL_BODY = {"requestBody": {"required": True, "content": {
    "message/rfc822": {"schema": {"type": "string", "format": "binary", "description": "the raw message"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}}}

FilenameQuery = Annotated[str, Query(
    description="the attachment's file name (display only: the type comes from the content); "
    "reduced to its last path component, without control characters, at most 255 characters")]


def _ready(service) -> None:
    if not service.ready:
        raise HTTPException(503, "service is starting: the model is not loaded yet", headers={"Retry-After": "1"})


def _serialise(outcome: Outcome, response) -> Response:
    """The answer's JSON, built node by node (`codec`): run it in a thread."""
    r = outcome.response
    return Response(dump_response(response, r.verdict), media_type="application/json", headers={
        "X-Maldoc-Decision": r.decision.value, "X-Maldoc-Cache": "hit" if outcome.cached else "miss",
        "Server-Timing": f"scan;dur={r.service_ms}"})


async def _answer(outcome: Outcome, response) -> Response:
    return await asyncio.to_thread(_serialise, outcome, response)


def _email_answer(outcome: Outcome) -> Response:
    r = outcome.response
    parts = [PartSummary(path=c.path, name=c.name, sha256=c.sha256, file_type=c.file_type, label=c.label,
                         score=c.score) for c in (r.verdict.children if r.verdict else [])]
    return _serialise(outcome, EmailScanResponse(**dict(r), parts=parts))


def _declared(request: Request, service: Service, multipart: bool) -> int | None:
    limit = service.settings.max_bytes + (MULTIPART_SLACK if multipart else 0)
    return declared_length(request.headers, limit)


@router.post("", response_model=ScanResponse, responses=ERRORS, openapi_extra=_FILE_BODY,
             summary="Scan one file")
async def scan_file(request: Request, service: ServiceDep, filename: FilenameQuery = "") -> Response:
    """Scan one attachment, sent as a multipart upload (form field `file`) or as the raw body
    (any other content type) with its name in `filename`. The body is held in memory only."""
    _ready(service)
    s = service.settings
    multipart = is_multipart(request)
    async with service.uploads.admit(_declared(request, service, multipart)) as ticket:
        async with service.uploads.receiving_body():
            if multipart:
                upload = await read_upload(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
                data, name = upload.data, filename or upload.filename
            else:
                data = await read_raw(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
                name = filename
        outcome = await service.scan(data, clean_name(name), kind="file")
        return await _answer(outcome, outcome.response)


@router.post("/email", response_model=EmailScanResponse, responses=ERRORS, openapi_extra=_EMAIL_BODY,
             summary="Scan one e-mail message")
async def scan_email(request: Request, service: ServiceDep, filename: FilenameQuery = "message.eml") -> Response:
    """Scan a raw RFC 822 message: its body and every attachment are scanned, one verdict per
    part (in `parts`, full verdicts in `verdict.children`) and one for the message."""
    _ready(service)
    s = service.settings
    async with service.uploads.admit(_declared(request, service, False)) as ticket:
        async with service.uploads.receiving_body():
            data = await read_raw(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
        kind = await asyncio.to_thread(detect, data)  # an archive's whole directory is parsed to type it
        if kind not in (FileType.EMAIL, FileType.MHTML):
            raise BodyError(400, f"body is not an RFC 822 message (its content looks like {kind.value}); "
                            "send single files to /v1/scan")
        outcome = await service.scan(data, clean_name(filename), kind="email")
        return await asyncio.to_thread(_email_answer, outcome)
