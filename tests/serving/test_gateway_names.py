"""The name a listener reports a detection under, and when it reports one."""

from __future__ import annotations

import pytest
from gateway_env import CLEAN_DOCX, MALICIOUS_DOCM

from maldoc import scan
from maldoc.scoring import RuleScorer
from maldoc.serving.gateway import detected, threat_name
from maldoc.serving.schemas import ScanResponse
from maldoc.verdict import Label

RULES = RuleScorer()


def response(verdict, decision: Label | None = None, failure=None) -> ScanResponse:
    return ScanResponse(decision=decision or verdict.label, sha256=verdict.sha256 if verdict else "0" * 64,
                        score=verdict.score if verdict else None, model_version="rules", cached=False,
                        failure=failure, service_ms=1.0, verdict=verdict)


def test_name_is_format_and_heaviest_rule():
    verdict = scan(MALICIOUS_DOCM.read_bytes(), "a.docm", model=RULES)
    name = threat_name(response(verdict))
    assert name.startswith("Maldoc.Ooxml.")
    rule = name.split(".")[2]
    assert rule in {f.rule_id for f in verdict.findings}
    from maldoc import catalogue

    assert catalogue.get(rule).weight == max(catalogue.get(f.rule_id).weight for f in verdict.findings)


def test_a_container_is_named_after_the_part_that_scored():
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("invoice.docm", MALICIOUS_DOCM.read_bytes())
    verdict = scan(buf.getvalue(), "invoice.zip", model=RULES)
    assert threat_name(response(verdict, Label.MALICIOUS)).startswith("Maldoc.Ooxml.")


def test_suspicious_has_its_own_name_and_mode():
    verdict = scan(MALICIOUS_DOCM.read_bytes(), "a.docm", model=RULES)
    suspicious = response(verdict, Label.SUSPICIOUS)
    assert threat_name(suspicious).startswith("Maldoc.Suspicious.Ooxml.")
    assert detected(suspicious, "found") and not detected(suspicious, "clean")


def test_without_findings_and_after_a_failure():
    verdict = scan(CLEAN_DOCX.read_bytes(), "a.docx", model=RULES)
    assert threat_name(response(verdict, Label.MALICIOUS)) == "Maldoc.Ooxml.Generic"
    assert threat_name(response(None, Label.MALICIOUS, failure="timeout")) == "Maldoc.Unscanned.Timeout"
    assert threat_name(response(None, Label.MALICIOUS, failure="worker_died")) == "Maldoc.Unscanned.WorkerDied"


@pytest.mark.parametrize(("decision", "found"), [(Label.MALICIOUS, True), (Label.CLEAN, False), (Label.ERROR, False)])
def test_detected(decision, found):
    verdict = scan(CLEAN_DOCX.read_bytes(), "a.docx", model=RULES)
    assert detected(response(verdict, decision), "found") is found
