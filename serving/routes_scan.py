"""POST /v1/scan (one file) and POST /v1/scan/email (one RFC 822 message, every part scanned).

Passwords for encrypted archives and documents come as repeated `password` form fields (multipart)
or repeated `X-Maldoc-Password` headers (any body), at most MAX_PASSWORDS of at most
MAX_PASSWORD_CHARS characters; they are tried with the built-in ones, as the CLI's `--password`,
and never logged (the verdict cache keys on their HMAC).

Each request is admitted by the service's upload gate before its body is read (429 past the
uploads or bytes in flight, 413 past the declared size, 408 past the body deadline), and its
answer is serialised in a thread, node by node: a verdict can be megabytes of JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import Response

from maldoc.extractor import Options
from maldoc.filetype import detect
from maldoc.types import FileType

from .body import MULTIPART_SLACK, BodyError, declared_length, is_multipart, read_raw, read_upload
from .codec import dump_response
from .deps import AUTH_RESPONSES, ScanAuth, ServiceDep
from .names import clean_name
from .schemas import EmailScanResponse, ErrorResponse, PartSummary, QueueFullResponse, ScanResponse
from .service import Outcome, Service

MAX_PASSWORDS = 5  # each is tried on every encrypted item: Office's key derivation is slow on purpose
MAX_PASSWORD_CHARS = 256
PASSWORD_HEADER = "X-Maldoc-Password"

router = APIRouter(prefix="/v1/scan", tags=["scan"], dependencies=[ScanAuth])

ERRORS = {
    **AUTH_RESPONSES,
    400: {"model": ErrorResponse, "description": "malformed body (multipart without a file, not a message, "
          "both Content-Length and Transfer-Encoding...)"},
    408: {"model": ErrorResponse, "description": "body not received within MALDOC_BODY_TIMEOUT_S"},
    413: {"model": ErrorResponse, "description": "body (declared or received) larger than MALDOC_MAX_BYTES"},
    422: {"model": ErrorResponse, "description": "invalid passwords: more than MAX_PASSWORDS, one longer than "
          "MAX_PASSWORD_CHARS, empty, or not UTF-8"},
    429: {"model": ErrorResponse, "description": "too many uploads or bytes in flight (MALDOC_MAX_UPLOADS, "
          "MALDOC_MAX_BUFFERED_BYTES)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    500: {"model": ErrorResponse, "description": "internal error, when MALDOC_FAIL_MODE=report"},
    503: {"model": QueueFullResponse, "description": "scan queue full, or the service is not ready yet",
          "headers": {"Retry-After": {"description": "seconds to wait before retrying",
                                      "schema": {"type": "integer"}}}},
}
_FILE_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the attachment"},
        "password": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_PASSWORDS,
                     "description": "password(s) to try on encrypted archives and documents (repeat the field)"},
    }}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "description": "the attachment's raw bytes"}},
}}}
_EMAIL_BODY = {"requestBody": {"required": True, "content": {
    "message/rfc822": {"schema": {"type": "string", "format": "binary", "description": "the raw message"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}}}

PasswordHeader = Annotated[list[str] | None, Header(
    alias=PASSWORD_HEADER, description=f"a password to try on encrypted archives and documents, UTF-8; repeat "
    f"the header for more (at most {MAX_PASSWORDS} in all, form fields included); surrounding spaces are "
    "lost in a header: send such a password as a `password` form field")]

FilenameQuery = Annotated[str, Query(
    description="the attachment's file name (display only: the type comes from the content); "
    "reduced to its last path component, without control characters, at most 255 characters")]


def _password_error(detail: str) -> HTTPException:
    return HTTPException(422, f"{detail} (at most {MAX_PASSWORDS} passwords of 1 to {MAX_PASSWORD_CHARS} "
                         f"characters, in `password` form fields or {PASSWORD_HEADER} headers)")


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _password_error(f"a password in {where} is not UTF-8") from None


def passwords(fields: list[bytes], headers: list[str] | None) -> tuple[str, ...]:
    """The request's passwords, form fields first, in order, duplicates dropped; HTTP 422 past the
    bounds. Error texts say which bound, never the password."""
    # Starlette decodes header values as latin-1: back to their bytes, read as UTF-8
    given = [_text(f, "a form field") for f in fields] + \
        [_text(h.encode("latin-1", "replace"), f"an {PASSWORD_HEADER} header") for h in headers or ()]
    if len(given) > MAX_PASSWORDS:
        raise _password_error(f"{len(given)} passwords given")
    for pw in given:
        if not pw:
            raise _password_error("an empty password")
        if len(pw) > MAX_PASSWORD_CHARS:
            raise _password_error(f"a password of {len(pw)} characters")
    return tuple(dict.fromkeys(given))


def _options(service: Service, pws: tuple[str, ...]) -> Options | None:
    """The service's options with this request's passwords; None (the defaults) without any."""
    return dataclasses.replace(service.options, passwords=pws) if pws else None


def require_ready(service) -> None:
    if not service.ready:
        raise HTTPException(503, "service is starting: the model is not loaded yet", headers={"Retry-After": "1"})


def _serialise(outcome: Outcome, response) -> Response:
    """The answer's JSON, built node by node (`codec`): run it in a thread."""
    r = outcome.response
    return Response(dump_response(response, r.verdict), media_type="application/json", headers={
        "X-Maldoc-Decision": r.decision.value, "X-Maldoc-Cache": "hit" if outcome.cached else "miss",
        "Server-Timing": f"scan;dur={r.service_ms}"})


