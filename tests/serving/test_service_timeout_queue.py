"""Hard per-scan timeout with the operator's fail mode, and 503 + Retry-After when the queue is full."""

from __future__ import annotations

import threading
import time

import pytest
from slow_tasks import sleepy


@pytest.mark.parametrize(("mode", "decision"), [("report", "error"), ("open", "clean"), ("closed", "malicious")])
def test_timeout_answers_the_configured_fail_mode(make_client, mode, decision):
    c = make_client(task=sleepy, timeout_s=1.0, fail_mode=mode)
    r = c.post("/v1/scan", params={"filename": "slow.doc"}, content=b"SLEEP 30")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["failure"] == "timeout"
    assert doc["decision"] == decision
    assert doc["verdict"]["label"] == "error"  # the verdict itself stays honest
    assert "timed_out" in doc["verdict"]["flags"]
    assert "maldoc_scan_timeouts_total 1.0" in c.get("/metrics").text
    # a timed-out file is not cached: it is scanned (and times out) again
    assert c.post("/v1/scan", content=b"SLEEP 30").json()["cached"] is False
    # and the pool recovered: a normal file still scans. The worker started in place of a killed one
    # imports the engine on its first file, which on a loaded machine can itself pass timeout_s=1:
    # allow that cold start a few tries (core/pool.py's worker initializer could import up front).
    failures = [c.post("/v1/scan", content=b"fine %d" % i).json()["failure"] for i in range(3)]
    assert None in failures, failures


def test_full_queue_answers_503_with_retry_after(make_client):
    c = make_client(task=sleepy, max_queue=1, timeout_s=20.0)
    service = c.app.state.service
    first: dict = {}

    def slow_request():
        first["response"] = c.post("/v1/scan", content=b"SLEEP 1.5")

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 10
    while service.engine.inflight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.engine.inflight == 1
    r = c.post("/v1/scan", content=b"another file")
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["retry_after_s"] == int(r.headers["Retry-After"])
    thread.join(30)
    assert first["response"].status_code == 200
    # the slot is free again once the pool finished the file
    assert c.post("/v1/scan", content=b"another file").status_code == 200
    assert "maldoc_queue_rejections_total 1.0" in c.get("/metrics").text


def test_internal_error_follows_the_fail_mode(make_client, monkeypatch, caplog):
    async def broken(self, node, scorer=None, options=None):
        raise RuntimeError("evidence: secret-content")

    import maldoc.engine as engine_module

    monkeypatch.setattr(engine_module.Engine, "verdict_async", broken)  # the service's scoring step fails
    report = make_client(fail_mode="report")
    r = report.post("/v1/scan", content=b"abc")
    assert r.status_code == 500
    assert "internal error" in r.json()["detail"]
    closed = make_client(fail_mode="closed")
    r = closed.post("/v1/scan", content=b"abc")
    assert r.status_code == 200
    assert r.json()["decision"] == "malicious" and r.json()["failure"] == "internal_error"
    assert r.json()["verdict"] is None
    assert 'maldoc_scan_errors_total{kind="internal_error"} 1.0' in closed.get("/metrics").text
    assert "RuntimeError" in caplog.text
    assert "secret-content" not in caplog.text  # exception messages may quote content: never logged
