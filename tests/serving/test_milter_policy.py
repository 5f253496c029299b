"""The milter policy as a pure function: every label x configured action x fail mode."""

from __future__ import annotations

import pytest

from maldoc.serving.milter_policy import (
    HEADER_REASON,
    HEADER_SCORE,
    HEADER_VERDICT,
    Action,
    Outcome,
    Policy,
    clean_text,
    decide,
    relabel,
)

MALICIOUS = Outcome("malicious", 0.97, reason="VBA macro runs on open", where="invoice.docm",
                    threshold=0.7, suspicious_threshold=0.4)
SUSPICIOUS = Outcome("suspicious", 0.5, reason="PDF has JavaScript", where="a.pdf", threshold=0.7,
                     suspicious_threshold=0.4)
CLEAN = Outcome("clean", 0.05, threshold=0.7, suspicious_threshold=0.4)


def test_clean_is_delivered_with_the_headers_whatever_the_policy():
    for action in (Action.TAG, Action.QUARANTINE, Action.REJECT):
        decision = decide(CLEAN, Policy(malicious=action, suspicious=action))
        assert decision.action is Action.TAG
        assert decision.headers == {HEADER_VERDICT: "clean", HEADER_SCORE: "0.0500"}
        assert decision.reply is None


@pytest.mark.parametrize("outcome", [MALICIOUS, SUSPICIOUS], ids=["malicious", "suspicious"])
def test_tag_delivers_with_verdict_score_and_reason(outcome):
    decision = decide(outcome, Policy(malicious=Action.TAG, suspicious=Action.TAG))
    assert decision.action is Action.TAG
    assert decision.headers[HEADER_VERDICT] == outcome.label
    assert decision.headers[HEADER_SCORE] == f"{outcome.score:.4f}"
    assert decision.headers[HEADER_REASON] == f"{outcome.reason} in {outcome.where}"


def test_quarantine_holds_with_headers_and_a_reason():
    decision = decide(MALICIOUS, Policy(malicious=Action.QUARANTINE))
    assert decision.action is Action.QUARANTINE
    assert decision.headers[HEADER_VERDICT] == "malicious"
    assert "VBA macro runs on open" in decision.quarantine_reason
    assert decision.reply is None


def test_reject_answers_550_5_7_1_with_a_short_reason():
    decision = decide(MALICIOUS, Policy(malicious=Action.REJECT))
    assert decision.action is Action.REJECT
    rcode, xcode, text = decision.reply
    assert (rcode, xcode) == ("550", "5.7.1")
    assert "malicious" in text and "invoice.docm" in text
    assert len(text) <= 160


def test_suspicious_follows_its_own_action():
    policy = Policy(malicious=Action.REJECT, suspicious=Action.QUARANTINE)
    assert decide(SUSPICIOUS, policy).action is Action.QUARANTINE
    assert decide(MALICIOUS, policy).action is Action.REJECT
    assert decide(SUSPICIOUS, Policy(malicious=Action.REJECT)).action is Action.TAG  # default: tag


@pytest.mark.parametrize("outcome", [
    Outcome("error", error="analysis killed after timeout_s=30"),
    Outcome("clean", error="scanning service answered HTTP 503"),
    Outcome("error", 0.2, error="parse_error everywhere"),
], ids=["timeout", "rest-error", "engine-error"])
def test_fail_open_delivers_tagged_error(outcome):
    decision = decide(outcome, Policy(malicious=Action.REJECT, fail_open=True))
    assert decision.action is Action.TAG
    assert decision.headers[HEADER_VERDICT] == "error"
    assert decision.headers[HEADER_REASON].startswith("not scanned: ")


def test_fail_open_header_names_the_kind_of_failure_not_its_details():
    decision = decide(Outcome("error", error="ImportError: /work/main/core/x.py"), Policy())
    assert decision.headers[HEADER_REASON] == "not scanned: scan failed"
    decision = decide(Outcome("error", error="analysis killed after timeout_s=30"), Policy())
    assert decision.headers[HEADER_REASON] == "not scanned: scan timed out"


def test_fail_closed_tempfails_errors_and_timeouts():
    decision = decide(Outcome("error", error="scan did not finish within 30 s"), Policy(fail_open=False))
    assert decision.action is Action.TEMPFAIL
    assert decision.reply[:2] == ("451", "4.7.1")


def test_oversize_fail_closed_is_permanent_fail_open_delivers():
    big = Outcome("error", oversize=True, error="message over 10 bytes")
    closed = decide(big, Policy(fail_open=False))
    assert closed.action is Action.REJECT and closed.reply[:2] == ("552", "5.3.4")
    opened = decide(big, Policy(fail_open=True))
    assert opened.action is Action.TAG
    assert opened.headers[HEADER_REASON] == "not scanned: message larger than the scan limit"


def test_threshold_overrides_move_labels_both_ways():
    assert relabel(SUSPICIOUS, Policy(threshold=0.45)) == "malicious"
    assert relabel(MALICIOUS, Policy(threshold=0.99)) == "suspicious"
    assert relabel(CLEAN, Policy(suspicious_threshold=0.01)) == "suspicious"
    assert relabel(SUSPICIOUS, Policy(suspicious_threshold=0.6)) == "clean"
    assert relabel(SUSPICIOUS, Policy()) == "suspicious"


def test_findings_before_an_error_still_count_when_over_the_threshold():
    partial = Outcome("error", 0.9, error="time budget spent", threshold=0.7)
    assert relabel(partial, Policy()) == "malicious"
    assert decide(partial, Policy(malicious=Action.REJECT, fail_open=True)).action is Action.REJECT
    assert relabel(Outcome("error", 0.3, error="x", threshold=0.7), Policy()) == "error"


def test_policy_refuses_bad_configuration():
    with pytest.raises(ValueError):
        Policy(malicious=Action.TEMPFAIL)
    with pytest.raises(ValueError):
        Policy(threshold=1.5)


def test_clean_text_keeps_replies_safe():
    text = clean_text("evil\r\n550 injected %s name\x00.docm " + "x" * 500)
    assert "\r" not in text and "\n" not in text and "%" not in text and "\x00" not in text
    assert len(text) <= 160 and text.endswith("...")
    assert clean_text("résumé.pdf") == "r sum .pdf"
