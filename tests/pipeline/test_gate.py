"""The gate: every figure it compares is out of collection. A candidate is promoted only when it
beats the rule scorer and the current bundle (the shipped one when none was promoted) on the same
out-of-collection files, within the FPR bound; the current bundle only on the files it did not
train on, and not at all when too few remain; every decision is recorded with both file sets."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from maldoc.model import default_bundle_path
from maldoc.pipeline import steps
from maldoc.pipeline.gate import (
    RULE_BOTH,
    RULE_RULES_NO_CURRENT,
    RULE_RULES_ONLY,
    SHIPPED,
    baseline_bundle,
    current_bundle,
    decide,
    file_set,
    ooc_figures,
    publish,
    record_decision,
)
from maldoc.schema import SCHEMA
from maldoc.training.features import FeatureTable
from maldoc.training.train import TrainParams, train_bundle

COLLECTIONS = 8
PER = 24  # files per collection, half malicious
# one fold per collection, so every file is scored by a model that never saw its collection
FAST = TrainParams(n_splits=3, loco=False, baselines=("rules",), max_rounds=60, threads=1, ooc_folds=COLLECTIONS)
SIGNAL = SCHEMA.index["file.type.html"]  # a column without a monotone constraint
QUIET = {"log": lambda *_: None}


def designed_table(*, leaky: bool) -> FeatureTable:
    """8 collections of 24 files; the model sees one feature, the rule scorer its own score.

    `leaky`: the feature is 10 x collection + 3 x label, so it tells the labels apart only within
    a collection. A model that saw part of a file's collection (campaign CV) learns the cut at
    10c + 1.5; one that did not puts the file between the malicious end of one collection and the
    benign start of the next, and ranks it the wrong way round. Otherwise the feature is the label
    everywhere, with noise. The rule scorer catches five malicious files in six and flags one
    benign file in eight, in every collection alike.
    """
    rng = np.random.default_rng(7)
    rows, X = [], np.zeros((COLLECTIONS * PER, len(SCHEMA)), np.float32)
    for c in range(COLLECTIONS):
        for i in range(PER):
            k = c * PER + i
            malicious = i % 2 == 1
            X[k, SIGNAL] = 10.0 * c + 3.0 * malicious if leaky else malicious + rng.normal(0, 0.3)
            caught = (malicious and i % 12 != 1) or (not malicious and i % 8 == 0)
            rows.append({"sha256": hashlib.sha256(f"{leaky}/{c}/{i}".encode()).hexdigest(),
                         "label": "malicious" if malicious else "benign", "format": "html",
                         "source_repo": f"collection-{c}", "family_or_note": f"campaign-{c}-{i // 4}",
                         "source_path": f"{i}.html", "rule_score": 0.8 if caught else 0.1, "synthetic": False,
                         "flags": "", "elapsed_ms": 1.0})
    return FeatureTable(pd.DataFrame(rows), X)


def trained(table: FeatureTable, folder, rows=None) -> tuple:
    """Train like the pipeline's train step; returns (bundle folder, OOC frame as the gate reads it, report)."""
    part = table if rows is None else table.subset(rows)
    bundle, report = train_bundle(part, FAST, **QUIET)
    path = bundle.save(folder)
    steps.write_ooc_scores(report["oof"], str(folder / "ooc.parquet"))
    return path, steps.read_ooc_scores(str(folder / "ooc.parquet")), report


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("gate")
    good, leaky = designed_table(leaky=False), designed_table(leaky=True)
    out = {"root": root, "good_table": good, "leaky_table": leaky}
    out["good"], out["good_ooc"], _ = trained(good, root / "good")
    out["leaky"], out["leaky_ooc"], out["leaky_report"] = trained(leaky, root / "leaky")
    flipped = good.subset(range(len(good)))
    flipped.meta["label"] = flipped.meta["label"].map({"malicious": "benign", "benign": "malicious"})
    first_half = np.flatnonzero(flipped.meta["source_repo"].isin([f"collection-{c}" for c in range(4)]))
    out["bad_half"], _, _ = trained(flipped, root / "bad-half", first_half)  # a poor model, trained on 4 collections
    out["good_half"], _, _ = trained(good, root / "good-half", first_half)  # a good one, on the same 4
    return out


