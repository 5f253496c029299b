"""The rule catalogue: every finding maldoc can report, kept as data in `rules/*.toml`.

Each file holds `[[rule]]` tables (one file per extractor family, so that adding a format adds a
file). The catalogue is loaded and validated when this module is imported; an extractor names
the rules it may emit and the registry checks them at import too, so a typo in a rule id fails
the first test that imports maldoc rather than a scan in production.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

SEVERITIES = ("info", "low", "medium", "high", "critical")
VERDICTS = ("", "malicious")
# A rule may decide a verdict alone (`verdict = "malicious"`) only when its meaning is unambiguous in
# mail and it fired on at most this many of the benign files of the development corpora (both,
# 4,988 files: 1 is 0.02 %), the count written beside it as `benign_hits`.
CERTAIN_MAX_BENIGN_HITS = 1
_ID = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")
_ATTACK = re.compile(r"^T\d{4}(\.\d{3})?$")


class CatalogueError(ValueError):
    """The rule catalogue is inconsistent, or code named a rule it does not hold."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: str
    weight: float  # contribution to the rule-based score (noisy-OR), in [0, 1]
    description: str
    attack: str = ""  # MITRE ATT&CK technique, where one fits
    verdict: str = ""  # "malicious": this finding alone makes the verdict malicious (an indicator that is certain)
    benign_hits: int | None = None  # benign development-corpus files it fired on, when measured


def _parse(source: str, table: dict) -> Rule:
    unknown = set(table) - {"id", "title", "severity", "weight", "description", "attack", "verdict", "benign_hits"}
    if unknown:
        raise CatalogueError(f"{source}: unknown keys {sorted(unknown)} in rule {table.get('id')!r}")
    try:
        rule = Rule(
            id=table["id"],
            title=table["title"],
            severity=table["severity"],
            weight=float(table["weight"]),
            description=table["description"],
            attack=table.get("attack", ""),
            verdict=table.get("verdict", ""),
            benign_hits=table.get("benign_hits"),
        )
    except KeyError as exc:
        raise CatalogueError(f"{source}: rule {table.get('id')!r} lacks {exc}") from None
    if not _ID.match(rule.id):
        raise CatalogueError(f"{source}: bad rule id {rule.id!r} (UPPER_SNAKE_CASE)")
    if rule.severity not in SEVERITIES:
        raise CatalogueError(f"{source}: {rule.id} severity {rule.severity!r} not in {SEVERITIES}")
    if not 0.0 <= rule.weight <= 1.0:
        raise CatalogueError(f"{source}: {rule.id} weight {rule.weight} outside [0, 1]")
    if rule.verdict not in VERDICTS:
        raise CatalogueError(f"{source}: {rule.id} verdict {rule.verdict!r} not in {VERDICTS}")
    if rule.verdict and (rule.benign_hits is None or rule.benign_hits > CERTAIN_MAX_BENIGN_HITS):
        raise CatalogueError(f"{source}: {rule.id} decides a verdict but fired on {rule.benign_hits} benign files "
                             f"(at most {CERTAIN_MAX_BENIGN_HITS}, measured, is required)")
    if rule.attack and not _ATTACK.match(rule.attack):
        raise CatalogueError(f"{source}: {rule.id} ATT&CK id {rule.attack!r} malformed")
    if not rule.title.strip() or not rule.description.strip():
        raise CatalogueError(f"{source}: {rule.id} needs a title and a description")
    return rule


def load(package: str = "maldoc", folder: str = "rules") -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    root = resources.files(package).joinpath(folder)
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for table in data.get("rule", []):
            rule = _parse(entry.name, table)
            if rule.id in rules:
                raise CatalogueError(f"{entry.name}: duplicate rule id {rule.id}")
            rules[rule.id] = rule
    return rules


RULES: dict[str, Rule] = load()


def get(rule_id: str) -> Rule:
    try:
        return RULES[rule_id]
    except KeyError:
        raise CatalogueError(f"unknown rule id {rule_id!r}") from None


def check(rule_ids, owner: str) -> None:
    missing = sorted(set(rule_ids) - RULES.keys())
    if missing:
        raise CatalogueError(f"{owner} names rules missing from the catalogue: {missing}")
