"""The verdict: what maldoc answers, to a person or a mail gateway. JSON via pydantic."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from maldoc import catalogue

MAX_URLS = 50  # URLs listed per node; the features count them all


class Label(StrEnum):
    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"
    CLEAN = "clean"
    ERROR = "error"  # the analysis could not complete and nothing found says malicious


class Reason(BaseModel):
    """Why the score is what it is: a finding that fired, or a feature, and how much it pushed the score."""

    feature: str = Field(description="`rule.<ID>` for a finding, else the feature's name")
    title: str
    value: float | None = None
    contribution: float = Field(description="log-odds contribution (model) or rule weight (rules)")
    evidence: str = ""  # findings: what was seen
    location: str = ""  # findings: where in the tree


class FindingOut(BaseModel):
    rule_id: str
    title: str
    severity: str
    attack: str = ""
    evidence: str = ""
    location: str = ""

    @classmethod
    def from_finding(cls, finding) -> FindingOut:
        rule = catalogue.get(finding.rule_id)
        return cls(rule_id=rule.id, title=rule.title, severity=rule.severity, attack=rule.attack,
                   evidence=finding.evidence, location=finding.location)


class MacroOut(BaseModel):
    kind: str
    name: str
    code: str
    truncated: bool = False


class Verdict(BaseModel):
    path: str = Field(description="container path, outermost first: mail.eml > invoice.zip > a.docm")
    name: str = ""
    sha256: str
    hashes: dict[str, str] = Field(
        default={}, description="top-level input only: md5, sha1, sha256 and tlsh (similarity), over the whole input")
    size: int
    file_type: str
    label: Label
    score: float = Field(ge=0.0, le=1.0, description="this node's score, children included (max)")
    own_score: float = Field(ge=0.0, le=1.0, description="score of this node's own analysis tree")
    threshold: float
    suspicious_threshold: float
    model_version: str = Field(description="model bundle version, or 'rules' for the rule-based scorer")
    reasons: list[Reason] = []
    model_predates: list[str] = Field(
        default=[], description="features this file has values for that the model was trained without")
    findings: list[FindingOut] = []
    flags: list[str] = []
    errors: list[str] = []
    urls: list[str] = []
    macros: list[MacroOut] = []
    children: list[Verdict] = []
    elapsed_ms: float = 0.0

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def summary(self) -> dict:
        """The compact per-file shape of `--jsonl` and the REST list views."""
        return {
            "path": self.path, "sha256": self.sha256, "file_type": self.file_type, "label": self.label.value,
            "score": round(self.score, 4), "flags": self.flags, "error": self.error,
            "reasons": [r.title for r in self.reasons[:5]],
            "children": [c.summary() for c in self.children],
        }
