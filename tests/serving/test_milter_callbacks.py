"""The libmilter callbacks, driven by pymilter's own test context (no MTA, no scan engine)."""

from __future__ import annotations

from io import BytesIO

import pytest

Milter = pytest.importorskip("Milter", reason="pymilter not installed (pip install 'maldoc[milter]')")
testctx = pytest.importorskip("Milter.testctx")

from maldoc.serving.milter_app import make_factory  # noqa: E402 - after the skip
from maldoc.serving.milter_policy import Action, Outcome, Policy  # noqa: E402

RAW = (b"From: alice@sender.test\r\nTo: bob@example.test\r\nSubject: invoice\r\n"
       b"X-Maldoc-Verdict: clean\r\nX-Maldoc-Score: 0.0\r\n\r\nPlease see the attachment.\r\n")


class Ctx(testctx.TestCtx):
    """pymilter's TestCtx, plus the quarantine action it leaves unimplemented."""

    quarantined: str | None = None

    def quarantine(self, reason):
        self.quarantined = reason


class FakeScanner:
    def __init__(self, outcome: Outcome | Exception) -> None:
        self.outcome = outcome
        self.seen: list[bytes] = []

    def scan(self, raw: bytes) -> Outcome:
        self.seen.append(raw)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def close(self) -> None:
        pass


def run(monkeypatch, outcome, policy: Policy, raw: bytes = RAW, max_bytes: int = 1 << 20, messages: int = 1):
    scanner = FakeScanner(outcome)
    monkeypatch.setattr(Milter, "factory", make_factory(scanner, policy, max_bytes))
    ctx = Ctx()
    assert ctx._connect() == Milter.CONTINUE
    rcs = [ctx._feedFile(BytesIO(raw)) for _ in range(messages)]
    return ctx, scanner, rcs[-1]


MALICIOUS = Outcome("malicious", 0.93, reason="Document macro runs on open", where="invoice.docm", threshold=0.7)


def test_clean_message_is_accepted_with_headers_and_scanned_whole(monkeypatch):
    ctx, scanner, rc = run(monkeypatch, Outcome("clean", 0.01), Policy(malicious=Action.REJECT))
    assert rc == Milter.ACCEPT
    assert ctx._msg["X-Maldoc-Verdict"] == "clean"
    assert ctx._msg["X-Maldoc-Score"] == "0.0100"
    raw = scanner.seen[0]
    assert b"Subject: invoice\r\n" in raw and raw.endswith(b"Please see the attachment.\n")
    assert b"\r\n\r\n" in raw  # headers and body separated as in the original message


def test_forged_maldoc_headers_from_the_sender_are_replaced(monkeypatch):
    ctx, _, _ = run(monkeypatch, MALICIOUS, Policy())
    assert ctx._msg.get_all("X-Maldoc-Verdict") == ["malicious"]
    assert ctx._msg.get_all("X-Maldoc-Score") == ["0.9300"]


def test_reject_sets_550_5_7_1(monkeypatch):
    ctx, _, rc = run(monkeypatch, MALICIOUS, Policy(malicious=Action.REJECT))
    assert rc == Milter.REJECT
    assert ctx._reply[:2] == ("550", "5.7.1")
    assert "invoice.docm" in ctx._reply[2]
    assert not ctx._headerschanged


def test_quarantine_holds_and_tags(monkeypatch):
    ctx, _, rc = run(monkeypatch, MALICIOUS, Policy(malicious=Action.QUARANTINE))
    assert rc == Milter.ACCEPT
    assert ctx.quarantined and "Document macro runs on open" in ctx.quarantined
    assert ctx._msg["X-Maldoc-Verdict"] == "malicious"


def test_tag_policy_delivers_malicious_with_reason(monkeypatch):
    ctx, _, rc = run(monkeypatch, MALICIOUS, Policy(malicious=Action.TAG))
    assert rc == Milter.ACCEPT and ctx.quarantined is None
    assert ctx._msg["X-Maldoc-Reason"] == "Document macro runs on open in invoice.docm"


def test_oversize_is_not_scanned_and_follows_the_fail_policy(monkeypatch):
    ctx, scanner, rc = run(monkeypatch, MALICIOUS, Policy(fail_open=False), max_bytes=64)
    assert scanner.seen == []
    assert rc == Milter.REJECT and ctx._reply[:2] == ("552", "5.3.4")
    ctx, scanner, rc = run(monkeypatch, MALICIOUS, Policy(fail_open=True), max_bytes=64)
    assert scanner.seen == [] and rc == Milter.ACCEPT
    assert ctx._msg["X-Maldoc-Verdict"] == "error"


def test_scanner_failure_fails_closed_with_a_temporary_error(monkeypatch):
    ctx, _, rc = run(monkeypatch, RuntimeError("boom"), Policy(fail_open=False))
    assert rc == Milter.TEMPFAIL
    assert ctx._reply[:2] == ("451", "4.7.1")


def test_scan_error_fails_open_with_error_header(monkeypatch):
    ctx, _, rc = run(monkeypatch, Outcome("error", error="analysis killed after timeout_s=30"), Policy())
    assert rc == Milter.ACCEPT
    assert ctx._msg["X-Maldoc-Verdict"] == "error"
    assert ctx._msg["X-Maldoc-Reason"] == "not scanned: scan timed out"


def test_each_message_on_a_connection_starts_empty(monkeypatch):
    _, scanner, _ = run(monkeypatch, Outcome("clean", 0.0), Policy(), messages=2)
    assert len(scanner.seen) == 2
    assert scanner.seen[0] == scanner.seen[1]  # the second is not appended to the first


def test_protocol_asks_the_mta_for_headers_and_body_and_nothing_it_does_not_use():
    # pymilter derives the protocol from which callbacks a class overrides; the MTA offers to skip
    # steps (P_NO* bits) and the milter keeps the offers it accepts. Here the MTA offers everything.
    offered = 0x1FFFFF
    kept = offered & ~make_factory(FakeScanner(Outcome("clean")), Policy(), 1 << 20).protocol_mask()
    for needed in (Milter.P_NOHDRS, Milter.P_NOBODY, Milter.P_NOMAIL):
        assert not kept & needed  # without headers the milter would scan a body without its MIME structure
    for skipped in (Milter.P_NOCONNECT, Milter.P_NOHELO, Milter.P_NORCPT, Milter.P_NOEOH):
        assert kept & skipped  # one round trip fewer per message each


def test_every_message_is_counted_in_the_milter_metrics(monkeypatch):
    from prometheus_client import generate_latest

    from maldoc.serving.milter_metrics import MilterMetrics

    metrics = MilterMetrics()
    monkeypatch.setattr(Milter, "factory", make_factory(FakeScanner(MALICIOUS), Policy(malicious=Action.REJECT),
                                                        1 << 20, metrics))
    ctx = Ctx()
    assert ctx._connect() == Milter.CONTINUE
    assert ctx._feedFile(BytesIO(RAW)) == Milter.REJECT
    text = generate_latest(metrics.registry).decode()
    assert 'maldoc_milter_messages_total{action="reject",label="malicious"} 1.0' in text
    assert "maldoc_milter_scan_duration_seconds_count 1.0" in text
    seen = metrics.registry.get_sample_value("maldoc_milter_message_bytes_total")
    assert len(RAW) // 2 < seen <= len(RAW) + 64  # the message as rebuilt from the callbacks
