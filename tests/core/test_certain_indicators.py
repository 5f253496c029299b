"""Indicators whose meaning is unambiguous decide the verdict; the model ranks everything else."""

from __future__ import annotations

import pytest

from maldoc import catalogue
from maldoc.engine import Engine
from maldoc.policy import Policy
from maldoc.scoring import RuleScorer
from maldoc.verdict import Label

from builders import make_zip

QUIET = RuleScorer(threshold=0.99, suspicious_threshold=0.98)  # rules alone would call these clean


def test_a_certain_indicator_makes_the_verdict_malicious():
    data = make_zip({"notes.txt": b"minutes of the meeting", "run.js": b"var a = 1;"})  # a script in an archive
    v = Engine(jobs=0, scorer=QUIET).scan(data, "a.zip")
    assert catalogue.get("CORE_SCRIPT_NAME").verdict == "malicious"
    assert v.label is Label.MALICIOUS and v.score >= v.threshold
    assert v.reasons and v.reasons[0].feature == "rule.CORE_SCRIPT_NAME"
    off = Engine(jobs=0, scorer=QUIET, policy=Policy(certain_indicators=False)).scan(data, "a.zip")
    assert off.label is Label.CLEAN


def test_every_certain_rule_states_its_measured_benign_hits():
    certain = [r for r in catalogue.RULES.values() if r.verdict == "malicious"]
    assert len(certain) >= 10
    assert all(r.benign_hits is not None and r.benign_hits <= catalogue.CERTAIN_MAX_BENIGN_HITS for r in certain)


def test_a_noisy_rule_cannot_be_made_certain():
    table = {"id": "X_NOISY", "title": "t", "severity": "high", "weight": 0.5, "description": "d",
             "verdict": "malicious", "benign_hits": catalogue.CERTAIN_MAX_BENIGN_HITS + 1}
    with pytest.raises(catalogue.CatalogueError, match="benign files"):
        catalogue._parse("test.toml", table)
    with pytest.raises(catalogue.CatalogueError, match="benign files"):
        catalogue._parse("test.toml", {**table, "benign_hits": None})
    with pytest.raises(catalogue.CatalogueError, match="verdict"):
        catalogue._parse("test.toml", {**table, "verdict": "clean", "benign_hits": 0})
