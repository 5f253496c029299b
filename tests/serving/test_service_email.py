"""POST /v1/scan/email: the message is one input; its body and attachments come back as parts."""

from __future__ import annotations

import hashlib

from serving_support import message_with_attachments

ORDER = {"clean": 0, "error": 0, "suspicious": 1, "malicious": 2}


def test_message_gets_one_verdict_and_one_per_part(client):
    raw = message_with_attachments()
    r = client.post("/v1/scan/email", content=raw, headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 200, r.text
    doc = r.json()
    verdict = doc["verdict"]
    assert verdict["file_type"] == "email"
    assert verdict["name"] == "message.eml"
    assert doc["sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(doc["parts"]) == len(verdict["children"])
    for part, child in zip(doc["parts"], verdict["children"], strict=True):
        assert part["sha256"] == child["sha256"] and part["label"] == child["label"]
        assert part["path"].startswith("message.eml > ")
        # the message is at least as bad as its worst part
        assert ORDER[doc["decision"]] >= ORDER[part["label"]]
    # the mail extractor emits the HTML body and each attachment as a part; the text body is the message's own
    names = [p["name"] for p in doc["parts"]]
    assert sorted(names) == ["body.html", "invoice.html", "terms.pdf"]
    html = next(p for p in doc["parts"] if p["name"] == "invoice.html")
    assert html["file_type"] == "html"
    assert html["label"] in ("malicious", "suspicious")  # HTML smuggling of an executable
    assert doc["decision"] == html["label"] or doc["decision"] == "malicious"  # as bad as its worst part


def test_same_message_twice_is_a_cache_hit(client):
    raw = message_with_attachments().replace(b"4471", b"4472")
    assert client.post("/v1/scan/email", content=raw).json()["cached"] is False
    again = client.post("/v1/scan/email", content=raw).json()
    assert again["cached"] is True
    assert len(again["parts"]) == len(again["verdict"]["children"])


def test_not_a_message_is_400(client):
    r = client.post("/v1/scan/email", content=b"%PDF-1.7\n%%EOF\n")
    assert r.status_code == 400
    assert "not an RFC 822 message" in r.json()["detail"]
    assert "pdf" in r.json()["detail"]
