"""Liveness, readiness and Prometheus metrics (unauthenticated, like every probe)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import ServiceDep
from .schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, summary="Readiness: the model is loaded and workers started",
            responses={503: {"model": Ready, "description": "not ready yet (or shutting down)"}})
async def readyz(service: ServiceDep) -> Response:
    current = service.models.current
    if service.ready and current is not None:
        return JSONResponse(Ready(ready=True, model_version=current.version).model_dump())
    detail = "model not loaded" if current is None else "scan workers not started"
    return JSONResponse(Ready(ready=False, detail=detail).model_dump(), status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition format"}})
async def metrics(service: ServiceDep) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
