"""The feature schema: ordered, hashed, aggregated over the scan tree."""

from __future__ import annotations

import math

from maldoc.engine import analyze
from maldoc.schema import SCHEMA, named, rule_score, vectorize
from maldoc.scoring import RuleScorer

from builders import FAKE_PE, make_zip


def test_schema_is_ordered_unique_and_hashed():
    assert len(set(SCHEMA.names)) == len(SCHEMA.names)
    assert SCHEMA.names[:2] == ("file.size_log2", "file.entropy")
    assert len(SCHEMA.hash) == 16 and SCHEMA.id.startswith(f"v{SCHEMA.version}-")


def test_children_features_reach_the_root_vector():
    node = analyze(make_zip({"inner.zip": make_zip({"run.exe": FAKE_PE})}), "outer.zip")
    values = named(vectorize(node))
    assert values["tree.nodes"] == 3 and values["tree.max_depth"] == 2 and values["tree.executables"] == 1
    assert values["rule.CORE_EXECUTABLE_PAYLOAD"] == 1 and values["tree.type.zip"] == 2
    assert values["zip.members"] == 1  # max over both archives


def test_rule_score_feature_is_the_rule_scorers_score():
    node = analyze(make_zip({"run.exe": FAKE_PE}), "a.zip")
    row = vectorize(node)
    expected, _ = RuleScorer().score(node)
    assert math.isclose(row[SCHEMA.index["tree.rule_score"]], expected, rel_tol=1e-6)
    assert rule_score([]) == 0.0


def test_missing_extractor_features_are_nan_not_zero():
    row = vectorize(analyze(b"plain words", "a.txt"))
    assert math.isnan(row[SCHEMA.index["zip.members"]])
    assert row[SCHEMA.index["rule.CORE_ZIP_BOMB"]] == 0.0


def test_every_named_indicator_feature_is_a_schema_column():
    from maldoc.schema import INDICATOR_FEATURES, SCHEMA, is_indicator

    assert INDICATOR_FEATURES and all(n in SCHEMA.index for n in INDICATOR_FEATURES)
    assert all(is_indicator(n) for n in INDICATOR_FEATURES)
