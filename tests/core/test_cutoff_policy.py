"""A walk cut short is never `clean`, and what a limit kept out is still sniffed.

Each test builds its hostile shape at run time (inert: FAKE_PE is a PE header, no code).
"""

from __future__ import annotations

from maldoc.engine import Engine
from maldoc.limits import Limits
from maldoc.policy import CutoffLabel, Policy
from maldoc.scoring import RuleScorer
from maldoc.verdict import Label

from builders import FAKE_PE, make_zip

RULES = RuleScorer()


def _scan(data: bytes, name: str, limits: Limits | None = None, policy: Policy | None = None):
    return Engine(jobs=0, scorer=RULES, limits=limits, policy=policy).scan(data, name)


def _nest(payload: dict[str, bytes], levels: int) -> bytes:
    data = make_zip(payload)
    for i in range(levels - 1):
        data = make_zip({f"level{i}.zip": data})
    return data


def test_an_executable_past_max_depth_is_still_reported():
    data = _nest({"invoice.exe": FAKE_PE}, 7)  # the executable sits seven containers deep
    v = _scan(data, "deep.zip")
    assert v.label is Label.MALICIOUS
    found = {f.rule_id for n in v.walk() for f in n.findings}
    assert "CORE_EXECUTABLE_PAYLOAD" in found
    assert "limit_exceeded" in v.flags and "CORE_ANALYSIS_INCOMPLETE" in {f.rule_id for f in v.findings}


def test_an_executable_past_max_children_is_still_reported():
    members = {f"doc{i:03}.txt": b"quarterly figures" for i in range(200)}
    members["z_payload.exe"] = FAKE_PE  # member 201
    v = _scan(make_zip(members), "wide.zip")
    assert v.label is Label.MALICIOUS
    evidence = [f.location for n in v.walk() for f in n.findings if f.rule_id == "CORE_EXECUTABLE_PAYLOAD"]
    assert any("z_payload.exe" in loc and "not scanned" in loc for loc in evidence)


def test_a_cut_off_walk_is_at_least_suspicious_by_default():
    data = _nest({"notes.txt": b"nothing to see"}, 4)
    limits = Limits(max_depth=2)
    assert _scan(data, "n.zip", limits).label is Label.SUSPICIOUS
    assert _scan(data, "n.zip", limits, Policy(cutoff_label=CutoffLabel.MALICIOUS)).label is Label.MALICIOUS
    assert _scan(data, "n.zip", limits, Policy(cutoff_label=CutoffLabel.CLEAN)).label is Label.CLEAN
    assert _scan(data, "n.zip").label is Label.CLEAN  # within the limits: nothing was cut


def test_max_nodes_bounds_the_whole_tree_and_is_flagged():
    inner = make_zip({f"f{i}.txt": b"x" for i in range(30)})
    data = make_zip({f"part{i}.zip": inner for i in range(30)})  # 931 nodes
    v = _scan(data, "wide.zip", Limits(max_nodes=100))
    assert sum(1 for _ in v.walk()) <= 100
    assert "limit_exceeded" in v.flags and v.label is not Label.CLEAN


def test_a_refused_input_is_error_not_cut_off():
    v = _scan(b"A" * 2048, "big.bin", Limits(max_bytes=1024))
    assert v.label is Label.ERROR
