"""Dependencies shared by the routes: the service, and API-key / bearer-token authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .schemas import ErrorResponse
from .service import Service

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key from MALDOC_API_KEYS")
_bearer = HTTPBearer(auto_error=False, description="the same key as a bearer token")

AUTH_RESPONSES = {401: {"model": ErrorResponse, "description": "missing or invalid API key"}}
ADMIN_RESPONSES = {
    401: {"model": ErrorResponse, "description": "missing or invalid admin key"},
    403: {"model": ErrorResponse, "description": "admin endpoints disabled (MALDOC_ADMIN_KEYS unset)"},
}


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
ApiKeyDep = Annotated[str | None, Security(_api_key)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _check(keys: list[str], api_key: str | None, bearer: HTTPAuthorizationCredentials | None) -> None:
    supplied = api_key or (bearer.credentials if bearer else None)
    if supplied is None:
        raise HTTPException(401, "missing API key: send an X-API-Key header or Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    # compare against every key, always, in constant time per key: no early exit to time
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(supplied.encode(), key.encode())
    if not matched:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})


async def require_scan_key(service: ServiceDep, api_key: ApiKeyDep, bearer: BearerDep) -> None:
    """Scan endpoints: open when MALDOC_API_KEYS is unset, else one of those keys is needed."""
    if service.settings.api_keys:
        _check(service.settings.api_keys, api_key, bearer)


async def require_admin_key(service: ServiceDep, api_key: ApiKeyDep, bearer: BearerDep) -> None:
    """Admin endpoints: always authenticated; off entirely without MALDOC_ADMIN_KEYS."""
    if not service.settings.admin_keys:
        raise HTTPException(403, "admin endpoints are disabled: set MALDOC_ADMIN_KEYS to enable them")
    _check(service.settings.admin_keys, api_key, bearer)


ScanAuth = Depends(require_scan_key)
AdminAuth = Depends(require_admin_key)
