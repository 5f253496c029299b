"""Passwords for encrypted attachments over HTTP: `password` form fields and `X-Maldoc-Password`
headers on both scan endpoints, their bounds, and a verdict cache that keys on them without
holding them (nor logging them) in clear."""

from __future__ import annotations

import email.message
import logging

import pytest

from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.serving.cache import cache_key, password_tag
from maldoc.serving.routes_scan import MAX_PASSWORD_CHARS, MAX_PASSWORDS, PASSWORD_HEADER

from builders import make_encrypted_zip

PASSWORD = "Kx7-vault-2291"
DROPPER = b"var s = new ActiveXObject('WScript.Shell'); s.Run('powershell -nop -w hidden -enc SQBFAFgA');"


@pytest.fixture(scope="module")
def locked() -> bytes:
    return make_encrypted_zip({"invoice.js": DROPPER}, PASSWORD)


def message(attachment: bytes) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "billing@example.org"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Invoice 4471"
    msg.set_content("Hello,\nthe invoice is attached.\n")  # announces no password: only the header gives it
    msg.add_attachment(attachment, maintype="application", subtype="zip", filename="invoice.zip")
    return msg.as_bytes()


def assert_locked(zip_verdict: dict) -> None:
    assert "encrypted" in zip_verdict["flags"]
    assert zip_verdict["children"] == []  # not opened: the member was never scanned


def assert_opened(zip_verdict: dict) -> None:
    assert "encrypted" not in zip_verdict["flags"]
    (member,) = zip_verdict["children"]
    assert member["name"] == "invoice.js"
    assert member["label"] in ("malicious", "suspicious"), member  # the script inside was scanned
    assert member["findings"]


