"""Request ids on every answer and log line; JSON log lines with the scan's fields."""

from __future__ import annotations

import json
import logging
import re

from maldoc.serving.requestid import REQUEST_ID, JsonFormatter, RequestIdFilter


def test_the_callers_id_is_returned_and_a_missing_one_is_made(client):
    r = client.post("/v1/scan", content=b"hello", headers={"X-Request-ID": "gw-4711.a"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "gw-4711.a"
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/healthz").headers["x-request-id"] != made


def test_an_unsafe_id_is_replaced_not_echoed(client):
    r = client.get("/healthz", headers={"X-Request-ID": "a b\"<script>" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


def test_refusals_carry_the_id_too(client):
    r = client.post("/v1/scan", content=b"x", headers={"X-Request-ID": "refused-1", "Content-Length": "1",
                                                      "Transfer-Encoding": "chunked"})
    assert r.status_code == 400 and r.headers["x-request-id"] == "refused-1"


def test_scan_log_lines_carry_the_id_and_json_has_the_scan_fields(client, caplog):
    caplog.set_level(logging.INFO, logger="maldoc.serving")
    caplog.handler.addFilter(RequestIdFilter())  # as `maldoc serve` installs it on its handler
    client.post("/v1/scan", content=b"hello there", headers={"X-Request-ID": "trace-42"})
    record = next(r for r in caplog.records if r.getMessage().startswith("scan sha256="))
    assert record.request_id == "trace-42"  # set while the request was handled
    assert REQUEST_ID.get() == "-"  # and gone once it ended
    doc = json.loads(JsonFormatter().format(record))
    assert doc["request_id"] == "trace-42"
    assert {"time", "level", "request_id", "sha256", "type", "verdict", "score", "ms"} <= set(doc)
    assert doc["verdict"] == "clean" and len(doc["sha256"]) == 64
