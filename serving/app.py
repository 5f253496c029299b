"""Builds the FastAPI app: settings, lifespan (model, pool, SIGHUP reload), routers, error handlers.

`uvicorn --factory maldoc.serving.app:create_app` or `maldoc serve` runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from maldoc import __version__
from maldoc.engine import QueueFull
from maldoc.pool import TaskFn, analyze_task

from . import routes_feedback, routes_health, routes_model, routes_scan, routes_verdicts
from .body import BodyError
from .docs import install_docs
from .framing import FramingMiddleware
from .metrics import MetricsMiddleware
from .requestid import RequestIdMiddleware
from .service import InternalScanError, Service
from .settings import Settings

log = logging.getLogger("maldoc.serving")

DESCRIPTION = """Static analysis of e-mail attachments for mail gateways.

Send each attachment to `POST /v1/scan`, or the whole message to `POST /v1/scan/email`, and act on
`decision`: `malicious`, `suspicious`, `clean`, or `error` (the analysis could not complete; with
`MALDOC_FAIL_MODE=open` or `closed` the service answers `clean` or `malicious` instead).
Passwords for encrypted attachments go in repeated `password` form fields or `X-Maldoc-Password`
headers. Identical files are answered from a verdict cache, which `GET /v1/verdicts/{sha256}`
also answers from. Nothing sent is written to disk or logged.
"""


def _install_sighup(service: Service) -> bool:
    """SIGHUP reloads the configured model (main thread only: not under TestClient)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task] = set()

    async def reload() -> None:
        with contextlib.suppress(Exception):  # logged by Service.reload; the old model keeps answering
            await service.reload()

    def on_signal() -> None:
        task = loop.create_task(reload())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_signal)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        return False
    return True


def create_app(settings: Settings | None = None, *, task: TaskFn = analyze_task) -> FastAPI:
    """The app for `settings` (default: from the environment). `task` replaces the pool's scan
    function (tests pass slow or crashing ones)."""
    settings = settings or Settings()
    service = Service(settings, task=task)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        hup = _install_sighup(service)
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await service.stop()

    app = FastAPI(title="maldoc scanning service", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # the docs pages: offline ones, below
    app.state.service = service
    app.add_middleware(FramingMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outside the framing checks: their refusals carry the id too
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    app.include_router(routes_scan.router)
    app.include_router(routes_model.router)
    app.include_router(routes_health.router)
    app.include_router(routes_feedback.router)
    app.include_router(routes_verdicts.router)
    install_docs(app)

    @app.exception_handler(BodyError)
    async def body_error(request: Request, exc: BodyError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the offending input; say where and what, never the value
        errors = [{"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": e.get("msg", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "retry_after_s": exc.retry_after_s}, status_code=503,
                            headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(InternalScanError)
    async def internal(request: Request, exc: InternalScanError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    return app
