"""What the clamd and ICAP listeners share: their common settings, the name a verdict is reported
under, the log line of each answer, and running a listener beside one scanning `Service`.

The listeners hold no scanning logic: every scan is `Service.scan()`, so limits, fail mode,
verdict cache, metrics and the per-scan log line are the REST service's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import weakref
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal

from prometheus_client import Counter, Gauge
from pydantic import Field
from pydantic_settings import BaseSettings

from maldoc import catalogue
from maldoc.verdict import Label, Verdict

from .schemas import ScanResponse
from .service import Service
from .settings import Settings

log = logging.getLogger("maldoc.serving.gateway")

SuspiciousMode = Literal["found", "clean"]
_WORD = re.compile(r"[^A-Za-z0-9]+")


class ListenerSettings(BaseSettings):
    """Fields every listener has; each protocol's settings class adds its own and an env prefix."""

    host: str = "127.0.0.1"
    max_connections: int = Field(64, ge=1, description="connections served at once; one more is refused")
    idle_timeout_s: float = Field(30.0, gt=0, description="close a connection that sends nothing for this long")
    request_timeout_s: float = Field(300.0, gt=0, description="longest time to receive one command or request "
                                     "with its data, however steadily it trickles in")
    suspicious: SuspiciousMode = Field(
        "found", description="'found' reports suspicious files as infected under a Maldoc.Suspicious.* name "
        "(gateways can score that name apart); 'clean' reports them clean")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="serve Prometheus /metrics on this port")


# -- the name a verdict is reported under -----------------------------------------------------------
def _format(file_type: str) -> str:
    return "".join(part.capitalize() for part in _WORD.split(file_type) if part) or "Unknown"


def _top_rule(node: Verdict) -> str:
    def weight(finding) -> tuple[float, int]:
        rule = catalogue.get(finding.rule_id)
        return rule.weight, catalogue.SEVERITIES.index(rule.severity)

    return max(node.findings, key=weight).rule_id


def threat_name(response: ScanResponse) -> str:
    """`Maldoc.<Format>.<TopRule>`: the format of the part that scored highest among those with
    findings, and its heaviest finding; `Maldoc.Suspicious.<Format>.<TopRule>` below the malicious
    threshold; `Maldoc.Unscanned.<Failure>` when the fail mode turned a failed scan into a detection."""
    verdict = response.verdict
    if verdict is None or (response.failure and verdict.label is Label.ERROR):
        return f"Maldoc.Unscanned.{_format(response.failure or 'error')}"
    nodes = [(n.own_score, depth, n) for depth, n in _walk(verdict) if n.findings]
    if nodes:
        _, _, node = max(nodes, key=lambda item: (item[0], item[1]))
        name = f"{_format(node.file_type)}.{_top_rule(node)}"
    else:
        name = f"{_format(verdict.file_type)}.Generic"
    prefix = "Maldoc.Suspicious." if response.decision is Label.SUSPICIOUS else "Maldoc."
    return prefix + name


def _walk(verdict: Verdict, depth: int = 0):
    yield depth, verdict
    for child in verdict.children:
        yield from _walk(child, depth + 1)


def detected(response: ScanResponse, suspicious: SuspiciousMode) -> bool:
    """Whether a listener reports this answer as infected."""
    return response.decision is Label.MALICIOUS or (response.decision is Label.SUSPICIOUS and suspicious == "found")


def log_answer(protocol: str, peer: str, response: ScanResponse, answer: str) -> None:
    """One line per answer: sha256, decision, score and reasons (feature names: never content)."""
    reasons = ",".join(r.feature for r in (response.verdict.reasons[:5] if response.verdict else []))
    log.info("%s answer peer=%s sha256=%s decision=%s score=%s answer=%s reasons=%s cached=%s", protocol, peer,
             response.sha256, response.decision.value,
             f"{response.score:.3f}" if response.score is not None else "-", answer, reasons or "-", response.cached)


# -- listener metrics, in the service's own registry (so one /metrics shows both) ---------------------
class ListenerMetrics:
    """One set per (service, protocol): several listeners of one protocol on one service share it."""

    _shared: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, service: Service, protocol: str) -> ListenerMetrics:
        per_service = cls._shared.setdefault(service.metrics.registry, {})
        if protocol not in per_service:
            per_service[protocol] = cls(service, protocol)
        return per_service[protocol]

    def __init__(self, service: Service, protocol: str) -> None:
        r = service.metrics.registry
        self.protocol = protocol
        self.connections = Counter(f"maldoc_{protocol}_connections", f"{protocol} connections, by outcome",
                                   ["event"], registry=r)
        self.open = Gauge(f"maldoc_{protocol}_connections_open", f"{protocol} connections open now", registry=r)
        self.errors = Counter(f"maldoc_{protocol}_protocol_errors", f"{protocol} requests answered with a "
                              "protocol error, by kind", ["kind"], registry=r)

    def count(self, event: str) -> None:
        if event == "closed":
            self.open.dec()
            return
        if event == "accepted":
            self.open.inc()
        self.connections.labels(event=event).inc()


# -- running a listener beside a Service ------------------------------------------------------------
StartFn = Callable[[Service], Awaitable[Callable[[], Awaitable[None]]]]


async def run(settings: Settings, start: StartFn, *, metrics_port: int | None = None, host: str = "127.0.0.1",
              stop_event: asyncio.Event | None = None) -> None:
    """Start a Service, then the listener (`start` returns its close function); serve until SIGTERM,
    SIGINT or `stop_event`; SIGHUP reloads the model, as for `maldoc serve`."""
    service = Service(settings)
    await service.start()
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task] = set()

    def reload() -> None:
        async def go() -> None:
            with contextlib.suppress(Exception):  # logged by Service.reload; the old model keeps answering
                await service.reload()
        task = loop.create_task(go())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    installed = []
    for sig, action in ((signal.SIGTERM, stop.set), (signal.SIGINT, stop.set), (signal.SIGHUP, reload)):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, action)
            installed.append(sig)
    close = None
    try:
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=host, registry=service.metrics.registry)
            log.info("metrics on http://%s:%d/metrics", host, metrics_port)
        close = await start(service)
        await stop.wait()
        log.info("stopping")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if close is not None:
            await close()
        await service.stop()
