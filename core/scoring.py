"""From an analysed tree to a verdict: the scorers and the labelling policy.

Two scorers share one interface, `score_tree`: the features of every node of a file's tree (each
aggregated over its subtree) in, one score per node out, in one batch (one LightGBM call per
file, not one per node). `RuleScorer` is the noisy-OR of the distinct findings' catalogue
weights (used when no model bundle is present, and as the baseline every model must beat);
`maldoc.model.ModelBundle` is the LightGBM model. A node's score is the larger of its own tree's
score and its children's, so a clean e-mail carrying a malicious attachment is malicious; the
label comes from `maldoc.policy`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from maldoc import catalogue
from maldoc.policy import CUTOFF_FLAGS, Policy, cut_off
from maldoc.schema import tree_features
from maldoc.types import Node, truncate
from maldoc.verdict import MAX_URLS, FindingOut, MacroOut, Reason, Verdict

MACRO_CHARS = 64 * 1024  # per module shown to an analyst
CUTOFF_VALUES = frozenset(f.value for f in CUTOFF_FLAGS)


class NodeScore(NamedTuple):
    score: float
    reasons: list[Reason]
    unseen: list[str]  # features the model predates that this node's row has values for


class Scorer(Protocol):
    version: str
    threshold: float
    suspicious_threshold: float

    def score_tree(self, feats: list[dict[str, float]], reasons_from: float = 0.0) -> list[NodeScore]:
        """One score per node, from every node's aggregated features, in one batch; reasons only
        for nodes scoring at least `reasons_from` (a clean node has no reasons to suspect)."""
        ...


class RuleScorer:
    """Noisy-OR over the distinct rules that fired in the tree: 1 - prod(1 - weight)."""

    version = "rules"

    def __init__(self, threshold: float = 0.7, suspicious_threshold: float = 0.4) -> None:
        self.threshold = threshold
        self.suspicious_threshold = suspicious_threshold

    def score_tree(self, feats: list[dict[str, float]], reasons_from: float = 0.0) -> list[NodeScore]:
        scored = [self._score(values) for values in feats]
        return [s if s.score >= reasons_from else s._replace(reasons=[]) for s in scored]

    def score(self, node: Node) -> tuple[float, list[Reason]]:
        scored = self._score(tree_features(node)[0][1])
        return scored.score, scored.reasons

    @staticmethod
    def _score(values: dict[str, float]) -> NodeScore:
        reasons = []
        for key, count in values.items():
            if not key.startswith("rule."):
                continue
            rule = catalogue.get(key[5:])
            if rule.weight > 0:
                reasons.append(Reason(feature=key, title=rule.title, value=count, contribution=rule.weight))
        reasons.sort(key=lambda r: -r.contribution)
        return NodeScore(values.get("tree.rule_score", 0.0), reasons[:8], [])


def build_verdict(node: Node, scorer: Scorer, *, keep_macros: bool = False, policy: Policy | None = None) -> Verdict:
    """Score every node of the tree in one batched call, then build the verdict tree bottom-up."""
    policy = policy or Policy()
    pairs = tree_features(node)
    _t, suspicious = policy.thresholds(scorer.threshold, scorer.suspicious_threshold)
    scored = scorer.score_tree([values for _, values in pairs], reasons_from=suspicious)
    built: dict[int, Verdict] = {}
    cut: dict[int, bool] = {}
    certain: dict[int, bool] = {}
    for (sub, _values), own in zip(reversed(pairs), reversed(scored), strict=True):  # children first
        children = [built.pop(id(c)) for c in sub.children]
        cut[id(sub)] = cut_off(sub) or any(cut.pop(id(c)) for c in sub.children)
        certain[id(sub)] = any(catalogue.get(f.rule_id).verdict == "malicious" for f in sub.result.findings) \
            or any(certain.pop(id(c)) for c in sub.children)
        built[id(sub)] = _verdict(sub, own, children, scorer, policy, keep_macros, cut[id(sub)],
                                  certain[id(sub)] and policy.certain_indicators)
    root = built[id(node)]
    if node.hashes:
        root.hashes = dict(node.hashes)
        root.sha256 = node.hashes.get("sha256", root.sha256)
    if cut[id(node)]:
        _carry_up(root)
    return root


# Descriptive values that are no reason on their own: shown only when a finding makes them odd.
_CONTEXT_ONLY = ("file.size_log2", "file.entropy", "tree.nodes", "tree.max_depth")


def _readable(model: list[Reason], findings: list[FindingOut], children: list[Verdict], path: str) -> list[Reason]:
    """A verdict's reasons: the findings that fired in its tree first (title, evidence, where),
    ordered by what they contributed, then the model's strongest other contributions."""
    weight = {r.feature: r.contribution for r in model}
    fired: dict[str, Reason] = {}
    subtree = [(f, path) for f in findings] + [(f, v.path) for c in children for v in c.walk() for f in v.findings]
    for f, where in subtree:
        rule = catalogue.get(f.rule_id)
        key = f"rule.{f.rule_id}"
        if key in fired or (rule.weight <= 0 and key not in weight):
            continue
        fired[key] = Reason(feature=key, title=rule.title, contribution=round(weight.get(key, rule.weight), 4),
                            evidence=f.evidence, location=f.location or where)
    ordered = sorted(fired.values(), key=lambda r: -r.contribution)
    others = [r for r in model if r.feature not in fired and not r.feature.startswith("rule.")
              and (r.feature not in _CONTEXT_ONLY or fired)]
    return (ordered + others)[:8]


