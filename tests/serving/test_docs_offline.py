"""`/docs` and `/redoc` render from the installed package's files alone: the service runs under a
real uvicorn on a loopback port, and headless Chromium, with every host but 127.0.0.1 unresolvable,
loads each page and must find the operations rendered. Skips when Chromium is absent
(scripts/install-browser.sh)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from browser import run
from serving_support import TestClient, settings

from maldoc.serving import docs
from maldoc.serving.app import create_app

OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-proxy-server")
EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?\s*(?:https?:)?//""", re.I)
START_S = 120.0  # upper bound of the wait for start-up (one worker process is warmed first)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(create_app(settings()), host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-docs-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_S
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, f"uvicorn not started after {START_S} s"
        time.sleep(0.1)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def page(base_url: str, path: str) -> str:
    r = httpx.get(base_url + path, timeout=30, trust_env=False)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def rendered(url: str) -> str:
    """The DOM after the page's scripts ran (virtual time: no wall-clock wait), no host but loopback."""
    return run(url, "--virtual-time-budget=20000", *OFFLINE, "--dump-dom").stdout


def test_pages_reference_no_external_url_and_their_assets_are_served(base_url):
    for path in ("/docs", "/redoc"):
        html = page(base_url, path)
        assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
        assets = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
        assert any(a.endswith(".js") for a in assets)
        for asset in assets:
            assert asset.startswith(docs.ASSETS_URL + "/"), asset
            r = httpx.get(base_url + asset, timeout=30, trust_env=False)
            assert r.status_code == 200 and len(r.content) > 1000, asset


def test_swagger_ui_renders_the_endpoint_list_offline(base_url):
    dom = rendered(base_url + "/docs")
    # Swagger UI builds these from /openapi.json: present only when its bundle ran and read the spec
    assert 'id="operations-scan-scan_file_v1_scan_post"' in dom, dom[:2000]
    for path in ("/v1/scan", "/v1/scan/email", "/v1/verdicts/{sha256}"):
        assert f'data-path="{path}"' in dom


def test_redoc_renders_the_operations_offline(base_url):
    dom = rendered(base_url + "/redoc")
    assert 'data-section-id="operation/scan_file_v1_scan_post"' in dom, dom[:2000]
    assert 'data-section-id="operation/get_verdict_v1_verdicts__sha256__get"' in dom
    assert "Scan one file" in dom


def test_without_the_assets_there_are_no_docs_pages_but_the_spec_stays(monkeypatch):
    monkeypatch.setattr(docs, "assets_dir", lambda: None)
    with TestClient(create_app(settings())) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert "/v1/scan" in client.get("/openapi.json").json()["paths"]
