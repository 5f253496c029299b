"""The milter's two ways to get a verdict for a raw message: in-process workers, or the REST service.

Both answer an `Outcome` and never raise: whatever goes wrong (a crashed worker, a timeout, a
refused connection, a 503 from a busy service) becomes `Outcome(label="error", error=...)`, and
the policy's fail-open / fail-closed setting decides what happens to the mail.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
import urllib.error
import urllib.request
from typing import Protocol

from maldoc.limits import Limits
from maldoc.serving.milter_policy import Outcome, clean_text
from maldoc.verdict import Verdict

MESSAGE_NAME = "message.eml"  # the root of every container path in the verdict
GRACE_S = 5.0  # on top of the pool's own hard timeout: queueing, worker start, scoring
EMAIL_ENDPOINT = "/v1/scan/email"


class Scanner(Protocol):
    def scan(self, raw: bytes) -> Outcome: ...

    def close(self) -> None: ...


def _where(path: str) -> str:
    parts = [p for p in path.split(" > ") if p]
    if parts and parts[0] == MESSAGE_NAME:
        parts = parts[1:]
    return " > ".join(parts) or "message"


def _top_reason(verdict: Verdict) -> tuple[str, str]:
    """The one reason a person should read first, and the part of the message it was found in.

    The reason is the top one of the highest-scoring node (the deepest on ties: the rule scorer
    scores a container with everything inside it). When it names a rule, the part is the one
    whose own findings include that rule, so "in invoice.zip > invoice.docm" points at the macro
    even though the message as a whole scored highest.
    """
    nodes = list(verdict.walk())
    worst = max(nodes, key=lambda v: (v.own_score, v.path.count(" > ")))
    if not worst.reasons:
        return "", ""
    top = worst.reasons[0]
    holder = worst
    if top.feature.startswith("rule."):
        holders = [v for v in nodes if any(f.rule_id == top.feature[5:] for f in v.findings)]
        if holders:
            holder = max(holders, key=lambda v: v.own_score)
    return top.title, _where(holder.path)


def outcome_from_verdict(verdict: Verdict) -> Outcome:
    """The message-level label and score, with the top reason and where it was found."""
    reason, where = _top_reason(verdict)
    error = ""
    if verdict.label == "error":
        messages = [e for v in verdict.walk() for e in v.errors]
        error = clean_text("; ".join(messages) or "analysis incomplete")
    return Outcome(label=verdict.label.value, score=verdict.score, reason=reason, where=where, error=error,
                   threshold=verdict.threshold, suspicious_threshold=verdict.suspicious_threshold,
                   model_version=verdict.model_version, sha256=verdict.sha256)


def outcome_from_json(doc: object) -> Outcome:
    """A REST answer: the service's ScanResponse ({"decision", "failure", "verdict": {...}, ...}),
    or a bare Verdict document. A reported failure is an error here, whatever `decision` the
    service's own fail mode chose: the milter applies its own fail-open / fail-closed setting."""
    if isinstance(doc, dict) and doc.get("failure"):
        score = doc.get("score")
        return Outcome(label="error", score=float(score) if isinstance(score, int | float) else 0.0,
                       error=clean_text(f"scanning service reported {doc['failure']}"))
    candidates = [doc]
    if isinstance(doc, dict):
        candidates += [doc[k] for k in ("verdict", "message", "result") if isinstance(doc.get(k), dict)]
    for candidate in candidates:
        try:
            return outcome_from_verdict(Verdict.model_validate(candidate))
        except ValueError:
            continue
    for candidate in candidates:  # a leaner shape (summary()): label and score are all the policy needs
        if isinstance(candidate, dict) and isinstance(candidate.get("label"), str) \
                and isinstance(candidate.get("score"), int | float):
            label = candidate["label"]
            if label not in ("malicious", "suspicious", "clean", "error"):
                break
            reasons = candidate.get("reasons") or []
            first = reasons[0] if reasons else ""
            reason = first.get("title", "") if isinstance(first, dict) else str(first)
            return Outcome(label=label, score=min(max(float(candidate["score"]), 0.0), 1.0), reason=reason,
                           error="service reported an error" if label == "error" else "")
    return Outcome(label="error", error="unexpected answer from the scanning service")


class InProcessScanner:
    """The engine's worker pool (hard timeout, crash isolation), scoring in this process."""

    def __init__(self, scorer, limits: Limits, jobs: int | None = None, pool=None, engine=None) -> None:
        from maldoc.engine import Engine

        self.limits = limits
        self.engine = engine or Engine(limits=limits, scorer=scorer, jobs=jobs)
        if pool is not None:  # tests hand in a pool with their own task
            self.engine._pool = pool
        self._score_lock = threading.Lock()  # one scorer shared by libmilter's per-connection threads

    @property
    def scorer(self):
        return self.engine.scorer

    @property
    def pool(self):
        return self.engine.pool

    def warm_up(self) -> None:
        """Start the workers now, from the main thread: before libmilter blocks signals in its
        threads (a worker forked later would inherit that mask), and load the extractors in them
        so the first message does not wait for that."""
        self.engine.warm_up()

    def scan(self, raw: bytes) -> Outcome:
        future = self.engine.pool.submit(raw, MESSAGE_NAME)
        try:
            node = future.result(timeout=self.limits.timeout_s + GRACE_S)
            with self._score_lock:
                verdict = self.engine.verdict(node)
        except cf.TimeoutError:
            future.cancel()  # stop the scan in its worker too, not only the wait for it
            return Outcome(label="error", error=f"scan did not finish within {self.limits.timeout_s:g} s")
        except Exception as exc:  # any failure is one message's error, never the milter's; the type only
            return Outcome(label="error", error=clean_text(f"scan failed ({type(exc).__name__})"))
        return outcome_from_verdict(verdict)

    def close(self) -> None:
        self.engine.close()


class RestScanner:
    """POST the raw message to the maldoc service's e-mail endpoint."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        self.endpoint = url.rstrip("/") + EMAIL_ENDPOINT
        self.api_key = api_key
        self.timeout_s = timeout_s
        # An internal service: never route it through a proxy picked up from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def scan(self, raw: bytes) -> Outcome:
        headers = {"Content-Type": "message/rfc822", "Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, data=raw, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                doc = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return Outcome(label="error", error=f"scanning service answered HTTP {exc.code}")
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            reason = getattr(exc, "reason", exc)
            return Outcome(label="error", error=clean_text(f"scanning service unreachable: {reason}"))
        except ValueError:
            return Outcome(label="error", error="scanning service answered something other than JSON")
        return outcome_from_json(doc)

    def close(self) -> None:
        pass
