"""What the milter does with a message, given what the scan said: a pure function, no MTA.

Kept apart from the pymilter glue so that the policy (the part an operator configures and an
auditor reads) is tested exhaustively without a mail server, and so that `--help` works where
pymilter is not installed.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from maldoc.policy import FailMode
from maldoc.policy import Policy as LabelPolicy

HEADER_VERDICT = "X-Maldoc-Verdict"
HEADER_SCORE = "X-Maldoc-Score"
HEADER_REASON = "X-Maldoc-Reason"
OWN_HEADERS = (HEADER_VERDICT, HEADER_SCORE, HEADER_REASON)  # removed from inbound mail: a sender may forge them

REASON_CHARS = 160  # SMTP replies and header lines stay short; the full verdict is in the log / REST answer


class Action(enum.StrEnum):
    """What happens to a message. The first three are the choices an operator configures."""

    TAG = "tag"  # deliver, with the X-Maldoc-* headers
    QUARANTINE = "quarantine"  # deliver into the MTA's hold queue (Postfix: `postsuper -r` releases it)
    REJECT = "reject"  # 550 5.7.1 during DATA: the sender's MTA bounces it
    TEMPFAIL = "tempfail"  # 451 4.7.1: the sender retries later (fail-closed on a transient error)


CONFIGURABLE = (Action.TAG, Action.QUARANTINE, Action.REJECT)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The scan result the policy needs: the message-level label and score, or why there is none."""

    label: str  # malicious | suspicious | clean | error (maldoc.verdict.Label values)
    score: float = 0.0
    reason: str = ""  # the top reason, for people (reply text, header)
    where: str = ""  # which part of the message it was found in
    error: str = ""  # set when the scan could not complete (engine error, timeout, REST failure)
    oversize: bool = False  # the message was larger than the scan limit and was not scanned
    threshold: float | None = None  # the scorer's thresholds, for operator overrides of one of them
    suspicious_threshold: float | None = None
    model_version: str = ""
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """What the operator configured: actions per label, and the engine's labelling policy
    (thresholds and fail mode, `maldoc.policy`) that REST and the listeners share. For mail, fail
    mode `open` or `report` delivers an unscanned message tagged 'error'; `closed` defers it (451)."""

    malicious: Action = Action.TAG
    suspicious: Action = Action.TAG
    fail_open: bool = True  # on an error or timeout: deliver (tagged 'error') rather than refuse
    threshold: float | None = None  # override the model's malicious threshold (on the message score)
    suspicious_threshold: float | None = None

    def __post_init__(self) -> None:
        for action in (self.malicious, self.suspicious):
            if action not in CONFIGURABLE:
                raise ValueError(f"policy action must be one of {[a.value for a in CONFIGURABLE]}, got {action!r}")
        self.labelling  # validates the thresholds  # noqa: B018

    @property
    def labelling(self) -> LabelPolicy:
        return LabelPolicy(threshold=self.threshold, suspicious_threshold=self.suspicious_threshold,
                           fail_mode=FailMode.OPEN if self.fail_open else FailMode.CLOSED)

    @property
    def fail_mode(self) -> FailMode:
        return self.labelling.fail_mode


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    label: str  # the label written to X-Maldoc-Verdict (after threshold overrides)
    headers: dict[str, str] = field(default_factory=dict)  # added unless the message is refused
    reply: tuple[str, str, str] | None = None  # (rcode, xcode, text) for reject / tempfail
    quarantine_reason: str = ""


def clean_text(text: str, limit: int = REASON_CHARS) -> str:
    """Attacker-influenced text (file names, evidence) made safe for an SMTP reply or a header line:
    printable ASCII only, no '%' (libmilter treats reply text as a format string), bounded."""
    text = re.sub(r"[^\x20-\x7e]+", " ", text).replace("%", "pct").strip()
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def relabel(outcome: Outcome, policy: Policy) -> str:
    """The label after the operator's threshold overrides (on the message score, children included).

    A scan that could not complete stays 'error' unless what it found before stopping already
    passes the malicious threshold.
    """
    threshold = policy.threshold if policy.threshold is not None else outcome.threshold
    if outcome.error or outcome.oversize or outcome.label == "error":
        return "malicious" if threshold is not None and outcome.score >= threshold else "error"
    if policy.threshold is None and policy.suspicious_threshold is None:
        return outcome.label
    if outcome.threshold is None and policy.threshold is None:
        return outcome.label
    base_t = outcome.threshold if outcome.threshold is not None else policy.threshold
    base_s = outcome.suspicious_threshold if outcome.suspicious_threshold is not None else base_t
    relabelled = policy.labelling.label_score(outcome.score, base_t, base_s).value
    # The engine may label above what the score says (a walk cut short is never clean): a threshold
    # override moves the score's part of the label, never that floor.
    order = ("clean", "suspicious", "malicious")
    by_score = LabelPolicy().label_score(outcome.score, base_t, base_s).value
    floor = outcome.label if order.index(outcome.label) > order.index(by_score) else "clean"
    return max(relabelled, floor, key=order.index)


def _problem(outcome: Outcome) -> str:
    """The kind of failure, for the recipient's header; the details (paths, exceptions) go to the log."""
    if outcome.oversize:
        return "message larger than the scan limit"
    if any(w in outcome.error for w in ("timed out", "timeout", "did not finish", "time budget")):
        return "scan timed out"
    if "service" in outcome.error:
        return "scanning service unavailable"
    return "scan failed"


def _because(outcome: Outcome) -> str:
    parts = [p for p in (outcome.reason, outcome.where and f"in {outcome.where}") if p]
    return clean_text(" ".join(parts)) if parts else ""


def decide(outcome: Outcome, policy: Policy) -> Decision:
    label = relabel(outcome, policy)
    headers = {HEADER_VERDICT: label, HEADER_SCORE: f"{outcome.score:.4f}"}
    because = _because(outcome)

    if label == "error":
        problem = _problem(outcome)
        if policy.fail_open:
            return Decision(Action.TAG, label, {**headers, HEADER_REASON: f"not scanned: {problem}"})
        if outcome.oversize:  # retrying cannot help: refuse permanently, with the size status code
            return Decision(Action.REJECT, label,
                            reply=("552", "5.3.4", "Message too large for content scanning"))
        return Decision(Action.TEMPFAIL, label,
                        reply=("451", "4.7.1", "Message could not be scanned, try again later"))

    if label == "clean":
        return Decision(Action.TAG, label, headers)
    if because:
        headers[HEADER_REASON] = because
    action = policy.malicious if label == "malicious" else policy.suspicious
    if action is Action.REJECT:
        what = "malicious" if label == "malicious" else "suspicious"
        text = clean_text(f"Message rejected as {what} content" + (f": {because}" if because else ""))
        return Decision(action, label, reply=("550", "5.7.1", text))
    if action is Action.QUARANTINE:
        return Decision(action, label, headers, quarantine_reason=clean_text(f"maldoc {label}: {because}"))
    return Decision(Action.TAG, label, headers)
