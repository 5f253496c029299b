import json

import numpy as np
import pytest

from maldoc.model import BundleError, ModelBundle
from maldoc.schema import SCHEMA
from maldoc.training.card import model_card
from maldoc.training.evaluate import evaluate_bundle
from maldoc.training.features import FeatureTable
from maldoc.training.report import write_report
from maldoc.training.train import TrainParams, train_bundle

FAST = TrainParams(n_splits=3, max_rounds=60, early_stopping=10, baselines=("rules", "logistic"), loco=False,
                   threads=1)


@pytest.fixture(scope="module")
def trained(table_factory):
    table = table_factory(seed=3)
    table.meta.loc[:9, "synthetic"] = True
    table.meta.loc[:9, "source_repo"] = "synthetic"
    bundle, report = train_bundle(table, FAST, log=lambda _m: None)
    return table, bundle, report


def test_cross_validated_model_learns_the_signal(trained):
    table, bundle, report = trained
    oof = report["oof"]
    assert report["models"]["lightgbm"]["roc_auc"] > 0.9
    assert set(report["models"]) == {"lightgbm", "rules", "logistic"}
    assert not oof["label"].eq("malformed").any()  # robustness rows never enter a figure
    assert not oof["synthetic"].any()  # synthetic rows train but are never scored
    assert len(oof) == len(table.labelled()) - 10
    assert set(report["folds"]) == {"0", "1", "2"}
    t = bundle.meta["thresholds"]
    assert t["suspicious"] <= t["malicious"]
    # per fold, the fold's own threshold holds the target FPR on its held-out benign files
    per_fold = report["operating_point"]["malicious_per_fold"]
    for k, part in oof[oof["y"] == 0].groupby("fold"):
        assert (part["score_lightgbm"] >= per_fold[str(k)]).sum() <= FAST.target_fpr * len(part)
    assert min(per_fold.values()) <= t["malicious"] <= max(per_fold.values())


def test_bundle_round_trip_and_schema_refusal(trained, tmp_path):
    table, bundle, report = trained
    folder = bundle.save(tmp_path / "b", card=model_card(bundle.meta, report))
    loaded = ModelBundle.load(folder)
    np.testing.assert_allclose(loaded.predict_rows(table.X[:20]), bundle.predict_rows(table.X[:20]))
    assert loaded.threshold == bundle.threshold
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta["training_data"]["data_sha256"] and meta["libraries"]["lightgbm"] and meta["extractors"]["zip"]
    assert "| fold |" in (folder / "MODEL_CARD.md").read_text()
    meta["schema_hash"] = "0" * 16  # another schema of the same major version: mapped by name, loads
    (folder / "bundle.json").write_text(json.dumps(meta))
    assert ModelBundle.load(folder).version == bundle.version
    meta["schema_version"] += 1
    (folder / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="major version"):
        ModelBundle.load(folder)


def test_report_files_written(trained, tmp_path):
    _table, _bundle, report = trained
    paths = write_report(report, tmp_path / "r")
    for key in ("metrics", "markdown", "html", "roc", "pr", "calibration", "importance", "scores"):
        assert paths[key].is_file() and paths[key].stat().st_size > 0, key
    text = paths["markdown"].read_text()
    assert "ROC AUC" in text and "per format" in text and "Misclassified" in text
    assert json.loads(paths["metrics"].read_text())["models"]["lightgbm"]["roc_auc"] > 0.9


def test_evaluate_bundle_on_a_table(trained, tmp_path):
    table, bundle, _report = trained
    result = evaluate_bundle(bundle, table)
    assert set(result["models"]) == {"lightgbm", "rules"}
    # every file was a training file: said with the count, and the figures are called in-collection
    assert result["overlap"]["files"] == len(table.labelled())
    assert any(f"{len(table.labelled())} of {len(table.labelled())} evaluation files were in the model's training"
               in w for w in result["warnings"])
    assert result["headline"].startswith("in collection")
    assert result["models"]["lightgbm"]["n"] == len(table.labelled())
    assert "0.001" in result["models"]["lightgbm"]["not_measurable"]  # 150-odd benign files cannot show 0.1 %
    assert any("not measurable" in w for w in result["warnings"])
    assert "ole" in result["by_format"]
    paths = write_report(result, tmp_path / "e")
    assert paths["roc"].is_file()


def test_table_with_another_schema_is_refused(small_table):
    stale = FeatureTable(small_table.meta, small_table.X[:, :-1], SCHEMA.names[:-1])
    with pytest.raises(ValueError, match="schema"):
        stale.check_schema()


def test_leave_one_source_out_scores_each_collection_unseen(table_factory):
    from maldoc.training.train import leave_one_source_out

    table = table_factory(n=150, seed=5, n_sources=3)
    out = leave_one_source_out(table, FAST, 0.5, log=lambda _m: None)
    assert set(out) == {"repo0", "repo1", "repo2"}
    assert all(v["files"] > 0 and 0 <= v["tpr"] <= 1 for v in out.values())


def test_rule_score_can_only_raise_the_model_score(small_table):
    """The catalogue's prior (tree.rule_score) is a monotone-increasing feature of every model."""
    from maldoc.training.train import fit_lightgbm

    col = SCHEMA.index["tree.rule_score"]
    table = small_table
    rng = np.random.default_rng(1)
    table.X[:, col] = rng.random(len(table))
    flip = rng.random(len(table)) < 0.3  # a noisy, partly contrary signal the model could invert
    table.X[flip, col] = 1.0 - table.X[flip, col]
    booster = fit_lightgbm(table, table.labelled(), TrainParams(max_rounds=60))
    probe = np.repeat(table.X[:40], 11, axis=0)
    probe[:, col] = np.tile(np.linspace(0, 1, 11), 40)
    scores = booster.predict(probe).reshape(40, 11)
    assert (np.diff(scores, axis=1) >= -1e-12).all()


def test_every_indicator_column_can_only_raise_the_model_score(small_table):
    """A rule count the training collections happen to pair with benign files (here: a contrary
    signal on a third of the rows) still never lowers a score."""
    from maldoc.schema import is_indicator
    from maldoc.training.train import fit_lightgbm

    name = "rule.VBA_AUTOEXEC"
    assert is_indicator(name) and is_indicator("tree.executables") and not is_indicator("file.size_log2")
    col = SCHEMA.index[name]
    table = small_table
    rng = np.random.default_rng(2)
    table.X[:, col] = np.where(table.y == 0, rng.integers(1, 4, len(table)), 0)  # fires on benign only
    booster = fit_lightgbm(table, table.labelled(), TrainParams(max_rounds=60))
    probe = np.repeat(table.X[:40], 4, axis=0)
    probe[:, col] = np.tile(np.arange(4), 40)
    scores = booster.predict(probe).reshape(40, 4)
    assert (np.diff(scores, axis=1) >= -1e-12).all()
    unconstrained = fit_lightgbm(table, table.labelled(), TrainParams(max_rounds=60, monotone_indicators=False))
    free = unconstrained.predict(probe).reshape(40, 4)
    assert (np.diff(free, axis=1) < -1e-6).any()  # without the constraint the model reads it as innocence
