"""Analysts' YARA rules: compiled at start-up, run on every node, a finding with its own weight."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from maldoc import catalogue
from maldoc.engine import Engine
from maldoc.extractor import Options
from maldoc.scoring import RuleScorer
from maldoc.yara_rules import YaraError, load

from builders import make_zip

RULE = """
rule Invoice_Marker : lure {
  meta:
    description = "Invoice lure marker"
    weight = 0.9
    severity = "high"
  strings:
    $a = "MALDOC-TEST-MARKER"
  condition:
    $a
}
"""


@pytest.fixture()
def rules(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "lures.yar").write_text(RULE)
    return folder


def test_a_match_is_a_finding_on_the_node_that_holds_it(rules):
    data = make_zip({"notes.txt": b"hello", "inner.txt": b"xx MALDOC-TEST-MARKER yy"})
    v = Engine(jobs=0, scorer=RuleScorer(), options=Options(yara_dir=str(rules))).scan(data, "a.zip")
    hits = [(n.path, f) for n in v.walk() for f in n.findings if f.rule_id == "YARA_INVOICE_MARKER"]
    assert [p for p, _ in hits] == ["a.zip > inner.txt"]
    finding = hits[0][1]
    assert finding.title == "Invoice lure marker" and finding.severity == "high"
    assert "MALDOC-TEST-MARKER" not in finding.evidence  # names the rule and pattern, not the bytes
    assert catalogue.get("YARA_INVOICE_MARKER").weight == 0.9
    assert v.label.value == "malicious"  # the operator's weight counts in the rule score


def test_no_match_no_finding(rules):
    v = Engine(jobs=0, scorer=RuleScorer(), options=Options(yara_dir=str(rules))).scan(b"plain text", "a.txt")
    assert not any(f.rule_id.startswith("YARA_") for f in v.findings)


def test_a_bad_rule_is_an_error_at_start_up(tmp_path):
    (tmp_path / "bad.yar").write_text("rule broken { condition: $missing }")
    with pytest.raises(YaraError, match=r"bad\.yar"):
        load(tmp_path)
    with pytest.raises(YaraError):
        Engine(jobs=0, options=Options(yara_dir=str(tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "maldoc.cli", "scan", "--yara", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2 and "bad.yar" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_runs_rules_in_the_worker_pool(rules, tmp_path):
    target = tmp_path / "doc.txt"
    target.write_bytes(b"MALDOC-TEST-MARKER")
    proc = subprocess.run([sys.executable, "-m", "maldoc.cli", "scan", str(target), "--jsonl", "--jobs", "1",
                           "--model", "rules", "--yara", str(rules)], capture_output=True, text=True, timeout=300,
                          check=False)
    record = json.loads(proc.stdout)
    assert "YARA_INVOICE_MARKER" in {f["rule_id"] for f in record["verdict"]["findings"]}
