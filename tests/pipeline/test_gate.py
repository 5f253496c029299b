"""The gate: promote only a candidate that beats the current bundle on the same files, each
bundle with its own schema; refuse when the current bundle's schema is gone, unless forced."""

from __future__ import annotations

import json
import shutil

import pytest

from maldoc.limits import Limits
from maldoc.pipeline.gate import SchemaUnavailable, bundle_metrics, current_bundle, decide, publish
from maldoc.schema import SCHEMA
from maldoc.training.corpus import Corpus
from maldoc.training.features import build_feature_table
from maldoc.training.train import TrainParams, train_bundle

FAST = TrainParams(n_splits=3, loco=False, baselines=("rules",), max_rounds=60, threads=1)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, corpus_writer) -> dict:
    """A good bundle, a worse one (trained on flipped labels), and the table both are scored on."""
    root = tmp_path_factory.mktemp("gate")
    with Corpus(corpus_writer(root / "corpus", 36)) as corpus:
        table = build_feature_table(list(corpus.items()), root / "cache", 0, limits=Limits(timeout_s=20.0))
    good, _ = train_bundle(table, FAST, log=lambda *_: None)
    flipped = table.subset(range(len(table)))
    flipped.meta["label"] = flipped.meta["label"].map({"malicious": "benign", "benign": "malicious"})
    bad, _ = train_bundle(flipped, FAST, log=lambda *_: None)
    return {"good": good.save(root / "good"), "bad": bad.save(root / "bad"), "table": table, "root": root}


def _copy(scored: dict, name: str, to: str, **meta_changes):
    folder = scored["root"] / to
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(scored[name], folder)
    meta = json.loads((folder / "bundle.json").read_text())
    meta.update(meta_changes)
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder


def test_gate_refuses_a_worse_candidate(scored):
    d = decide(scored["bad"], scored["good"], scored["table"], metric="roc_auc")
    assert not d.promote
    assert d.candidate < d.current
    assert d.reason.startswith("refused")


def test_gate_promotes_a_better_candidate(scored):
    d = decide(scored["good"], scored["bad"], scored["table"], metric="roc_auc")
    assert d.promote and d.candidate > d.current


def test_a_tie_is_not_a_win_and_lower_is_better_metrics_count_the_other_way(scored):
    assert not decide(scored["good"], scored["good"], scored["table"], metric="roc_auc").promote
    d = decide(scored["good"], scored["bad"], scored["table"], metric="brier")
    assert d.promote and d.candidate < d.current


def test_no_current_bundle_promotes(scored, tmp_path):
    d = decide(scored["good"], tmp_path / "models" / "current", scored["table"])
    assert d.promote and d.reason == "no current bundle"


def test_unknown_metric_is_an_error(scored):
    with pytest.raises(ValueError, match="unknown gate metric"):
        decide(scored["good"], scored["bad"], scored["table"], metric="accuracy_of_vibes")


def test_current_bundle_of_a_schema_no_longer_computed_is_refused_unless_forced(scored):
    # a bundle of another schema that does not list its features: nothing to score it with
    old = _copy(scored, "good", "old-schema", schema_hash="0" * 16, schema_id="v1-" + "0" * 16, feature_names=None)
    with pytest.raises(SchemaUnavailable):
        bundle_metrics(old, scored["table"])
    refused = decide(scored["good"], old, scored["table"], metric="roc_auc")
    assert not refused.promote and "cannot be scored" in refused.reason
    forced = decide(scored["good"], old, scored["table"], metric="roc_auc", force=True)
    assert forced.promote and forced.forced
    gone = _copy(scored, "good", "gone-feature", schema_hash="1" * 16, schema_id="v1-" + "1" * 16,
                 feature_names=[*SCHEMA.names[:-1], "removed.feature"])
    assert not decide(scored["bad"], gone, scored["table"], metric="roc_auc").promote


def test_current_bundle_scores_with_its_own_schema_when_it_lists_its_features(scored):
    # another schema hash, but every feature it names is still computed: scored on those columns
    listed = _copy(scored, "good", "own-schema", schema_hash="2" * 16, schema_id="v1-" + "2" * 16,
                   feature_names=list(SCHEMA.names))
    own = bundle_metrics(listed, scored["table"])
    same = bundle_metrics(scored["good"], scored["table"])
    assert own["roc_auc"] == same["roc_auc"] and own["confusion"] == same["confusion"]
    assert not decide(scored["bad"], listed, scored["table"], metric="roc_auc").promote


def test_publish_keeps_versions_and_swaps_current(scored, tmp_path):
    models = tmp_path / "models"
    first = publish(scored["bad"], models, {"promote": True, "reason": "no current bundle"})
    assert first == current_bundle(models)
    second = publish(scored["good"], models, {"promote": True})
    bundle = json.loads((second / "bundle.json").read_text())
    assert bundle["model_sha256"] == json.loads((scored["good"] / "bundle.json").read_text())["model_sha256"]
    assert json.loads((second / "promotion.json").read_text()) == {"promote": True}
    assert len(list((models / "versions").iterdir())) >= 1
    assert sorted(p.name for p in models.iterdir()) == ["current", "versions"]  # no staging leftovers
    from maldoc.model import ModelBundle

    assert ModelBundle.load(second).version == bundle["version"]