def test_multipart_password_fields_open_the_archive(client, locked):
    without = client.post("/v1/scan", files={"file": ("invoice.zip", locked)})
    assert without.status_code == 200, without.text
    assert_locked(without.json()["verdict"])

    r = client.post("/v1/scan", files={"file": ("invoice.zip", locked)}, data={"password": ["wrong", PASSWORD]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["cached"] is False  # the password-less verdict is not this request's answer
    assert_opened(doc["verdict"])


def test_raw_body_password_headers_open_the_archive_and_the_cache_keeps_them_apart(client):
    data = make_encrypted_zip({"invoice.js": DROPPER}, PASSWORD)  # another salt: another sha256
    headers = [(PASSWORD_HEADER, "nope"), (PASSWORD_HEADER, PASSWORD)]
    opened = client.post("/v1/scan", params={"filename": "invoice.zip"}, content=data, headers=headers)
    assert opened.status_code == 200, opened.text
    assert_opened(opened.json()["verdict"])

    again = client.post("/v1/scan", params={"filename": "invoice.zip"}, content=data, headers=headers)
    assert again.json()["cached"] is True  # same file, same passwords: one scan
    assert_opened(again.json()["verdict"])

    plain = client.post("/v1/scan", params={"filename": "invoice.zip"}, content=data)
    assert plain.json()["cached"] is False  # the opened verdict is not served without the password
    assert_locked(plain.json()["verdict"])


def test_email_endpoint_takes_password_headers(client, locked):
    raw = message(locked)
    without = client.post("/v1/scan/email", content=raw, headers={"Content-Type": "message/rfc822"})
    assert without.status_code == 200, without.text
    zips = [c for c in without.json()["verdict"]["children"] if c["name"] == "invoice.zip"]
    assert len(zips) == 1
    assert_locked(zips[0])

    r = client.post("/v1/scan/email", content=raw, headers={"Content-Type": "message/rfc822",
                                                            PASSWORD_HEADER: PASSWORD})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["cached"] is False
    (zipped,) = [c for c in doc["verdict"]["children"] if c["name"] == "invoice.zip"]
    assert_opened(zipped)
    assert doc["decision"] in ("malicious", "suspicious")


@pytest.mark.parametrize("passwords, what", [
    (["p"] * (MAX_PASSWORDS + 1), "passwords given"),
    (["x" * (MAX_PASSWORD_CHARS + 1)], "characters"),
    ([""], "empty"),
])
def test_password_bounds_are_422_naming_the_bound(client, locked, passwords, what):
    for r in (client.post("/v1/scan", files={"file": ("a.zip", locked)}, data={"password": passwords}),
              client.post("/v1/scan", content=locked, headers=[(PASSWORD_HEADER, p) for p in passwords if p]
                          or [(PASSWORD_HEADER, "")])):
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert what in detail and f"at most {MAX_PASSWORDS}" in detail
        assert "xxxxxxxx" not in detail  # says which bound, never echoes the value


def test_password_count_spans_fields_and_headers(client, locked):
    r = client.post("/v1/scan", files={"file": ("a.zip", locked)}, data={"password": ["a"] * MAX_PASSWORDS},
                    headers={PASSWORD_HEADER: "b"})
    assert r.status_code == 422
    assert f"{MAX_PASSWORDS + 1} passwords" in r.json()["detail"]


def test_a_password_that_is_not_utf8_is_422(client, locked):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\n").encode() \
        + locked + (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n").encode() \
        + b"\xff\xfe" + f"\r\n--{boundary}--\r\n".encode()
    r = client.post("/v1/scan", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422
    assert "UTF-8" in r.json()["detail"]


def test_utf8_passwords_work_in_headers_and_fields(client):
    pw = "pässwörd-ü"
    data = make_encrypted_zip({"invoice.js": DROPPER}, pw)
    r = client.post("/v1/scan", content=data, headers=[(PASSWORD_HEADER.encode(), pw.encode())])
    assert_opened(r.json()["verdict"])
    data = make_encrypted_zip({"invoice.js": DROPPER}, pw)
    r = client.post("/v1/scan", files={"file": ("a.zip", data)}, data={"password": pw})
    assert_opened(r.json()["verdict"])


def test_passwords_are_neither_logged_nor_kept_in_clear_in_cache_keys(make_client, caplog):
    client = make_client()
    data = make_encrypted_zip({"invoice.js": DROPPER}, PASSWORD)
    with caplog.at_level(logging.DEBUG):
        r = client.post("/v1/scan", content=data, headers={PASSWORD_HEADER: PASSWORD})
    assert r.status_code == 200
    assert_opened(r.json()["verdict"])
    assert any("scan sha256=" in rec.getMessage() for rec in caplog.records)  # the scan was logged ...
    assert not any(PASSWORD in rec.getMessage() or PASSWORD in str(rec.__dict__) for rec in caplog.records)
    cache = client.app.state.service.cache
    keys = list(cache._items)
    assert len(keys) == 1 and PASSWORD not in keys[0]  # ... and cached, under no clear password
    assert PASSWORD.encode() not in r.content


def test_cache_key_holds_an_hmac_of_the_passwords_under_the_cache_secret():
    digest, opts = "ab" * 32, Options(passwords=(PASSWORD,))
    one = cache_key(digest, "rules", opts, Limits(), "file", secret=b"k1")
    assert one == cache_key(digest, "rules", opts, Limits(), "file", secret=b"k1")  # replicas sharing a key agree
    assert one != cache_key(digest, "rules", opts, Limits(), "file", secret=b"k2")
    assert one != cache_key(digest, "rules", Options(), Limits(), "file", secret=b"k1")
    assert one != cache_key(digest, "rules", Options(passwords=("other",)), Limits(), "file", secret=b"k1")
    assert PASSWORD not in one
    tag = password_tag((PASSWORD,), b"k1")
    assert len(tag) == 64 and PASSWORD not in tag and password_tag((), b"k1") == ""
    # without passwords the key does not depend on the secret: the lookup endpoint and every replica agree
    assert cache_key(digest, "rules", Options(), Limits(), "file", secret=b"k1") == \
        cache_key(digest, "rules", Options(), Limits(), "file", secret=b"k2")
