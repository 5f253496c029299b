"""From an analysed tree to a verdict: the scorers and the labelling policy.

Two scorers share one interface. `RuleScorer` is the noisy-OR of the distinct findings'
catalogue weights (used when no model bundle is present, and as the baseline every model must
beat); `maldoc.model.ModelBundle` is the LightGBM model. A node's score is the larger of its own
tree's score and its children's, so a clean e-mail carrying a malicious attachment is malicious.
"""

from __future__ import annotations

from typing import Protocol

from maldoc import catalogue
from maldoc.schema import rule_score
from maldoc.types import Flag, Node
from maldoc.verdict import MAX_URLS, FindingOut, Label, MacroOut, Reason, Verdict

MACRO_CHARS = 64 * 1024  # per module shown to an analyst


class Scorer(Protocol):
    version: str
    threshold: float
    suspicious_threshold: float

    def score(self, node: Node) -> tuple[float, list[Reason]]: ...


class RuleScorer:
    """Noisy-OR over the distinct rules that fired in the tree: 1 - prod(1 - weight)."""

    version = "rules"

    def __init__(self, threshold: float = 0.7, suspicious_threshold: float = 0.4) -> None:
        self.threshold = threshold
        self.suspicious_threshold = suspicious_threshold

    def score(self, node: Node) -> tuple[float, list[Reason]]:
        fired: dict[str, int] = {}
        for sub in node.walk():
            for f in sub.result.findings:
                fired[f.rule_id] = fired.get(f.rule_id, 0) + 1
        reasons = []
        for rule_id, count in fired.items():
            rule = catalogue.get(rule_id)
            if rule.weight > 0:
                reasons.append(Reason(feature=f"rule.{rule_id}", title=rule.title, value=count,
                                      contribution=rule.weight))
        reasons.sort(key=lambda r: -r.contribution)
        return rule_score(fired), reasons[:8]


def _label(score: float, node: Node, scorer: Scorer) -> Label:
    if score >= scorer.threshold:
        return Label.MALICIOUS
    if score >= scorer.suspicious_threshold:
        return Label.SUSPICIOUS
    flags = node.result.flags
    if flags & {Flag.TIMED_OUT, Flag.WORKER_DIED}:
        return Label.ERROR
    if Flag.LIMIT_EXCEEDED in flags and node.size and not node.result.features:
        return Label.ERROR  # refused outright (too large): nothing was analysed
    analysed = any(not k.startswith("_") for k in node.result.features)
    if Flag.PARSE_ERROR in flags and not analysed:
        return Label.ERROR
    return Label.CLEAN


def build_verdict(node: Node, scorer: Scorer, *, keep_macros: bool = False) -> Verdict:
    """Score `node` and, recursively, its children."""
    children = [build_verdict(c, scorer, keep_macros=keep_macros) for c in node.children]
    own, reasons = scorer.score(node)
    own = min(max(float(own), 0.0), 1.0)
    score = max([own, *(c.score for c in children)])
    urls = list(dict.fromkeys(node.result.urls))[:MAX_URLS]
    macros = []
    if keep_macros:
        for m in node.result.macros:
            macros.append(MacroOut(kind=m.kind, name=m.name, code=m.code[:MACRO_CHARS],
                                   truncated=len(m.code) > MACRO_CHARS))
    return Verdict(
        path=node.display_path, name=node.name, sha256=node.sha256, size=node.size,
        file_type=node.file_type.value, label=_label(score, node, scorer), score=score, own_score=own,
        threshold=scorer.threshold, suspicious_threshold=scorer.suspicious_threshold,
        model_version=scorer.version, reasons=reasons,
        findings=[FindingOut.from_finding(f) for f in node.result.findings],
        flags=sorted(f.value for f in node.result.flags), errors=node.result.errors, urls=urls,
        macros=macros, children=children, elapsed_ms=round(node.elapsed_ms, 2),
    )
