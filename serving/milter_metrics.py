"""The milter's Prometheus metrics, served on their own small HTTP port (`--metrics-port`).

    metrics = MilterMetrics()
    metrics.serve(port, host="127.0.0.1") -> port     GET /metrics (prometheus_client's server, a thread)
    metrics.record(decision, outcome, seconds)       once per message, from the end-of-message callback

The same families as the service where they mean the same thing (verdicts, scan latency, errors,
timeouts, the model answering), named `maldoc_milter_*`, plus the action taken on each message.
Labels are bounded sets (verdict labels, actions, error kinds), never message data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


_KINDS = (  # (text the scanners put in Outcome.error, kind), first match wins
    ("did not finish", "timeout"), ("timed out", "timeout"), ("timeout", "timeout"),
    ("scanning service", "rest"), ("service reported", "rest"),
    ("milter error", "milter"), ("scanner error", "scanner"),
)


def error_kind(outcome) -> str | None:
    """A bounded name for why a message could not be scanned (the outcome's text is not a label)."""
    if getattr(outcome, "oversize", False):
        return "oversize"
    text = (getattr(outcome, "error", "") or "").lower()
    if not text:
        return None
    return next((kind for needle, kind in _KINDS if needle in text), "engine")


class MilterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter("maldoc_milter_messages", "messages decided, by verdict and action",
                                ["label", "action"], registry=r)
        self.latency = Histogram("maldoc_milter_scan_duration_seconds", "time from end-of-message to the decision",
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.bytes = Counter("maldoc_milter_message_bytes", "bytes of the messages seen", registry=r)
        self.errors = Counter("maldoc_milter_scan_errors", "messages that could not be scanned", ["kind"], registry=r)
        self.timeouts = Counter("maldoc_milter_scan_timeouts", "scans killed at --timeout-s", registry=r)
        self.model_info = Gauge("maldoc_milter_model_info", "the model answering (value 1)", ["version"], registry=r)
        self._server = None

    def record(self, decision, outcome, seconds: float, size: int = 0) -> None:
        self.messages.labels(label=str(decision.label), action=decision.action.value).inc()
        self.latency.observe(seconds)
        self.bytes.inc(max(0, size))
        kind = error_kind(outcome)
        if kind:
            self.errors.labels(kind=kind).inc()
            if kind == "timeout":
                self.timeouts.inc()
        version = getattr(outcome, "model_version", "")
        if version:
            self.model_info.clear()
            self.model_info.labels(version=version).set(1)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics in a daemon thread; returns the port (useful with 0: any free one)."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