async def answer(outcome: Outcome, response) -> Response:
    return await asyncio.to_thread(_serialise, outcome, response)


def email_answer(outcome: Outcome) -> Response:
    r = outcome.response
    parts = [PartSummary(path=c.path, name=c.name, sha256=c.sha256, file_type=c.file_type, label=c.label,
                         score=c.score) for c in (r.verdict.children if r.verdict else [])]
    return _serialise(outcome, EmailScanResponse(**dict(r), parts=parts))


def _declared(request: Request, service: Service, multipart: bool) -> int | None:
    limit = service.settings.max_bytes + (MULTIPART_SLACK if multipart else 0)
    return declared_length(request.headers, limit)


@router.post("", response_model=ScanResponse, responses=ERRORS, openapi_extra=_FILE_BODY,
             summary="Scan one file")
async def scan_file(request: Request, service: ServiceDep, filename: FilenameQuery = "",
                    password_header: PasswordHeader = None) -> Response:
    """Scan one attachment, sent as a multipart upload (form field `file`, passwords in repeated
    `password` fields) or as the raw body (any other content type) with its name in `filename`.
    Passwords may also come in repeated X-Maldoc-Password headers. The body is held in memory only."""
    require_ready(service)
    s = service.settings
    multipart = is_multipart(request)
    passwords([], password_header)  # refuse bad headers before reading the body
    async with service.uploads.admit(_declared(request, service, multipart)) as ticket:
        async with service.uploads.receiving_body():
            if multipart:
                upload = await read_upload(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
                data, name = upload.data, filename or upload.filename
                pws = passwords(upload.fields.get("password", []), password_header)
            else:
                data = await read_raw(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
                name = filename
                pws = passwords([], password_header)
        outcome = await service.scan(data, clean_name(name), kind="file", options=_options(service, pws))
        return await answer(outcome, outcome.response)


@router.post("/email", response_model=EmailScanResponse, responses=ERRORS, openapi_extra=_EMAIL_BODY,
             summary="Scan one e-mail message")
async def scan_email(request: Request, service: ServiceDep, filename: FilenameQuery = "message.eml",
                     password_header: PasswordHeader = None) -> Response:
    """Scan a raw RFC 822 message: its body and every attachment are scanned, one verdict per
    part (in `parts`, full verdicts in `verdict.children`) and one for the message. Passwords for
    its encrypted attachments come in repeated X-Maldoc-Password headers (tried with any the
    message's text announces)."""
    require_ready(service)
    s = service.settings
    pws = passwords([], password_header)
    async with service.uploads.admit(_declared(request, service, False)) as ticket:
        async with service.uploads.receiving_body():
            data = await read_raw(request, s.max_bytes, ticket=ticket, timeout_s=s.body_timeout_s)
        kind = await asyncio.to_thread(detect, data)  # an archive's whole directory is parsed to type it
        if kind not in (FileType.EMAIL, FileType.MHTML):
            raise BodyError(400, f"body is not an RFC 822 message (its content looks like {kind.value}); "
                            "send single files to /v1/scan")
        outcome = await service.scan(data, clean_name(filename), kind="email", options=_options(service, pws))
        return await asyncio.to_thread(email_answer, outcome)
