"""`/docs` (Swagger UI) and `/redoc` (ReDoc) from files inside the installed packages, never a CDN.

FastAPI's own pages load their JavaScript from a CDN, so on a gateway without internet `/docs`
is a blank page. fastapi-offline ships Swagger UI's bundle and stylesheet and ReDoc's standalone
bundle; they are served from `ASSETS_URL` and the pages are FastAPI's, pointed at them. A page
whose asset is missing (an install without the package) is not served at all rather than
served from a CDN: `/openapi.json` stays available either way.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger("maldoc.serving")

ASSETS_URL = "/docs-assets"
SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON = "swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", \
    "favicon.png"
# Swagger UI checks the spec against an online validator unless told not to.
SWAGGER_PARAMETERS = {"validatorUrl": None, "defaultModelsExpandDepth": 0}


def assets_dir() -> Path | None:
    """The folder holding the UI files (fastapi-offline's `static`), or None when it is not installed."""
    try:
        folder = Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        return None
    return folder if folder.is_dir() else None


def install_docs(app: FastAPI) -> list[str]:
    """Add the offline docs pages to `app` (built with `docs_url=None, redoc_url=None`); returns the
    pages served."""
    folder = assets_dir()
    has = {name: folder is not None and (folder / name).is_file()
           for name in (SWAGGER_JS, SWAGGER_CSS, REDOC_JS, FAVICON)}
    served: list[str] = []
    if folder is None or not (has[SWAGGER_JS] or has[REDOC_JS]):
        log.warning("API docs: fastapi-offline's files are not installed; /docs and /redoc are off "
                    "(/openapi.json still answers)")
        return served
    app.mount(ASSETS_URL, StaticFiles(directory=folder), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"

    def favicon(request: Request) -> str:
        return asset(request, FAVICON) if has[FAVICON] else "data:,"

    if has[SWAGGER_JS] and has[SWAGGER_CSS]:
        @app.get("/docs", include_in_schema=False)
        async def swagger_ui(request: Request) -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=f"{request.scope.get('root_path', '')}{openapi_url}", title=f"{app.title} - Swagger UI",
                swagger_js_url=asset(request, SWAGGER_JS), swagger_css_url=asset(request, SWAGGER_CSS),
                swagger_favicon_url=favicon(request), oauth2_redirect_url=redirect_url,
                swagger_ui_parameters=SWAGGER_PARAMETERS)

        if redirect_url:
            @app.get(redirect_url, include_in_schema=False)
            async def swagger_ui_redirect() -> HTMLResponse:
                return get_swagger_ui_oauth2_redirect_html()

        served.append("/docs")
    if has[REDOC_JS]:
        @app.get("/redoc", include_in_schema=False)
        async def redoc(request: Request) -> HTMLResponse:
            return get_redoc_html(
                openapi_url=f"{request.scope.get('root_path', '')}{openapi_url}", title=f"{app.title} - ReDoc",
                redoc_js_url=asset(request, REDOC_JS), redoc_favicon_url=favicon(request), with_google_fonts=False)

        served.append("/redoc")
    return served
