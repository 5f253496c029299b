"""The pymilter glue: collect each message, scan it, apply the policy through the milter protocol.

libmilter calls these callbacks from one thread per SMTP connection; a `MaldocMilter` object
lives for one connection and may see several messages (one per MAIL FROM). The message is
rebuilt from the header and body callbacks (headers as the MTA passed them, CRLF line ends),
bounded by `max_bytes`: past it nothing more is buffered and the fail policy applies.
"""

from __future__ import annotations

import hashlib
import logging
import time

import Milter

from maldoc.serving.milter_metrics import MilterMetrics
from maldoc.serving.milter_policy import OWN_HEADERS, Action, Decision, Outcome, Policy, decide
from maldoc.serving.milter_scan import Scanner

log = logging.getLogger("maldoc.milter")


class MaldocMilter(Milter.Base):
    """One SMTP connection. `scanner`, `policy` and `max_bytes` are set on a subclass by `make_factory`."""

    scanner: Scanner
    policy: Policy
    max_bytes: int
    metrics: MilterMetrics | None = None

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._headers: list[bytes] = []
        self._body: list[bytes] = []
        self._size = 0
        self._oversize = False
        self._forged: dict[str, int] = {}  # our own header names the sender already put in: name -> count

    def _take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.max_bytes:
            if not self._oversize:
                self._headers, self._body, self._oversize = [], [], True  # stop holding it in memory
            return
        self._body.append(chunk)

    # -- callbacks ------------------------------------------------------------------------
    def envfrom(self, mailfrom, *params):
        self._reset()  # a connection can carry several messages
        return Milter.CONTINUE

    def header_bytes(self, field, value):
        name = field if isinstance(field, str) else field.decode("ascii", "replace")
        for own in OWN_HEADERS:
            if name.lower() == own.lower():
                self._forged[own] = self._forged.get(own, 0) + 1
        line = name.encode("ascii", "replace") + b": " + bytes(value) + b"\r\n"
        self._size += len(line)
        if self._size > self.max_bytes:
            self._headers, self._body, self._oversize = [], [], True
        elif not self._oversize:
            self._headers.append(line)
        return Milter.CONTINUE

    def header(self, field, value):
        # runmilter calls header_bytes above; defining `header` matters anyway: pymilter derives the
        # protocol mask from which callbacks a class overrides, and without it the MTA sends no headers.
        return self.header_bytes(field, value.encode("utf-8", "surrogateescape"))

    def body(self, chunk):
        self._take(bytes(chunk))
        return Milter.CONTINUE

    def eom(self):
        started = time.perf_counter()
        queue_id = self.getsymval("i") or "-"
        raw = b"" if self._oversize else b"".join([*self._headers, b"\r\n", *self._body])
        if self._oversize:
            outcome = Outcome(label="error", oversize=True, error=f"message over {self.max_bytes} bytes")
        else:
            try:
                outcome = self.scanner.scan(raw)
            except Exception as exc:  # scanners should not raise; if one does, it is an error
                outcome = Outcome(label="error", error=f"scanner error: {type(exc).__name__}")
        try:
            decision = decide(outcome, self.policy)
            result = self._apply(decision)
        except Exception as exc:  # a milter bug must still honour fail-open / fail-closed
            log.exception("queue_id=%s: could not apply the decision", queue_id)
            decision = decide(Outcome(label="error", error=f"milter error: {type(exc).__name__}"), self.policy)
            result = Milter.ACCEPT if decision.action is Action.TAG else self._refuse(decision)
        elapsed = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.record(decision, outcome, elapsed, self._size)
        # Logged: identifiers and the decision only, never content.
        log.info("queue_id=%s size=%d sha256=%s verdict=%s score=%.4f action=%s model=%s ms=%.0f%s",
                 queue_id, self._size, hashlib.sha256(raw).hexdigest()[:16] if raw else "-", decision.label,
                 outcome.score, decision.action.value, outcome.model_version or "-",
                 elapsed * 1000, f" error={outcome.error!r}" if outcome.error else "")
        self._reset()
        return result

    def abort(self):
        self._reset()
        return Milter.CONTINUE

    def close(self):
        return Milter.CONTINUE

    # -- actions --------------------------------------------------------------------------
    def _apply(self, decision: Decision) -> int:
        if decision.reply is not None:
            return self._refuse(decision)
        for name, count in self._forged.items():
            for index in range(count, 0, -1):  # last first, so earlier indexes stay valid
                self.chgheader(name, index, "")
        for name, value in decision.headers.items():
            self.addheader(name, value)
        if decision.action is Action.QUARANTINE:
            self.quarantine(decision.quarantine_reason or "maldoc")
        return Milter.ACCEPT

    def _refuse(self, decision: Decision) -> int:
        rcode, xcode, text = decision.reply or ("451", "4.7.1", "Message could not be scanned, try again later")
        self.setreply(rcode, xcode, text)
        return Milter.REJECT if rcode.startswith("5") else Milter.TEMPFAIL


def make_factory(scanner: Scanner, policy: Policy, max_bytes: int,
                 metrics: MilterMetrics | None = None) -> type[MaldocMilter]:
    """A MaldocMilter subclass bound to one configuration (libmilter instantiates it per connection)."""
    return type("ConfiguredMaldocMilter", (MaldocMilter,),
                {"scanner": scanner, "policy": policy, "max_bytes": max_bytes, "metrics": metrics})


def run(name: str, socket: str, factory: type[MaldocMilter], *, io_timeout_s: int = 600) -> None:
    """Serve until SIGTERM / SIGINT (libmilter handles both and returns from `runmilter`)."""
    Milter.factory = factory
    # Every action the policy may take; Postfix grants them all, but say so for other MTAs.
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE)
    Milter.runmilter(name, socket, io_timeout_s)
