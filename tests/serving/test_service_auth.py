"""API-key and bearer-token authentication on the scan and admin endpoints."""

from __future__ import annotations

import pytest
from serving_support import message_with_attachments


@pytest.fixture(scope="module")
def secured(request):
    from serving_support import TestClient, create_app_unstarted

    with TestClient(create_app_unstarted(api_keys=["k-one", "k-two"], admin_keys=["adm"])) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/scan", "/v1/scan/email"])
def test_scan_endpoints_refuse_requests_without_a_key(secured, path):
    r = secured.post(path, content=message_with_attachments())
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "missing API key" in r.json()["detail"]


def test_wrong_key_is_refused(secured):
    r = secured.post("/v1/scan", content=b"abc", headers={"X-API-Key": "k-three"})
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid API key"
    r = secured.post("/v1/scan", content=b"abc", headers={"Authorization": "Bearer k-on"})
    assert r.status_code == 401


def test_api_key_header_and_bearer_token_are_accepted(secured):
    assert secured.post("/v1/scan", content=b"abc", headers={"X-API-Key": "k-two"}).status_code == 200
    assert secured.post("/v1/scan", content=b"abc", headers={"Authorization": "Bearer k-one"}).status_code == 200


def test_probes_stay_open(secured):
    for path in ("/healthz", "/readyz", "/metrics", "/v1/model"):
        assert secured.get(path).status_code == 200, path


def test_admin_needs_an_admin_key_not_a_scan_key(secured):
    assert secured.post("/v1/admin/model/rollback").status_code == 401
    assert secured.post("/v1/admin/model/rollback", headers={"X-API-Key": "k-one"}).status_code == 401
    # authenticated: nothing to roll back to yet
    assert secured.post("/v1/admin/model/rollback", headers={"X-API-Key": "adm"}).status_code == 409


def test_admin_endpoints_are_off_without_admin_keys(make_client):
    c = make_client()
    r = c.post("/v1/admin/model/reload", headers={"X-API-Key": "anything"})
    assert r.status_code == 403
    assert "MALDOC_ADMIN_KEYS" in r.json()["detail"]


def test_no_keys_configured_means_open_scanning(client):
    assert client.post("/v1/scan", content=b"abc").status_code == 200
