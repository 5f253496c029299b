"""The real thing: `python -m maldoc.serving` under uvicorn on loopback, SIGHUP reload, clean stop."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from serving_support import make_bundle

MARKER = b"SECRET-CONTENT-MARKER-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path):
    bundle = make_bundle(tmp_path / "bundle", "hup-1")
    port = free_port()
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALDOC_")}
    env.update(MALDOC_API_KEYS="scan-key", MALDOC_LOG_LEVEL="info")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "maldoc.serving", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "1", "--model", str(bundle)], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            def ready():
                assert proc.poll() is None, log.read_text()
                return client.get("/readyz").status_code == 200

            wait_for(ready, 90, "the service to become ready")
            yield proc, client, bundle, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
def test_real_server_scans_reloads_on_sighup_and_stops_cleanly(server):
    proc, client, bundle, log = server
    auth = {"Authorization": "Bearer scan-key"}
    data = b"<html><body>" + MARKER + b"</body></html>"

    assert client.post("/v1/scan", content=data).status_code == 401
    r = client.post("/v1/scan", params={"filename": "private-name.html"}, content=data, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == "hup-1"
    r = client.post("/v1/scan", files={"file": ("x.html", data)}, headers=auth)
    assert r.json()["cached"] is True

    make_bundle(bundle, "hup-2")  # replace the bundle in place, then signal
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: client.get("/v1/model").json()["version"] == "hup-2", 30, "the SIGHUP reload")
    model = client.get("/v1/model").json()
    assert model["previous"]["version"] == "hup-1"
    assert client.post("/v1/scan", content=data, headers=auth).json()["model_version"] == "hup-2"

    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit -15) by design
    assert proc.wait(60) in (0, -signal.SIGTERM)
    text = log.read_bytes()
    assert b"Application shutdown complete" in text
    assert hashlib.sha256(data).hexdigest().encode() in text  # scans are logged by sha256 ...
    assert MARKER not in text  # ... never by content
    assert b"private-name" not in text  # ... nor by file name
    assert b"model reload: hup-2" in text
