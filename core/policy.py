"""The labelling policy: one place that turns a score and an analysis's state into a label.

Shared by every face. The scorer supplies thresholds (the model's, or the rule scorer's); an
operator may move them. A finding of a catalogue rule marked `verdict = "malicious"` (an indicator
whose meaning is unambiguous in mail, measured to fire on almost no benign file) lifts the score of
every node holding it to the malicious threshold. Then:
  - score at or above the malicious threshold: `malicious`, whatever else happened;
  - a walk cut short (a limit, the time budget, a parse failure of a container) is never `clean`:
    it is at least `cutoff_label` (default `suspicious`; `malicious`, or `clean` for the old
    behaviour, by setting);
  - an analysis that could not complete at all (a hard timeout, a dead worker, an input refused
    outright) is `error`, and the face's fail mode decides what a gateway does with an error:
    `report` passes it on, `open` treats it as clean, `closed` as malicious (REST) or as
    "try again later" (milter).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from maldoc.types import Flag, Node
from maldoc.verdict import Label

# What stops a walk early. A parse failure alone (a malformed but complete file) does not: it is
# everyday input, and its label comes from what was found.
CUTOFF_FLAGS = frozenset({Flag.LIMIT_EXCEEDED, Flag.TIMED_OUT})
FAILED_FLAGS = frozenset({Flag.TIMED_OUT, Flag.WORKER_DIED})


class FailMode(StrEnum):
    REPORT = "report"  # answer `error`; the gateway decides
    OPEN = "open"  # deliver: an unscanned message is treated as clean
    CLOSED = "closed"  # refuse: an unscanned message is treated as malicious (or deferred)


class CutoffLabel(StrEnum):
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"
    CLEAN = "clean"  # the old behaviour: what was scanned decides alone


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: float | None = None  # None: the scorer's own
    suspicious_threshold: float | None = None
    cutoff_label: CutoffLabel = CutoffLabel.SUSPICIOUS
    fail_mode: FailMode = FailMode.REPORT
    certain_indicators: bool = True  # catalogue rules marked `verdict = "malicious"` decide the label alone

    def __post_init__(self) -> None:
        for value in (self.threshold, self.suspicious_threshold):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"thresholds must be in [0, 1], got {value}")
        object.__setattr__(self, "cutoff_label", CutoffLabel(self.cutoff_label))
        object.__setattr__(self, "fail_mode", FailMode(self.fail_mode))

    def thresholds(self, threshold: float, suspicious: float) -> tuple[float, float]:
        t = self.threshold if self.threshold is not None else threshold
        s = self.suspicious_threshold if self.suspicious_threshold is not None else suspicious
        return t, min(s, t)

    def label_score(self, score: float, threshold: float, suspicious: float) -> Label:
        t, s = self.thresholds(threshold, suspicious)
        if score >= t:
            return Label.MALICIOUS
        if score >= s:
            return Label.SUSPICIOUS
        return Label.CLEAN

    def label(self, score: float, node: Node, threshold: float, suspicious: float, *, cutoff: bool) -> Label:
        """The label of one node of the verdict tree; `cutoff`: the walk below it stopped early."""
        label = self.label_score(score, threshold, suspicious)
        if label is Label.MALICIOUS:
            return label  # what was found stands, however the analysis ended
        if failed(node):
            return Label.ERROR
        if cutoff and self.cutoff_label is not CutoffLabel.CLEAN:
            floor = Label(self.cutoff_label.value)
            return floor if label is Label.CLEAN or floor is Label.MALICIOUS else label
        return label

    def decide(self, label: Label | None) -> Label:
        """What a gateway acts on: the label, or for an error (or no answer) what the fail mode says."""
        if label is not None and label is not Label.ERROR:
            return label
        if self.fail_mode is FailMode.OPEN:
            return Label.CLEAN
        if self.fail_mode is FailMode.CLOSED:
            return Label.MALICIOUS
        return Label.ERROR


def failed(node: Node) -> bool:
    """The analysis of this node could not complete at all (a hard timeout, a dead worker, an input
    refused outright, a parser that failed before learning anything): `error`, never `clean`."""
    flags = node.result.flags
    if flags & FAILED_FLAGS and not analysed(node):
        return True
    if Flag.LIMIT_EXCEEDED in flags and node.size and not node.result.features:
        return True  # refused outright (too large): nothing was analysed
    return Flag.PARSE_ERROR in flags and not analysed(node)


def analysed(node: Node) -> bool:
    return any(not k.startswith("_") for k in node.result.features)


def cut_off(node: Node) -> bool:
    """This node's own walk stopped early: something inside it was not analysed."""
    return bool(node.result.flags & CUTOFF_FLAGS)
