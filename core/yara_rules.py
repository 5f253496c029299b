"""Analysts' own detections: YARA rules from a folder, compiled once, run on every node of a scan.

`--yara DIR` (or `MALDOC_YARA_DIR`) names a folder of `*.yar` / `*.yara` files. They are compiled
with yara-x when the command or the service starts: a rule that does not compile is an error then,
never in the middle of a scan. Each rule becomes its own catalogue entry, `YARA_<NAME>`, whose
weight (its share of the rule score), severity and title the operator sets in the rule's `meta`:

    rule Invoice_Dropper {
      meta: description = "Invoice lure dropper"  weight = 0.8  severity = "high"
      strings: $a = "powershell -enc" nocase
      condition: $a
    }

Defaults: weight 0.5, severity medium, title "YARA rule <name> matched". A match is a finding with
the rule's name, namespace, tags and the matched pattern identifiers (never the matched bytes).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from maldoc import catalogue

PREFIX = "YARA_"
SCAN_TIMEOUT_S = 5  # per node; yara-x stops a pathological rule there
SEVERITIES = catalogue.SEVERITIES


class YaraError(ValueError):
    """The rule folder cannot be used: missing, empty, or a rule that does not compile."""


@dataclass(frozen=True)
class RuleSet:
    folder: str
    digest: str  # of every rule file's bytes: keys the feature cache
    rules: object  # yara_x.Rules

    def scan(self, data: bytes) -> list:
        import yara_x

        scanner = yara_x.Scanner(self.rules)
        scanner.set_timeout(SCAN_TIMEOUT_S)
        return list(scanner.scan(data).matching_rules)


_CACHE: dict[tuple[str, str], RuleSet] = {}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".yar", ".yara") and p.is_file())


def rule_id(name: str) -> str:
    return PREFIX + re.sub(r"[^A-Z0-9_]", "_", name.upper())[:58]


def load(folder: str | Path) -> RuleSet:
    """Compile every rule file of `folder` (once per process and content) and register its catalogue entries."""
    folder = Path(folder)
    if not folder.is_dir():
        raise YaraError(f"{folder}: no such YARA rule folder")
    files = _files(folder)
    if not files:
        raise YaraError(f"{folder}: no .yar or .yara files")
    digest = hashlib.sha256(b"".join(p.read_bytes() + b"\0" for p in files)).hexdigest()[:16]
    key = (str(folder.resolve()), digest)
    if key in _CACHE:
        return _CACHE[key]
    try:
        import yara_x
    except ImportError:
        raise YaraError("YARA rules need the yara-x package: pip install yara-x") from None
    compiler = yara_x.Compiler()
    for path in files:
        try:
            compiler.new_namespace(re.sub(r"\W", "_", path.stem) or "rules")
            compiler.add_source(path.read_text(encoding="utf-8", errors="replace"))
        except Exception as exc:  # yara-x's CompileError: its text says which rule and line
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise YaraError(f"{path}: {first}") from None
    rules = compiler.build()
    _register(rules)
    ruleset = RuleSet(str(folder), digest, rules)
    _CACHE[key] = ruleset
    return ruleset


def _register(rules) -> None:
    """One catalogue entry per rule, from its meta (weights are the operator's to set)."""
    for rule in rules:
        _entry(rule.identifier, dict(rule.metadata))


def entry_for(match) -> str:
    """The catalogue id of a match, registering it when the rule set could not be listed."""
    rid = rule_id(match.identifier)
    if rid not in catalogue.RULES:
        _entry(match.identifier, dict(match.metadata))
    return rid


def _entry(name: str, meta: dict) -> None:
    rid = rule_id(name)
    try:
        weight = min(max(float(meta.get("weight", 0.5)), 0.0), 1.0)
    except (TypeError, ValueError):
        weight = 0.5
    severity = str(meta.get("severity", "medium")).lower()
    title = str(meta.get("description") or f"YARA rule {name} matched")[:200]
    catalogue.RULES[rid] = catalogue.Rule(
        id=rid, title=title, severity=severity if severity in SEVERITIES else "medium", weight=weight,
        description=f"Analyst YARA rule {name}: {title}", attack=str(meta.get("attack", ""))
        if re.fullmatch(r"T\d{4}(\.\d{3})?", str(meta.get("attack", ""))) else "")