def _copy(runs: dict, name: str, to: str, **meta_changes):
    folder = runs["root"] / to
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(runs[name], folder)
    meta = json.loads((folder / "bundle.json").read_text())
    meta.update(meta_changes)
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder


HALF = COLLECTIONS * PER // 2
LOOSE = {"metric": "roc_auc", "max_fpr": 1.0}  # 192 files measure no 0.1 % FPR; tests of the bound set their own


def test_a_campaign_cv_winner_that_loses_out_of_collection_is_not_promoted(runs):
    report = runs["leaky_report"]
    campaign = report["models"]
    assert campaign["lightgbm"]["roc_auc"] > campaign["rules"]["roc_auc"] + 0.05  # campaign CV: it wins
    ooc = report["ooc"]["metrics"]["roc_auc"]
    assert ooc < report["ooc"]["rules"]["roc_auc"]  # out of collection: it loses
    d = decide(runs["leaky"], None, runs["leaky_ooc"], runs["leaky_table"], **LOOSE)
    assert not d.promote and "does not beat the rules" in d.reason
    assert d.candidate == pytest.approx(ooc) and d.files["evaluation"]["count"] == COLLECTIONS * PER
    assert d.rule == RULE_RULES_NO_CURRENT


def test_a_candidate_that_generalises_and_beats_the_rules_is_promoted(runs):
    d = decide(runs["good"], None, runs["good_ooc"], runs["good_table"], **LOOSE)
    assert d.promote and d.candidate > d.rules and d.reason.startswith("promoted"), d.reason
    assert len(d.folds) == COLLECTIONS and all(len(f) == 1 for f in d.folds)  # whole collections per fold


def test_a_current_bundle_trained_on_every_evaluation_file_is_not_comparable(runs):
    current = _copy(runs, "good", "current-all")
    d = decide(runs["good"], current, runs["good_ooc"], runs["good_table"], **LOOSE)
    n = COLLECTIONS * PER
    assert not d.current_comparable and d.rule == RULE_RULES_ONLY
    assert f"current bundle not comparable: {n} of {n} evaluation files were in its training data" in d.reason
    assert d.files["current"] == {**file_set([]), "excluded_trained_on": n, "from_collections_it_trained_on": 0}
    assert d.promote  # decided by the rules and the FPR bound, as the record says
    assert "current_files" not in d.figures and d.current is None


def test_the_current_bundle_is_compared_only_on_the_files_it_did_not_train_on(runs):
    d = decide(runs["good"], runs["bad_half"], runs["good_ooc"], runs["good_table"], **LOOSE)
    assert d.current_comparable and d.rule == RULE_BOTH
    unseen = runs["good_ooc"][runs["good_ooc"]["source_repo"].isin([f"collection-{c}" for c in range(4, 8)])]
    assert d.files["current"]["sha256"] == sorted(unseen["sha256"])
    assert d.files["current"]["excluded_trained_on"] == HALF
    on_files = d.figures["current_files"]
    assert set(on_files) == {"candidate", "current", "rules"} and on_files["current"]["n"] == HALF
    # the candidate is measured on those same files, with the same per-fold thresholds
    assert on_files["candidate"] == ooc_figures(unseen.reset_index(drop=True), "score",
                                                json.loads((runs["good"] / "bundle.json").read_text())
                                                ["thresholds"]["malicious"])
    assert d.candidate_on_current_files == on_files["candidate"]["roc_auc"] > d.current
    assert d.promote, d.reason
    # a candidate that beats the rules overall but not the current bundle on the files it never saw
    frame = runs["good_ooc"].assign(score_rules=0.1)  # rules that rank nothing
    later = frame["source_repo"].isin(unseen["source_repo"].unique())
    frame.loc[later, "score"] = np.random.default_rng(1).random(int(later.sum()))  # guesses on those
    worse = decide(runs["good"], runs["good_half"], frame, runs["good_table"], **LOOSE)
    assert worse.candidate > worse.rules and worse.current_comparable
    assert not worse.promote and "does not beat the current" in worse.reason and "did not train on" in worse.reason


