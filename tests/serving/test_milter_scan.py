"""The milter's scanners: verdict -> outcome, the REST client, and the in-process worker pool."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from typing import ClassVar

import pytest

from maldoc.limits import Limits
from maldoc.serving.milter_scan import InProcessScanner, RestScanner, outcome_from_json, outcome_from_verdict
from maldoc.verdict import FindingOut, Label, Reason, Verdict

RAW = b"From: a@sender.test\r\nTo: b@example.test\r\nSubject: x\r\n\r\nhello\r\n"


def verdict(path, label, score, own, reasons=(), children=(), errors=(), findings=()):
    return Verdict(path=path, name=path.rsplit(" > ", 1)[-1], sha256="0" * 64, size=10, file_type="email",
                   label=label, score=score, own_score=own, threshold=0.7, suspicious_threshold=0.4,
                   model_version="rules", reasons=[Reason(feature=f, title=t, contribution=0.9) for f, t in reasons],
                   children=list(children), errors=list(errors),
                   findings=[FindingOut(rule_id=r, title=r, severity="high") for r in findings])


MESSAGE = verdict("message.eml", Label.MALICIOUS, 0.95, 0.1, [("r", "Sender mismatch")], children=[
    verdict("message.eml > body.txt", Label.CLEAN, 0.0, 0.0),
    verdict("message.eml > invoice.zip", Label.MALICIOUS, 0.95, 0.0, children=[
        verdict("message.eml > invoice.zip > invoice.docm", Label.MALICIOUS, 0.95, 0.95,
                [("r", "Macro runs when the document opens")])]),
])


def test_outcome_names_the_worst_part_and_its_top_reason():
    outcome = outcome_from_verdict(MESSAGE)
    assert (outcome.label, outcome.score) == ("malicious", 0.95)
    assert outcome.reason == "Macro runs when the document opens"
    assert outcome.where == "invoice.zip > invoice.docm"
    assert (outcome.threshold, outcome.suspicious_threshold, outcome.model_version) == (0.7, 0.4, "rules")
    assert not outcome.error


def test_reason_points_at_the_part_where_its_rule_fired():
    # The rule scorer scores a container with everything inside it: the message scores highest,
    # but the reason's rule fired in the document, two levels down.
    macro = ("rule.VBA_AUTOEXEC", "Macro runs when the document opens")
    message = verdict("message.eml", Label.MALICIOUS, 0.94, 0.94, [macro, ("rule.MAIL_PW", "Password in body")],
                      findings=["MAIL_PW"], children=[
        verdict("message.eml > a.zip", Label.MALICIOUS, 0.9, 0.9, [macro], findings=["CORE_ENCRYPTED_ARCHIVE"],
                children=[verdict("message.eml > a.zip > a.docm", Label.MALICIOUS, 0.88, 0.88, [macro],
                                  findings=["VBA_AUTOEXEC"])])])
    outcome = outcome_from_verdict(message)
    assert (outcome.reason, outcome.where) == ("Macro runs when the document opens", "a.zip > a.docm")
    tie = verdict("message.eml", Label.MALICIOUS, 0.9, 0.9, [("x", "Top")], children=[
        verdict("message.eml > b.pdf", Label.MALICIOUS, 0.9, 0.9, [("x", "Top")])])
    assert outcome_from_verdict(tie).where == "b.pdf"  # deepest on ties


def test_error_verdict_becomes_an_error_outcome():
    failed = verdict("message.eml", Label.ERROR, 0.0, 0.0, errors=["analysis killed after timeout_s=30"])
    outcome = outcome_from_verdict(failed)
    assert outcome.label == "error" and "timeout" in outcome.error


def test_rest_answers_service_response_bare_verdict_summary_and_garbage():
    doc = {"decision": "malicious", "sha256": "0" * 64, "score": 0.95, "model_version": "rules", "cached": False,
           "failure": None, "service_ms": 3.0, "verdict": json.loads(MESSAGE.model_dump_json()), "parts": []}
    assert outcome_from_json(doc).where == "invoice.zip > invoice.docm"
    assert outcome_from_json(json.loads(MESSAGE.model_dump_json())).label == "malicious"
    assert outcome_from_json(MESSAGE.summary()).label == "malicious"
    assert outcome_from_json({"hello": 1}).label == "error"
    failed = outcome_from_json({**doc, "decision": "clean", "failure": "timeout", "verdict": None})
    assert failed.label == "error" and "timeout" in failed.error  # the service's fail mode is not ours


class Service(http.server.BaseHTTPRequestHandler):
    """A stand-in for `maldoc serve`: records requests, answers what the test queued."""

    answers: ClassVar[list[tuple[int, bytes, float]]] = []
    requests: ClassVar[list[tuple[str, object, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((self.path, self.headers, body))  # case-insensitive
        status, payload, delay = type(self).answers.pop(0)
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    Service.answers, Service.requests = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", Service
    server.shutdown()
    server.server_close()


def test_rest_scanner_posts_the_raw_message_with_the_key(service):
    url, handler = service
    handler.answers.append((200, MESSAGE.model_dump_json().encode(), 0))
    outcome = RestScanner(url, api_key="k1").scan(RAW)
    assert outcome.label == "malicious"
    path, headers, body = handler.requests[0]
    assert path == "/v1/scan/email"
    assert body == RAW
    assert headers["Content-Type"] == "message/rfc822"
    assert headers["X-API-Key"] == "k1" and headers["Authorization"] == "Bearer k1"


def test_rest_scanner_turns_service_failures_into_errors(service):
    url, handler = service
    handler.answers += [(503, b'{"detail": "queue full"}', 0), (200, b"not json", 0), (200, b"{}", 2.0)]
    scanner = RestScanner(url, timeout_s=0.5)
    assert "503" in scanner.scan(RAW).error
    assert "JSON" in scanner.scan(RAW).error
    assert scanner.scan(RAW).label == "error"  # timed out waiting for the answer


def test_rest_scanner_unreachable_is_an_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    outcome = RestScanner(f"http://127.0.0.1:{port}", timeout_s=2).scan(RAW)
    assert outcome.label == "error" and "unreachable" in outcome.error


@pytest.mark.slow
def test_in_process_scanner_scans_in_a_worker_and_scores_here():
    from maldoc.scoring import RuleScorer

    scanner = InProcessScanner(RuleScorer(), Limits(timeout_s=60), jobs=1)
    try:
        scanner.warm_up()
        outcome = scanner.scan(RAW)
    finally:
        scanner.close()
    assert outcome.sha256 == hashlib.sha256(RAW).hexdigest()
    assert outcome.model_version == "rules"
    assert outcome.label in ("clean", "suspicious", "malicious", "error")


@pytest.mark.slow
def test_in_process_scanner_hard_timeout_kills_a_stuck_scan():
    from maldoc.pool import ScanPool
    from maldoc.scoring import RuleScorer

    limits = Limits(timeout_s=1)
    scanner = InProcessScanner(RuleScorer(), limits, pool=ScanPool(1, limits=limits, task=_sleepy()))
    try:
        outcome = scanner.scan(RAW)
    finally:
        scanner.close()
    assert outcome.label == "error"
    assert "timeout" in outcome.error


def _sleepy():
    from milter_tasks import sleepy_task  # tests/support, importable by the pool's workers

    return sleepy_task
