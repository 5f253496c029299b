"""Pairs: the same document with and without its malicious part; only that part tells them apart."""

from maldoc.engine import analyze
from maldoc.samples.pairs import PAIRS, generate_pairs
from maldoc.scoring import RuleScorer


def _findings(data: bytes) -> set[str]:
    return {f.rule_id for node in analyze(data, "sample").walk() for f in node.result.findings}


def test_pairs_are_reproducible_and_cover_every_kind():
    first = list(generate_pairs(len(PAIRS), seed=3))
    again = list(generate_pairs(len(PAIRS), seed=3))
    assert [(p.malicious, p.benign) for p in first] == [(p.malicious, p.benign) for p in again]
    assert {p.kind for p in first} == set(PAIRS)


def test_the_malicious_twin_carries_findings_the_benign_twin_lacks():
    for pair in generate_pairs(2 * len(PAIRS), seed=0):
        bad, good = _findings(pair.malicious), _findings(pair.benign)
        assert bad - good, pair.kind
        bad_score = RuleScorer().score(analyze(pair.malicious, "m"))[0]
        good_score = RuleScorer().score(analyze(pair.benign, "b"))[0]
        assert bad_score > good_score, pair.kind
