"""The milter's REST scanner against the real `maldoc serve` on loopback: the two sides agree on
the endpoint, the body, the API-key header and the answer's shape."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from postfix_env import free_port, wait_port

from maldoc.serving.milter_scan import RestScanner

pytest.importorskip("fastapi", reason="the service needs the serve extra")
pytest.importorskip("uvicorn", reason="the service needs the serve extra")
pytestmark = pytest.mark.slow

RAW = (b"From: alice@sender.test\r\nTo: bob@example.test\r\nSubject: minutes\r\nMessage-ID: <1@sender.test>\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe minutes are below.\r\n")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return response.status == 200
    except OSError:  # refused, or 503 until the model is loaded
        return False


@pytest.fixture(scope="module")
def service():
    port = free_port()
    env = {**os.environ, "MALDOC_API_KEYS": "milter-key"}
    proc = subprocess.Popen([sys.executable, "-m", "maldoc.cli", "serve", "--port", str(port), "--workers", "1",
                             "--model", "rules"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout_s=120, proc=proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert proc.poll() is None and time.monotonic() < deadline, "maldoc serve never became ready"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_rest_scanner_gets_a_verdict_from_the_service(service):
    outcome = RestScanner(service, api_key="milter-key", timeout_s=60).scan(RAW)
    assert outcome.label == "clean", outcome
    assert outcome.sha256 == hashlib.sha256(RAW).hexdigest()
    assert outcome.model_version == "rules"


def test_rest_scanner_without_the_key_is_an_error(service):
    outcome = RestScanner(service, timeout_s=60).scan(RAW)
    assert outcome.label == "error" and "401" in outcome.error
