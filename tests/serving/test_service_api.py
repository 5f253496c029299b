"""The scan endpoint, its errors, the cache, metrics, probes and the OpenAPI document."""

from __future__ import annotations

import hashlib

from serving_support import TestClient, create_app_unstarted, docx_with_remote_template, html_smuggling


def test_raw_body_scan_answers_a_verdict(client):
    data = html_smuggling()
    r = client.post("/v1/scan", params={"filename": "invoice.html"}, content=data,
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["sha256"] == hashlib.sha256(data).hexdigest() == doc["verdict"]["sha256"]
    assert doc["verdict"]["file_type"] == "html"
    assert doc["verdict"]["name"] == "invoice.html"
    assert doc["decision"] == doc["verdict"]["label"]
    assert doc["model_version"] == "rules"
    assert doc["failure"] is None
    assert r.headers["X-Maldoc-Decision"] == doc["decision"]


def test_multipart_upload_takes_the_file_name_from_the_part(client):
    r = client.post("/v1/scan", files={"file": ("report.docx", docx_with_remote_template(), "application/zip")})
    assert r.status_code == 200, r.text
    verdict = r.json()["verdict"]
    assert verdict["name"] == "report.docx"
    assert verdict["file_type"] == "ooxml"


def test_file_names_are_reduced_to_a_clean_last_component(client):
    r = client.post("/v1/scan", params={"filename": "C:\\Users\\x\\..\\evil\x07.txt"}, content=b"hello there")
    assert r.json()["verdict"]["name"] == "evil.txt"


def test_identical_file_is_answered_from_the_cache(client):
    data = b"cache me if you can " + b"x" * 100
    first = client.post("/v1/scan", params={"filename": "one.txt"}, content=data).json()
    second = client.post("/v1/scan", params={"filename": "two.txt"}, content=data)
    assert first["cached"] is False
    assert second.json()["cached"] is True
    assert second.headers["X-Maldoc-Cache"] == "hit"
    assert second.json()["verdict"]["name"] == "two.txt"  # the cached verdict wears this request's name
    assert second.json()["sha256"] == first["sha256"]
    metrics = client.get("/metrics").text
    assert 'maldoc_cache_lookups_total{backend="memory",result="hit"}' in metrics


def test_cache_can_be_turned_off(make_client):
    c = make_client(cache_size=0)
    for _ in range(2):
        assert c.post("/v1/scan", content=b"no cache here").json()["cached"] is False


def test_malformed_multipart_is_400(client):
    body = b'--xyz\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--xyz--\r\n'
    r = client.post("/v1/scan", content=body,
                    headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400
    assert "no file part" in r.json()["detail"]
    r = client.post("/v1/scan", content=b"whatever", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400
    assert "boundary" in r.json()["detail"]


def test_two_files_in_one_request_is_400(client):
    r = client.post("/v1/scan", files=[("file", ("a.txt", b"a")), ("file", ("b.txt", b"b"))])
    assert r.status_code == 400
    assert "one file" in r.json()["detail"]


def test_overlong_file_name_is_cut_not_refused(client):
    r = client.post("/v1/scan", params={"filename": "x" * 2000 + ".pdf"}, content=b"abc")
    assert r.status_code == 200
    assert r.json()["verdict"]["name"] == "x" * 255


def test_invalid_parameters_are_422_without_echoing_the_input(client):
    r = client.post("/v1/admin/model/reload", json={"path": ["MARKER-IN-INPUT"]},
                    headers={"X-API-Key": "admin-secret"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "path"]
    assert "MARKER-IN-INPUT" not in r.text


def test_probes_and_model_info(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    info = client.get("/v1/model").json()
    assert info["version"] == "rules" and info["kind"] == "rules"
    assert info["thresholds"] == {"malicious": 0.7, "suspicious": 0.4}
    assert info["schema_id"] and info["n_features"] > 0


def test_not_ready_before_start_up():
    app = create_app_unstarted()
    c = TestClient(app)  # not entered: lifespan has not run, no model is loaded
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["ready"] is False
    r = c.post("/v1/scan", content=b"abc")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"


def test_metrics_count_requests_verdicts_and_latency(client):
    client.post("/v1/scan", content=b"metrics sample")
    text = client.get("/metrics").text
    for name in ("maldoc_http_requests_total", "maldoc_http_request_duration_seconds_bucket",
                 "maldoc_scan_duration_seconds_bucket", "maldoc_verdicts_total", "maldoc_scans_inflight",
                 "maldoc_model_info", "maldoc_cache_lookups_total"):
        assert name in text, name
    assert 'maldoc_http_requests_total{method="POST",route="/v1/scan",status="200"}' in text
    assert 'maldoc_model_info{source="rules",version="rules"} 1.0' in text


def test_unknown_paths_do_not_create_metric_series(client):
    client.get("/no/such/path/12345")
    text = client.get("/metrics").text
    assert "12345" not in text
    assert 'route="unmatched"' in text


def test_openapi_documents_every_response(client):
    spec = client.get("/openapi.json").json()
    scan = spec["paths"]["/v1/scan"]["post"]
    assert {"200", "400", "401", "413", "422", "500", "503"} <= set(scan["responses"])
    assert "Retry-After" in scan["responses"]["503"]["headers"]
    assert {"multipart/form-data", "application/octet-stream"} <= set(scan["requestBody"]["content"])
    email = spec["paths"]["/v1/scan/email"]["post"]
    assert {"200", "400", "401", "413", "503"} <= set(email["responses"])
    assert "message/rfc822" in email["requestBody"]["content"]
    reload = spec["paths"]["/v1/admin/model/reload"]["post"]
    assert {"200", "401", "403", "422"} <= set(reload["responses"])
    for path in ("/v1/model", "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schemes)
