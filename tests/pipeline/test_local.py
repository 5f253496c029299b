"""End to end with kfp.local: a small synthetic corpus in, gate decisions, a published bundle and
metrics out; a retrain after 10 % new samples extracts only the new files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from maldoc.cli import main
from maldoc.model import ModelBundle
from maldoc.serving.feedback import FeedbackStore

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
    # nothing promoted yet: the shipped bundle and the rules are the ones to beat; 20 benign files
    # cannot measure the catch rate at a 0.1 % false-positive rate, so nothing is promoted
    decision = first["decision"]
    assert decision["current_source"] == "shipped default"
    assert not decision["promote"] and "not measurable" in decision["reason"]
    assert not decision["current_comparable"] and "current bundle not comparable" in decision["reason"]
    assert first["published"] is None and not (tmp_path / "models" / "current").exists()
    # every real file was scored out of collection, and those are the files the gate used
    assert decision["files"]["evaluation"]["count"] == first["metrics"]["n"] == 40
    assert len(decision["files"]["evaluation"]["sha256"]) == 40
    records = sorted((tmp_path / "models" / "decisions").glob("*.json"))
    assert len(records) == 1 and json.loads(records[0].read_text())["promote"] is False
    gate_metrics = next((tmp_path / "work" / "outputs").glob("maldoc-retrain-*/gate/gate_metrics"))
    assert json.loads(gate_metrics.read_text())["promoted"] == 0.0
    for name in ("roc_auc", "tpr", "fpr", "tpr_at_fpr_0.001", "n"):
        assert name in first["metrics"], name
    assert _extracted(tmp_path / "work" / "outputs") == 40
    classification = next((tmp_path / "work" / "outputs").glob("maldoc-retrain-*/evaluate-model/classification"))
    drawn = json.loads(classification.read_text())
    assert drawn["confusionMatrix"]["annotationSpecs"] == [{"displayName": "benign"}, {"displayName": "malicious"}]
    assert drawn["confidenceMetrics"]  # the ROC curve

    assert main([*args, "--force"]) == 0  # every step but the gate and publish comes from kfp's cache
    forced = json.loads(capsys.readouterr().out)
    assert forced["decision"]["promote"] and forced["decision"]["forced"]
    assert forced["published"] == str(tmp_path / "models" / "current")
    bundle = ModelBundle.load(forced["published"])
    assert bundle.meta["metrics"]["cv_pooled"]["n"] > 0
    assert (Path(forced["published"]) / "MODEL_CARD.md").is_file()
    assert (Path(forced["published"]) / "drift_bins.json").is_file()
    assert json.loads((Path(forced["published"]) / "promotion.json").read_text())["forced"] is True
    assert len(list((tmp_path / "models" / "decisions").glob("*.json"))) == 2

    corpus_writer(corpus, 4, seed=9, start=500)  # 10 % new samples
    # and analysts' feedback: one corpus file relabelled, one held file taken from the quarantine
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    held = b"<html><body><script>var p=atob('cGF5bG9hZA==');eval(p);</script>held attachment</body></html>"
    (quarantine / "held.html").write_bytes(held)
    with FeedbackStore(tmp_path / "feedback.sqlite") as store:
        store.add(hashlib.sha256((corpus / "benign" / "benign-002.html").read_bytes()).hexdigest(), "malicious")
        store.add(hashlib.sha256(held).hexdigest(), "malicious", location="held.html")
    assert main([*args, "--feedback-db", str(tmp_path / "feedback.sqlite"), "--quarantine", str(quarantine)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert _extracted(tmp_path / "work" / "outputs") == 5  # the new samples and the quarantined file
    card = (Path(second["candidate"]) / "MODEL_CARD.md").read_text()
    assert "Analyst feedback:" in card
    assert second["decision"]["metric"] == "tpr_at_fpr_0.001"
    assert second["decision"]["current_source"] == "current"
    assert second["decision"]["current_version"] == bundle.version
    # the current bundle trained on the first 40 files: only the 5 new ones could compare it, too few
    assert second["decision"]["files"]["current"]["excluded_trained_on"] == 40
    assert "current bundle not comparable: 40 of 45 evaluation files" in second["decision"]["reason"]
    current = ModelBundle.load(tmp_path / "models" / "current")
    expected = second["decision"]["candidate_version"] if second["decision"]["promote"] else bundle.version
    assert current.version == expected
