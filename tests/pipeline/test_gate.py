"""The gate: promote only a candidate that beats the current bundle (the shipped one when none
was promoted) and the rule scorer on the same files, within the FPR bound, each bundle with its
own schema; refuse when the current bundle's schema is gone, unless forced; record every decision."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from maldoc.limits import Limits
from maldoc.model import default_bundle_path
from maldoc.pipeline.gate import (
    SHIPPED,
    SchemaUnavailable,
    baseline_bundle,
    bundle_metrics,
    current_bundle,
    decide,
    files_used,
    publish,
    record_decision,
    rule_metrics,
)
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
    # The rules separate these inert pages perfectly, and nothing beats perfect: on the table the
    # gate tests use, the rule scorer misses every third malicious page (its meta column only; the
    # models keep their features), so that a good model has something to beat.
    gated = table.subset(range(len(table)))
    missed = (gated.y == 1) & (np.arange(len(gated)) % 3 == 0)
    gated.meta.loc[missed, "rule_score"] = 0.0
    return {"good": good.save(root / "good"), "bad": bad.save(root / "bad"), "table": gated, "root": root}


def _copy(scored: dict, name: str, to: str, **meta_changes):
    folder = scored["root"] / to
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(scored[name], folder)
    meta = json.loads((folder / "bundle.json").read_text())
    meta.update(meta_changes)
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder


LOOSE = {"max_fpr": 1.0}  # the tiny table: compare the metric alone unless a test is about the FPR bound


def test_gate_refuses_a_worse_candidate(scored):
    d = decide(scored["bad"], scored["good"], scored["table"], metric="roc_auc", **LOOSE)
    assert not d.promote
    assert d.candidate < d.current
    assert d.reason.startswith("refused")


def test_gate_promotes_a_better_candidate(scored):
    d = decide(scored["good"], scored["bad"], scored["table"], metric="roc_auc", **LOOSE)
    assert d.promote and d.candidate > d.current and d.candidate > d.rules, d.reason


def test_a_tie_is_not_a_win_and_lower_is_better_metrics_count_the_other_way(scored):
    assert not decide(scored["good"], scored["good"], scored["table"], metric="roc_auc", **LOOSE).promote
    d = decide(scored["good"], scored["bad"], scored["table"], metric="brier", **LOOSE)
    assert d.promote and d.candidate < d.current


def test_with_nothing_promoted_the_shipped_bundle_is_the_one_to_beat(scored, tmp_path):
    folder, source = baseline_bundle(tmp_path / "models")
    assert (folder, source) == (default_bundle_path(), SHIPPED)
    d = decide(scored["bad"], folder, scored["table"], metric="roc_auc", current_source=source, **LOOSE)
    assert not d.promote and d.current_source == SHIPPED and d.current is not None
    assert "does not beat the shipped default" in d.reason
    assert d.figures["current"]["version"] == json.loads((folder / "bundle.json").read_text())["version"]
    # once a bundle was promoted, that one is the baseline
    publish(scored["good"], tmp_path / "models")
    assert baseline_bundle(tmp_path / "models") == (current_bundle(tmp_path / "models"), "current")


def test_the_rule_scorer_must_be_beaten_too(scored):
    rules = rule_metrics(scored["table"])
    d = decide(scored["bad"], None, scored["table"], metric="roc_auc", **LOOSE)
    assert d.rules == rules["roc_auc"] and d.current is None
    assert not d.promote and "does not beat the rules" in d.reason


def test_the_fpr_bound_refuses_a_candidate_flagging_too_many_benign_files(scored):
    flat = _copy(scored, "good", "flagging", thresholds={"malicious": 0.0, "suspicious": 0.0})  # everything flagged
    d = decide(flat, scored["bad"], scored["table"], metric="roc_auc", max_fpr=0.01)
    assert d.figures["candidate"]["fpr"] == 1.0
    assert not d.promote and "above the bound 0.01" in d.reason
    with pytest.raises(ValueError, match="max_fpr"):
        decide(scored["good"], None, scored["table"], max_fpr=2.0)


def test_a_forced_promotion_is_recorded_as_forced(scored):
    d = decide(scored["bad"], scored["good"], scored["table"], metric="roc_auc", force=True, **LOOSE)
    assert d.promote and d.forced and d.reason.startswith("forced, although: ")
    unneeded = decide(scored["good"], scored["bad"], scored["table"], metric="roc_auc", force=True, **LOOSE)
    assert unneeded.promote and not unneeded.forced


def test_every_decision_records_both_figures_and_the_files(scored, tmp_path):
    d = decide(scored["bad"], scored["good"], scored["table"], metric="roc_auc", **LOOSE)
    files = files_used(scored["table"])
    shas = sorted(scored["table"].meta["sha256"])
    assert files == {"count": len(shas),
                     "sha256_of_sha256_list": hashlib.sha256("\n".join(shas).encode()).hexdigest()}
    path = record_decision(d, tmp_path / "models")
    body = json.loads(path.read_text())  # strict JSON: NaN would not parse in other tools
    assert path.parent == tmp_path / "models" / "decisions"
    assert body["promote"] is False and body["files"] == files
    assert set(body["figures"]) == {"candidate", "current", "rules"}
    assert body["figures"]["current"]["roc_auc"] == d.current
    undefined = decide(scored["good"], None, scored["table"].subset(np.flatnonzero(scored["table"].y == 1)),
                       metric="roc_auc", **LOOSE)  # one class only: no ROC AUC, no FPR
    assert not undefined.promote and "undefined" in undefined.reason
    assert json.loads(json.dumps(undefined.as_dict()), parse_constant=lambda c: pytest.fail(c))["candidate"] is None
    metrics = d.kfp_metrics()
    assert metrics["promoted"] == 0.0 and metrics["eval_files"] == len(shas)
    assert metrics["candidate_roc_auc"] == d.candidate and metrics["current_roc_auc"] == d.current
    assert "rules_fpr" in metrics


def test_unknown_metric_is_an_error(scored):
    with pytest.raises(ValueError, match="unknown gate metric"):
        decide(scored["good"], scored["bad"], scored["table"], metric="accuracy_of_vibes")


def test_current_bundle_of_a_schema_no_longer_computed_is_refused_unless_forced(scored):
    # a bundle of another schema that does not list its features: nothing to score it with
    old = _copy(scored, "good", "old-schema", schema_hash="0" * 16, schema_id="v1-" + "0" * 16, feature_names=None)
    with pytest.raises(SchemaUnavailable):
        bundle_metrics(old, scored["table"])
    refused = decide(scored["good"], old, scored["table"], metric="roc_auc", **LOOSE)
    assert not refused.promote and "cannot be scored" in refused.reason
    forced = decide(scored["good"], old, scored["table"], metric="roc_auc", force=True, **LOOSE)
    assert forced.promote and forced.forced
    gone = _copy(scored, "good", "gone-feature", schema_hash="1" * 16, schema_id="v1-" + "1" * 16,
                 feature_names=[*SCHEMA.names[:-1], "removed.feature"])
    assert not decide(scored["bad"], gone, scored["table"], metric="roc_auc", **LOOSE).promote


def test_current_bundle_scores_with_its_own_schema_when_it_lists_its_features(scored):
    # another schema hash, but every feature it names is still computed: scored on those columns
    listed = _copy(scored, "good", "own-schema", schema_hash="2" * 16, schema_id="v1-" + "2" * 16,
                   feature_names=list(SCHEMA.names))
    own = bundle_metrics(listed, scored["table"])
    same = bundle_metrics(scored["good"], scored["table"])
    assert own["roc_auc"] == same["roc_auc"] and own["confusion"] == same["confusion"]
    assert not decide(scored["bad"], listed, scored["table"], metric="roc_auc", **LOOSE).promote


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
