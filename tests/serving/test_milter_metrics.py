"""The milter's /metrics: decisions recorded per message, served on a loopback port."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from maldoc.serving.milter_metrics import MilterMetrics, error_kind
from maldoc.serving.milter_policy import Action, Outcome, Policy, decide


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_verdicts_actions_errors_and_serve_them():
    metrics = MilterMetrics()
    policy = Policy(malicious=Action.QUARANTINE, fail_open=True)
    outcomes = [Outcome(label="clean", score=0.01, model_version="m1"),
                Outcome(label="malicious", score=0.99, reason="VBA auto-exec", model_version="m1"),
                Outcome(label="error", error="scan did not finish within 30 s"),
                Outcome(label="error", oversize=True, error="message over 100 bytes")]
    for outcome in outcomes:
        metrics.record(decide(outcome, policy), outcome, 0.2, size=1000)
    port = metrics.serve(0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            got = _samples(response.read().decode())
    finally:
        metrics.close()
    assert got[("maldoc_milter_messages_total", (("action", "tag"), ("label", "clean")))] == 1
    assert got[("maldoc_milter_messages_total", (("action", "quarantine"), ("label", "malicious")))] == 1
    assert got[("maldoc_milter_messages_total", (("action", "tag"), ("label", "error")))] == 2
    assert got[("maldoc_milter_scan_errors_total", (("kind", "timeout"),))] == 1
    assert got[("maldoc_milter_scan_errors_total", (("kind", "oversize"),))] == 1
    assert got[("maldoc_milter_scan_timeouts_total", ())] == 1
    assert got[("maldoc_milter_scan_duration_seconds_count", ())] == 4
    assert got[("maldoc_milter_message_bytes_total", ())] == 4000
    assert got[("maldoc_milter_model_info", (("version", "m1"),))] == 1


def test_error_kinds_are_a_bounded_set():
    assert error_kind(Outcome(label="clean")) is None
    assert error_kind(Outcome(label="error", error="scanning service unreachable: refused")) == "rest"
    assert error_kind(Outcome(label="error", error="scanner error: KeyError")) == "scanner"
    assert error_kind(Outcome(label="error", error="anything quoting evidence 'x'")) == "engine"
