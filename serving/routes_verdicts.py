"""GET /v1/verdicts/{sha256}: the verdict cache's answer for a file scanned earlier, without the file.

The cache is keyed by sha256, model, options, limits and endpoint, so the lookup finds what a scan
with no password would be answered with now: the current model, the service's options and
limits, a file sent to `/v1/scan` first, else a message sent to `/v1/scan/email`. A file scanned
only with passwords (or only under an earlier model) is not found (404): its verdict depends on
what the lookup does not carry. The verdict is shown under its sha256, never under the name it
was sent with (another client's file name is not this caller's to see).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from maldoc.verdict import Verdict

from .cache import cache_key
from .codec import unpack
from .deps import AUTH_RESPONSES, ScanAuth, ServiceDep
from .routes_scan import answer, email_answer, require_ready
from .schemas import EmailScanResponse, ErrorResponse, ScanResponse
from .service import Outcome, Service

router = APIRouter(prefix="/v1/verdicts", tags=["verdicts"], dependencies=[ScanAuth])

KINDS = ("file", "email")  # the endpoints' cache entries, in the order they are looked up
Sha256Path = Annotated[str, Path(pattern="^[0-9A-Fa-f]{64}$", description="the file's SHA-256, 64 hex digits")]

RESPONSES = {
    **AUTH_RESPONSES,
    404: {"model": ErrorResponse, "description": "no cached verdict for this sha256 under the current model "
          "and the default options"},
    422: {"description": "not a SHA-256 (64 hex digits)"},
    503: {"model": ErrorResponse, "description": "the service is not ready yet"},
}


def _decode(blob: bytes, name: str) -> Verdict | None:
    """The cached verdict shown under `name` (its sha256): paths, locations and errors renamed."""
    try:
        return unpack(blob, name)
    except ValueError:  # pydantic's ValidationError is one: an entry another version wrote
        return None


async def cached(service: Service, digest: str) -> tuple[str, Verdict] | None:
    """(endpoint kind, verdict) of the cache entry a password-less scan of `digest` would hit now."""
    loaded = service.models.current
    for kind in KINDS:
        key = cache_key(digest, loaded.cache_id, service.options, service.limits, kind, secret=service.cache.secret)
        blob = await service.cache.get(key)
        if blob is not None:
            verdict = await asyncio.to_thread(_decode, blob, digest)
            if verdict is not None:
                return kind, verdict
    return None


@router.get("/{sha256}", response_model=ScanResponse | EmailScanResponse, responses=RESPONSES,
            summary="Look up a cached verdict by SHA-256")
async def get_verdict(sha256: Sha256Path, service: ServiceDep) -> Response:
    """The verdict the cache holds for this SHA-256, as the scan endpoints answered it (`cached`
    true; with `parts` when it was a message), for the current model and the service's default
    options: a file scanned only with passwords is 404. Nothing is scanned."""
    require_ready(service)
    started = time.perf_counter()
    digest = sha256.lower()
    found = await cached(service, digest)
    if found is None:
        raise HTTPException(404, "no cached verdict for this sha256 under the current model and default options")
    kind, verdict = found
    response = ScanResponse(decision=service.engine.policy.decide(verdict.label), sha256=digest,
                            score=verdict.score, model_version=service.models.current.version, cached=True,
                            failure=None, service_ms=round((time.perf_counter() - started) * 1000, 3),
                            verdict=verdict)
    outcome = Outcome(response, cached=True)
    if kind == "email":
        return await asyncio.to_thread(email_answer, outcome)
    return await answer(outcome, response)