def test_the_shipped_bundle_is_scored_only_on_files_it_did_not_train_on(runs, tmp_path):
    folder, source = baseline_bundle(tmp_path / "models")
    assert (folder, source) == (default_bundle_path(), SHIPPED)
    shipped = json.loads((folder / "bundle.json").read_text())["training_data"]["sha256_prefixes"]
    # every benign evaluation file is one the shipped bundle trained on: what is left holds no benign file
    table = runs["good_table"].subset(range(len(runs["good_table"])))
    frame = runs["good_ooc"].copy()
    benign = np.flatnonzero(table.meta["label"] == "benign")
    renamed = {table.meta.at[i, "sha256"]: shipped[j] + "0" * 48 for j, i in enumerate(benign)}
    table.meta["sha256"] = table.meta["sha256"].replace(renamed)
    frame["sha256"] = frame["sha256"].replace(renamed)
    d = decide(runs["good"], folder, frame, table, current_source=source, **LOOSE)
    assert d.current_source == SHIPPED and not d.current_comparable and d.rule == RULE_RULES_ONLY
    assert d.files["current"]["excluded_trained_on"] == len(benign) == HALF
    assert f"current bundle not comparable: {HALF} of {2 * HALF} evaluation files were in its training data" \
        in d.reason
    assert "both classes are needed" in d.reason
    assert d.current_version == json.loads((folder / "bundle.json").read_text())["version"]
    # on files it never saw, the shipped bundle is the one to beat
    d = decide(runs["good"], folder, runs["good_ooc"], runs["good_table"], current_source=source, **LOOSE)
    assert d.current_comparable and d.files["current"]["count"] == 2 * HALF and d.current is not None
    # once a bundle was promoted, that one is the baseline
    publish(runs["good"], tmp_path / "models")
    assert baseline_bundle(tmp_path / "models") == (current_bundle(tmp_path / "models"), "current")


def test_a_tie_is_not_a_win_and_the_metric_must_be_measurable(runs):
    tie = runs["good_ooc"].assign(score=runs["good_ooc"]["score_rules"])
    assert not decide(runs["good"], None, tie, runs["good_table"], **LOOSE).promote
    d = decide(runs["good"], None, runs["good_ooc"], runs["good_table"], max_fpr=1.0)  # TPR at 0.1 %, 96 benign
    assert not d.promote and "not measurable" in d.reason and "1000" in d.reason


def test_the_fpr_bound_refuses_a_candidate_flagging_too_many_benign_files(runs):
    flat = _copy(runs, "good", "flagging", thresholds={"malicious": 0.0, "suspicious": 0.0})  # everything flagged
    d = decide(flat, None, runs["good_ooc"], runs["good_table"], metric="roc_auc", max_fpr=0.01)
    assert d.figures["evaluation"]["candidate"]["fpr"] == 1.0
    assert not d.promote and "above the bound 0.01" in d.reason
    with pytest.raises(ValueError, match="max_fpr"):
        decide(runs["good"], None, runs["good_ooc"], runs["good_table"], max_fpr=2.0)


def test_a_forced_promotion_is_recorded_as_forced(runs):
    d = decide(runs["leaky"], None, runs["leaky_ooc"], runs["leaky_table"], force=True, **LOOSE)
    assert d.promote and d.forced and d.reason.startswith("forced, although: ")
    unneeded = decide(runs["good"], None, runs["good_ooc"], runs["good_table"], force=True, **LOOSE)
    assert unneeded.promote and not unneeded.forced


