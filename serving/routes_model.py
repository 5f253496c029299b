"""GET /v1/model, and the authenticated admin endpoints that reload or roll back the model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from .deps import ADMIN_RESPONSES, AdminAuth, ServiceDep
from .modelstore import Loaded
from .schemas import ErrorResponse, ModelInfo, ModelResponse, ReloadRequest

router = APIRouter(tags=["model"])


def _info(loaded: Loaded | None) -> ModelInfo | None:
    return ModelInfo(**loaded.describe()) if loaded else None


def _response(service) -> ModelResponse:
    current = service.models.current
    if current is None:
        raise HTTPException(503, "no model loaded yet")
    return ModelResponse(**current.describe(), previous=_info(service.models.previous))


@router.get("/v1/model", response_model=ModelResponse, summary="The model answering scans",
            responses={503: {"model": ErrorResponse, "description": "no model loaded yet"}})
async def model_info(service: ServiceDep) -> ModelResponse:
    """Version, feature schema, thresholds and evaluation metrics of the model that answers scans,
    and of the previous one kept for rollback."""
    return _response(service)


@router.post("/v1/admin/model/reload", response_model=ModelResponse, dependencies=[AdminAuth],
             summary="Load a model bundle and put it in service",
             responses={**ADMIN_RESPONSES, 422: {"model": ErrorResponse, "description":
                        "the bundle failed to load or its self-check; the current model stays"}})
async def reload_model(service: ServiceDep, request: Annotated[ReloadRequest | None, Body()] = None) -> ModelResponse:
    """Load the bundle (default: the configured MALDOC_MODEL, e.g. after replacing its files),
    self-check it, then swap it in; the model it replaces is kept for rollback. Same as SIGHUP."""
    try:
        await service.reload(request.path if request else None)
    except Exception as exc:
        raise HTTPException(422, f"model not reloaded, current one kept: {type(exc).__name__}: {exc}") from None
    return _response(service)


@router.post("/v1/admin/model/rollback", response_model=ModelResponse, dependencies=[AdminAuth],
             summary="Put the previous model back in service",
             responses={**ADMIN_RESPONSES, 409: {"model": ErrorResponse, "description": "no previous model"}})
async def rollback_model(service: ServiceDep) -> ModelResponse:
    try:
        await service.rollback()
    except LookupError as exc:
        raise HTTPException(409, str(exc)) from None
    return _response(service)
