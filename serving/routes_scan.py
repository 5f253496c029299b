"""POST /v1/scan (one file) and POST /v1/scan/email (one RFC 822 message, every part scanned)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from maldoc.filetype import detect
from maldoc.types import FileType

from .body import BodyError, is_multipart, read_raw, read_upload
from .deps import AUTH_RESPONSES, ScanAuth, ServiceDep
from .schemas import EmailScanResponse, ErrorResponse, PartSummary, QueueFullResponse, ScanResponse
from .service import Outcome

router = APIRouter(prefix="/v1/scan", tags=["scan"], dependencies=[ScanAuth])

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 255

ERRORS = {
    **AUTH_RESPONSES,
    400: {"model": ErrorResponse, "description": "malformed body (multipart without a file, not a message...)"},
    413: {"model": ErrorResponse, "description": "body larger than MALDOC_MAX_BODY_BYTES"},
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
    max_length=1024, description="the attachment's file name (display only: the type comes from the content)")]


def clean_name(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:MAX_NAME]


def _ready(service) -> None:
    if not service.ready:
        raise HTTPException(503, "service is starting: the model is not loaded yet", headers={"Retry-After": "1"})


def _answer(outcome: Outcome, response) -> Response:
    r = outcome.response
    return Response(response.model_dump_json(), media_type="application/json", headers={
        "X-Maldoc-Decision": r.decision.value, "X-Maldoc-Cache": "hit" if outcome.cached else "miss",
        "Server-Timing": f"scan;dur={r.service_ms}"})


@router.post("", response_model=ScanResponse, responses=ERRORS, openapi_extra=_FILE_BODY,
             summary="Scan one file")
async def scan_file(request: Request, service: ServiceDep, filename: FilenameQuery = "") -> Response:
    """Scan one attachment, sent as a multipart upload (form field `file`) or as the raw body
    (any other content type) with its name in `filename`. The body is held in memory only."""
    _ready(service)
    limit = service.settings.max_body_bytes
    if is_multipart(request):
        upload = await read_upload(request, limit)
        data, name = upload.data, filename or upload.filename
    else:
        data, name = await read_raw(request, limit), filename
    outcome = await service.scan(data, clean_name(name), kind="file")
    return _answer(outcome, outcome.response)


@router.post("/email", response_model=EmailScanResponse, responses=ERRORS, openapi_extra=_EMAIL_BODY,
             summary="Scan one e-mail message")
async def scan_email(request: Request, service: ServiceDep, filename: FilenameQuery = "message.eml") -> Response:
    """Scan a raw RFC 822 message: its body and every attachment are scanned, one verdict per
    part (in `parts`, full verdicts in `verdict.children`) and one for the message."""
    _ready(service)
    data = await read_raw(request, service.settings.max_body_bytes)
    kind = detect(data)
    if kind not in (FileType.EMAIL, FileType.MHTML):
        raise BodyError(400, f"body is not an RFC 822 message (its content looks like {kind.value}); "
                        "send single files to /v1/scan")
    outcome = await service.scan(data, clean_name(filename), kind="email")
    r = outcome.response
    parts = [PartSummary(path=c.path, name=c.name, sha256=c.sha256, file_type=c.file_type, label=c.label,
                         score=c.score) for c in (r.verdict.children if r.verdict else [])]
    return _answer(outcome, EmailScanResponse(**dict(r), parts=parts))
