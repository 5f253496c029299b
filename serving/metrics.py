"""Prometheus metrics, in a registry of the app's own (two apps in one process never collide).

Route labels are route templates, never raw paths, so a scanner probing random URLs cannot grow
the series count.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("maldoc_http_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=r)
        self.request_latency = Histogram("maldoc_http_request_duration_seconds", "HTTP request latency",
                                         ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.scan_latency = Histogram("maldoc_scan_duration_seconds",
                                      "service time of one scan, body read excluded, cache hits included",
                                      ["endpoint", "cached"], buckets=_LATENCY_BUCKETS, registry=r)
        self.verdicts = Counter("maldoc_verdicts", "verdicts answered, by decision", ["endpoint", "label"],
                                registry=r)
        self.errors = Counter("maldoc_scan_errors", "scans that could not complete", ["kind"], registry=r)
        self.timeouts = Counter("maldoc_scan_timeouts", "scans killed at the per-file timeout", registry=r)
        self.cache = Counter("maldoc_cache_lookups", "verdict cache lookups", ["backend", "result"], registry=r)
        self.rejected = Counter("maldoc_queue_rejections", "scans refused with 503 because the queue was full",
                                registry=r)
        self.inflight = Gauge("maldoc_scans_inflight", "scans admitted (running or waiting)", registry=r)
        self.inflight_bytes = Gauge("maldoc_scans_inflight_bytes", "bytes held by admitted scans", registry=r)
        self.model_info = Gauge("maldoc_model_info", "the model answering (value 1)", ["version", "source"],
                                registry=r)
        self.reloads = Counter("maldoc_model_reloads", "model reloads and rollbacks", ["action", "outcome"],
                               registry=r)

    def set_model(self, version: str, source: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version, source=source).set(1)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (pure ASGI: cheap on the hot path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route=route, method=scope["method"], status=str(status)).inc()
            self.metrics.request_latency.labels(route=route).observe(time.perf_counter() - started)