def test_every_decision_records_both_file_sets_and_both_sets_of_figures(runs, tmp_path):
    d = decide(runs["good"], runs["bad_half"], runs["good_ooc"], runs["good_table"], **LOOSE)
    shas = sorted(runs["good_ooc"]["sha256"])
    assert d.files["evaluation"] == {"count": len(shas), "sha256": shas,
                                     "sha256_of_sha256_list": hashlib.sha256("\n".join(shas).encode()).hexdigest()}
    path = record_decision(d, tmp_path / "models")
    body = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c))  # strict JSON
    assert path.parent == tmp_path / "models" / "decisions"
    assert body["promote"] is True and body["rule"] == RULE_BOTH and body["files"]["evaluation"]["sha256"] == shas
    assert set(body["figures"]) == {"evaluation", "current_files"}
    assert set(body["figures"]["evaluation"]) == {"candidate", "rules"}
    assert body["figures"]["current_files"]["current"]["roc_auc"] == d.current
    metrics = d.kfp_metrics()
    assert metrics["promoted"] == 1.0 and metrics["eval_files"] == len(shas) and metrics["current_files"] == HALF
    assert metrics["candidate_roc_auc"] == d.candidate and metrics["on_current_files_current_roc_auc"] == d.current
    assert "rules_fpr" in metrics and metrics["current_comparable"] == 1.0


def test_the_evaluation_step_shows_the_figures_the_gate_compares(runs):
    summary = steps.evaluation_summary(str(runs["good"]), str(runs["good"] / "ooc.parquet"))
    d = decide(runs["good"], None, runs["good_ooc"], runs["good_table"], **LOOSE)
    assert summary["scalars"]["n"] == 2 * HALF and summary["scalars"]["roc_auc"] == d.candidate
    assert summary["rules"]["roc_auc"] == d.rules
    assert sum(map(sum, summary["confusion"]["matrix"])) == 2 * HALF
    assert summary["roc"]["fpr"][0] == 0.0 and summary["roc"]["tpr"][-1] == 1.0


def test_unknown_metric_is_an_error(runs):
    with pytest.raises(ValueError, match="unknown gate metric"):
        decide(runs["good"], None, runs["good_ooc"], runs["good_table"], metric="accuracy_of_vibes")


def test_current_bundle_of_a_schema_no_longer_computed_is_refused_unless_forced(runs):
    old = _copy(runs, "bad_half", "old-schema", schema_hash="0" * 16, schema_id="v1-" + "0" * 16, feature_names=None)
    refused = decide(runs["good"], old, runs["good_ooc"], runs["good_table"], **LOOSE)
    assert not refused.promote and "cannot be scored" in refused.reason
    forced = decide(runs["good"], old, runs["good_ooc"], runs["good_table"], force=True, **LOOSE)
    assert forced.promote and forced.forced


def test_a_current_bundle_without_its_training_files_list_is_not_comparable(runs):
    folder = _copy(runs, "bad_half", "unlisted")
    meta = json.loads((folder / "bundle.json").read_text())
    del meta["training_data"]["sha256_prefixes"]
    (folder / "bundle.json").write_text(json.dumps(meta))
    d = decide(runs["good"], folder, runs["good_ooc"], runs["good_table"], **LOOSE)
    assert not d.current_comparable and "records no list of its training files" in d.reason


def test_publish_keeps_versions_and_swaps_current(runs, tmp_path):
    models = tmp_path / "models"
    first = publish(runs["bad_half"], models, {"promote": True, "reason": "no current bundle"})
    assert first == current_bundle(models)
    second = publish(runs["good"], models, {"promote": True})
    bundle = json.loads((second / "bundle.json").read_text())
    assert bundle["model_sha256"] == json.loads((runs["good"] / "bundle.json").read_text())["model_sha256"]
    assert json.loads((second / "promotion.json").read_text()) == {"promote": True}
    assert len(list((models / "versions").iterdir())) >= 1
    assert sorted(p.name for p in models.iterdir()) == ["current", "versions"]  # no staging leftovers
    from maldoc.model import ModelBundle

    assert ModelBundle.load(second).version == bundle["version"]