def _carry_up(root: Verdict) -> None:
    """A walk cut short anywhere is said at the top: its flags, and one finding naming where."""
    where = [v for v in root.walk() if set(v.flags) & CUTOFF_VALUES]
    root.flags = sorted(set(root.flags) | {f for v in where for f in v.flags if f in CUTOFF_VALUES})
    shown = ", ".join(v.path for v in where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
    rule = catalogue.get("CORE_ANALYSIS_INCOMPLETE")
    root.findings.append(FindingOut(rule_id=rule.id, title=rule.title, severity=rule.severity,
                                    evidence=truncate(f"stopped early in {shown}"), location=truncate(root.path, 120)))


def _verdict(node: Node, own: NodeScore, children: list[Verdict], scorer: Scorer, policy: Policy,
             keep_macros: bool, cutoff: bool, certain: bool) -> Verdict:
    own_score = min(max(float(own.score), 0.0), 1.0)
    score = max([own_score, *(c.score for c in children)])
    if certain:  # an indicator whose meaning is unambiguous decides: at least the malicious threshold
        score = max(score, policy.thresholds(scorer.threshold, scorer.suspicious_threshold)[0])
    urls = list(dict.fromkeys(node.result.urls))[:MAX_URLS]
    macros = []
    if keep_macros:
        for m in node.result.macros:
            macros.append(MacroOut(kind=m.kind, name=m.name, code=m.code[:MACRO_CHARS],
                                   truncated=len(m.code) > MACRO_CHARS))
    t, s = policy.thresholds(scorer.threshold, scorer.suspicious_threshold)
    findings = [FindingOut.from_finding(f) for f in node.result.findings]
    reasons = _readable(own.reasons, findings, children, node.display_path) if score >= s else []
    return Verdict(
        path=node.display_path, name=node.name, sha256=node.sha256, size=node.size,
        file_type=node.file_type.value,
        label=policy.label(score, node, scorer.threshold, scorer.suspicious_threshold, cutoff=cutoff),
        score=score, own_score=own_score, threshold=t, suspicious_threshold=s,
        model_version=scorer.version, reasons=reasons, model_predates=own.unseen, findings=findings,
        flags=sorted(f.value for f in node.result.flags), errors=node.result.errors, urls=urls,
        macros=macros, children=children, elapsed_ms=round(node.elapsed_ms, 2),
    )
