"""End to end with kfp.local: a small synthetic corpus in, a published bundle and metrics out;
a retrain after 10 % new samples extracts only the new files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from maldoc.cli import main
from maldoc.model import ModelBundle

pytestmark = pytest.mark.slow
TRAIN = ["--train-param", "n_splits=3", "--train-param", "loco=false", "--train-param", "threads=1",
         "--train-param", 'baselines=["rules", "logistic"]']


def _extracted(outputs: Path) -> int:
    """Files the extract steps of the newest run analysed (steps taken from kfp's cache do not run)."""
    run = max(outputs.glob("maldoc-retrain-*"), key=lambda p: p.stat().st_mtime)
    total = 0
    for out in run.glob("for-loop-1-iteration-*/extract-features/executor_output.json"):
        total += int(json.loads(out.read_text())["parameterValues"]["Output"])
    return total


def test_local_run_publishes_a_bundle_with_metrics_and_retrains_incrementally(tmp_path, corpus_writer, capsys):
    corpus = corpus_writer(tmp_path / "corpus", 40)
    args = ["pipeline", "run", "--local", "--corpus", str(corpus), "--cache", str(tmp_path / "cache"),
            "--models", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "--shards", "3",
            "--parallelism", "2", "--timeout-s", "20", *TRAIN]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["decision"]["promote"] and first["decision"]["reason"] == "no current bundle"
    assert first["published"] == str(tmp_path / "models" / "current")
    bundle = ModelBundle.load(first["published"])
    assert bundle.meta["metrics"]["cv_pooled"]["n"] > 0
    assert (Path(first["published"]) / "MODEL_CARD.md").is_file()
    for name in ("roc_auc", "tpr", "fpr", "tpr_at_fpr_0.001", "n"):
        assert name in first["metrics"], name
    assert first["metrics"]["n"] >= 4
    assert _extracted(tmp_path / "work" / "outputs") == 40
    classification = next((tmp_path / "work" / "outputs").glob("maldoc-retrain-*/evaluate-model/classification"))
    drawn = json.loads(classification.read_text())
    assert drawn["confusionMatrix"]["annotationSpecs"] == [{"displayName": "benign"}, {"displayName": "malicious"}]
    assert drawn["confidenceMetrics"]  # the ROC curve

    corpus_writer(corpus, 4, seed=9, start=500)  # 10 % new samples
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert _extracted(tmp_path / "work" / "outputs") == 4
    assert second["decision"]["metric"] == "tpr_at_fpr_0.001"
    current = ModelBundle.load(tmp_path / "models" / "current")
    expected = second["decision"]["candidate_version"] if second["decision"]["promote"] else bundle.version
    assert current.version == expected
