"""GET /v1/verdicts/{sha256}: a cached verdict by hash, from the in-process cache and from a Redis
shared with another replica; 404 when unknown, 422 for a malformed hash, the scan endpoints' auth."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import pytest
from gateway_env import free_port, missing, process, wait_port
from serving_support import TestClient, html_smuggling, message_with_attachments, settings

from maldoc.serving.app import create_app
from maldoc.serving.routes_scan import PASSWORD_HEADER

from builders import make_encrypted_zip


def test_a_scanned_file_is_found_by_its_sha256(client):
    data = html_smuggling() + b"<!-- lookup -->"
    digest = hashlib.sha256(data).hexdigest()
    scanned = client.post("/v1/scan", params={"filename": "private-invoice.html"}, content=data).json()

    r = client.get(f"/v1/verdicts/{digest}")
    assert r.status_code == 200, r.text
    assert r.headers["X-Maldoc-Cache"] == "hit"
    doc = r.json()
    assert doc["cached"] is True and doc["failure"] is None
    assert doc["sha256"] == digest
    for field in ("decision", "score", "model_version"):
        assert doc[field] == scanned[field]
    assert [(f["rule_id"], f["evidence"]) for f in doc["verdict"]["findings"]] == \
        [(f["rule_id"], f["evidence"]) for f in scanned["verdict"]["findings"]]
    assert scanned["verdict"]["findings"][0]["location"] == "private-invoice.html"
    # shown under its sha256, never under the name another client sent it with
    assert doc["verdict"]["name"] == doc["verdict"]["path"] == doc["verdict"]["findings"][0]["location"] == digest
    assert "private-invoice" not in r.text
    assert r.headers["X-Maldoc-Decision"] == doc["decision"]

    upper = client.get(f"/v1/verdicts/{digest.upper()}")
    assert upper.status_code == 200 and upper.json()["sha256"] == digest


def test_embedded_items_are_shown_under_the_sha256_too(client):
    from builders import make_zip

    data = make_zip({"run.js": b"new ActiveXObject('WScript.Shell').Run('cmd /c calc');"})
    client.post("/v1/scan", params={"filename": "secret-project.zip"}, content=data)
    doc = client.get(f"/v1/verdicts/{hashlib.sha256(data).hexdigest()}").json()
    (child,) = doc["verdict"]["children"]
    assert child["path"] == f"{doc['sha256']} > run.js"
    assert "secret-project" not in str(doc)


def test_a_scanned_message_is_found_with_its_parts(client):
    raw = message_with_attachments()
    scanned = client.post("/v1/scan/email", content=raw).json()
    r = client.get(f"/v1/verdicts/{hashlib.sha256(raw).hexdigest()}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["cached"] is True
    assert [p["sha256"] for p in doc["parts"]] == [p["sha256"] for p in scanned["parts"]]
    assert doc["decision"] == scanned["decision"]


def test_unknown_hash_is_404_json(client):
    r = client.get("/v1/verdicts/" + "0" * 64)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "no cached verdict" in r.json()["detail"]


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "0" * 63, "0" * 65, "0" * 64 + "%20"])
def test_malformed_hash_is_422(client, bad):
    r = client.get(f"/v1/verdicts/{bad}")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["path", "sha256"]


def test_a_file_scanned_only_with_passwords_is_not_found(client):
    data = make_encrypted_zip({"a.js": b"WScript.Echo(1)"}, "pw-lookup")
    r = client.post("/v1/scan", content=data, headers={PASSWORD_HEADER: "pw-lookup"})
    assert r.status_code == 200
    assert client.get(f"/v1/verdicts/{hashlib.sha256(data).hexdigest()}").status_code == 404


def test_lookup_needs_the_scan_key(make_client):
    client = make_client(api_keys=["scan-key"])
    data = b"hello, lookup with a key"
    assert client.post("/v1/scan", content=data, headers={"X-API-Key": "scan-key"}).status_code == 200
    url = f"/v1/verdicts/{hashlib.sha256(data).hexdigest()}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer scan-key"}).status_code == 200


def test_lookup_is_documented(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/verdicts/{sha256}"]["get"]
    assert {"200", "401", "404", "422"} <= set(op["responses"])


def test_a_reload_to_another_model_forgets_the_old_verdicts(make_client, tmp_path):
    from serving_support import make_bundle

    client = make_client(admin_keys=["adm"], models_dir=str(tmp_path))
    data = b"hello, before the reload"
    client.post("/v1/scan", content=data)
    url = f"/v1/verdicts/{hashlib.sha256(data).hexdigest()}"
    assert client.get(url).json()["model_version"] == "rules"
    bundle = make_bundle(tmp_path / "m", "lookup-2")
    r = client.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers={"X-API-Key": "adm"})
    assert r.status_code == 200, r.text
    assert client.get(url).status_code == 404  # its verdict was the old model's


@contextmanager
def redis_server(folder):
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), "--daemonize", "no"]
    with process(args, folder / "redis.log") as proc:
        wait_port(port, proc=proc)
        yield port


@pytest.mark.slow
@pytest.mark.skipif(missing("redis-server") is not None, reason=str(missing("redis-server")))
def test_a_replica_finds_the_verdict_another_one_cached_in_redis(tmp_path):
    with redis_server(tmp_path) as port:
        shared = {"redis_url": f"redis://127.0.0.1:{port}/0", "cache_hmac_key": "replicas-share-this-key"}
        data = html_smuggling() + b"<!-- shared -->"
        url = f"/v1/verdicts/{hashlib.sha256(data).hexdigest()}"
        with TestClient(create_app(settings(**shared))) as one:
            scanned = one.post("/v1/scan", content=data).json()
            assert scanned["cached"] is False
        with TestClient(create_app(settings(**shared))) as two:  # an empty in-process cache: only Redis has it
            r = two.get(url)
            assert r.status_code == 200, r.text
            assert r.json()["cached"] is True and r.json()["decision"] == scanned["decision"]
        other = {**shared, "cache_hmac_key": "another-key"}
        with TestClient(create_app(settings(**other))) as three:  # its HMAC check refuses the entry
            assert three.get(url).status_code == 404
