"""Drift: the training reference saved in the bundle, live counting and PSI, the /metrics gauges,
and `maldoc drift` from a JSONL file or a service, starting a retrain above the bound."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from maldoc.cli import main
from maldoc.schema import SCHEMA
from maldoc.serving.drift import DriftMonitor
from maldoc.training.drift import DRIFT_FILE, Reference, load_drift_bins, reference_bins, write_drift_bins
from maldoc.training.features import FeatureTable

SIZE = SCHEMA.index["file.size_log2"]
RULE = SCHEMA.index["tree.rule_score"]


def _rows(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Schema rows: file size and rule score vary, the rest stays at the schema's defaults."""
    rng = np.random.default_rng(seed)
    X = np.tile(SCHEMA.base_row, (n, 1)).astype(np.float32)
    X[:, SIZE] = rng.normal(12 + shift, 2, n)
    X[:, RULE] = np.clip(rng.beta(1, 4, n) + shift / 10, 0, 1)
    return X


def _table(X: np.ndarray) -> FeatureTable:
    labels = ["benign", "malicious"] * (len(X) // 2)
    meta = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(len(X))], "label": labels})
    return FeatureTable(meta, X, SCHEMA.names, np.zeros((0, len(SCHEMA)), np.float32), np.zeros(0, np.int64),
                        SCHEMA.id)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    write_drift_bins(folder, _table(_rows(2000, 0)))
    return folder


def test_reference_has_decile_edges_and_shares_that_sum_to_one(bundle_dir):
    ref = load_drift_bins(bundle_dir)
    assert ref["files"] == 2000 and ref["schema_id"] == SCHEMA.id
    size = ref["features"]["file.size_log2"]
    assert 9 <= len(size["edges"]) <= 11 and size["edges"] == sorted(size["edges"])
    assert math.isclose(sum(size["expected"]), 1.0, abs_tol=1e-4)
    assert max(size["expected"][:-1]) < 0.2  # about a tenth per bin
    assert set(ref["groups"]) >= {"file", "tree", "flag", "rule"}
    assert (bundle_dir / DRIFT_FILE).stat().st_size < 200_000  # bounded, whatever the corpus size


def test_psi_is_small_for_the_same_traffic_and_large_for_shifted_traffic(bundle_dir):
    ref = Reference(load_drift_bins(bundle_dir), SCHEMA.names)
    same, shifted = ref.empty(), ref.empty()
    ref.count(same, _rows(1000, 1))
    ref.count(shifted, _rows(1000, 2, shift=3.0))
    psi_same, psi_shifted = ref.group_psi(same), ref.group_psi(shifted)
    per = dict(zip(ref.features, ref.feature_psi(shifted), strict=True))
    assert per["file.size_log2"] > 1.0 > 0.05 > dict(zip(ref.features, ref.feature_psi(same), strict=True))[
        "file.size_log2"]
    assert psi_shifted["file"] > psi_same["file"] and psi_shifted["tree"] > psi_same["tree"]
    assert psi_same["rule"] < 1e-6  # rows that never fire a rule, as in training


def test_missing_values_have_their_own_bin():
    X = np.full((100, 1), np.nan)
    X[:50, 0] = np.arange(50)
    ref = Reference(reference_bins(X, ["x.v"]), ["x.v"])
    counts = ref.empty()
    ref.count(counts, np.full((10, 1), np.nan))
    assert counts[0, -1] == 10 and ref.feature_psi(counts)[0] > 0.5


def test_monitor_exports_gauges_and_the_verdict_mix(bundle_dir):
    registry = CollectorRegistry()
    monitor = DriftMonitor(registry, window=100)
    assert b"maldoc_drift_reference_files 0.0" in generate_latest(registry)
    monitor.set_reference(Reference(load_drift_bins(bundle_dir), SCHEMA.names), "v-test")
    for i, row in enumerate(_rows(60, 3, shift=3.0)):
        monitor.observe(label="malicious" if i % 3 == 0 else "clean", row=row)
    monitor.observe(label="clean")  # a cached verdict: the mix only
    text = generate_latest(registry).decode()
    assert 'maldoc_drift_psi{group="file"}' in text and "maldoc_drift_psi_max" in text
    assert "maldoc_drift_files 60.0" in text and "maldoc_drift_reference_files 2000.0" in text
    summary = monitor.summary()
    assert summary["verdicts"] == {"clean": 41, "malicious": 20}
    assert summary["top_features"][0]["feature"] in ("file.size_log2", "tree.rule_score")


def test_the_window_bounds_what_is_counted(bundle_dir):
    monitor = DriftMonitor(window=50)
    monitor.set_reference(Reference(load_drift_bins(bundle_dir), SCHEMA.names))
    for row in _rows(500, 4):
        monitor.observe(label="clean", row=row)
    s = monitor.summary()
    assert 50 <= s["files"] <= 100 and sum(s["verdicts"].values()) <= 100


def test_use_model_takes_the_bundle_reference_or_none(bundle_dir):
    class Bundle:  # what use_model reads of a scorer: its folder and version
        path, version = bundle_dir, "b1"

    monitor = DriftMonitor()
    monitor.use_model(Bundle())
    assert monitor.reference is not None and monitor.version == "b1"
    from maldoc.scoring import RuleScorer

    monitor.use_model(RuleScorer())
    assert monitor.reference is None


def _jsonl(path, rows: np.ndarray, labels: list[str]) -> None:
    from maldoc.schema import named

    with path.open("w") as out:
        for row, label in zip(rows, labels, strict=True):
            out.write(json.dumps({"sha256": "0" * 64, "label": label, "features": named(row)}) + "\n")
        out.write(json.dumps({"decision": "suspicious"}) + "\n")  # a service answer: mix only
        out.write("not json\n")


def test_drift_cli_from_jsonl(bundle_dir, tmp_path, capsys):
    same, moved = tmp_path / "same.jsonl", tmp_path / "moved.jsonl"
    _jsonl(same, _rows(300, 5), ["clean"] * 300)
    _jsonl(moved, _rows(300, 6, shift=4.0), ["malicious"] * 300)
    model = _model_with_reference(bundle_dir, tmp_path)
    assert main(["drift", str(same), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 300 and out["unreadable_lines"] == 1 and not out["drifted"]
    assert out["verdicts"] == {"clean": 300, "suspicious": 1}
    assert main(["drift", str(moved), "--model", str(model)]) == 1
    text = capsys.readouterr().out
    assert "DRIFT" in text and "verdict mix: malicious 99.7 %, suspicious 0.3 %" in text
    assert main(["drift", str(tmp_path / "absent.jsonl"), "--model", str(model)]) == 2


def _model_with_reference(bundle_dir, tmp_path):
    """The shipped bundle with a drift reference beside it (the shipped one carries none yet)."""
    import shutil

    from maldoc.model import default_bundle_path

    folder = tmp_path / "model"
    shutil.copytree(default_bundle_path(), folder)
    shutil.copy(bundle_dir / DRIFT_FILE, folder / DRIFT_FILE)
    return folder


@pytest.fixture
def drifted_service(bundle_dir):
    """A Prometheus endpoint on loopback exporting a monitor that has seen shifted traffic."""
    registry = CollectorRegistry()
    monitor = DriftMonitor(registry)
    monitor.set_reference(Reference(load_drift_bins(bundle_dir), SCHEMA.names))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield monitor, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_drift_cli_from_the_service_starts_a_retrain_above_the_bound(drifted_service, capsys):
    pytest.importorskip("kfp")
    from fake_kfp import FakeKFP, posted, serve_fake_kfp

    monitor, url = drifted_service
    for row in _rows(200, 7):
        monitor.observe(label="clean", row=row)
    with serve_fake_kfp() as kfp_host:
        calm = main(["drift", "--url", url, "--trigger-pipeline", "--host", kfp_host, "--corpus", "/data/corpus"])
        assert calm == 0 and not posted("/apis/v2beta1/runs")
        assert "largest group PSI" in capsys.readouterr().out
        for row in _rows(2000, 8, shift=4.0):
            monitor.observe(label="malicious", row=row)
        code = main(["drift", "--url", url, "--bound", "0.2", "--trigger-pipeline", "--host", kfp_host,
                     "--corpus", "/data/corpus", "--feedback-db", "/data/models/feedback.sqlite"])
        assert code == 1
        runs = posted("/apis/v2beta1/runs")
        assert len(runs) == 1 and runs[0]["display_name"] == "maldoc-retrain-drift"
        assert runs[0]["runtime_config"]["parameters"] == {"corpus_dirs_json": '["/data/corpus"]',
                                                           "feedback_db": "/data/models/feedback.sqlite"}
        FakeKFP.required_token = "right"
        assert main(["drift", "--url", url, "--trigger-pipeline", "--host", kfp_host, "--token", "wrong"]) == 2
    assert "HTTP 403" in capsys.readouterr().err


def test_drift_cli_errors_are_one_line(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        assert main(["drift", "--url", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["drift", "x.jsonl", "--trigger-pipeline"]) == 2


def test_the_service_hook_counts_a_scanned_node(bundle_dir):
    from maldoc.engine import analyze

    monitor = DriftMonitor()
    monitor.set_reference(Reference(load_drift_bins(bundle_dir), SCHEMA.names))
    node = analyze(b"<html><body><p>quarterly report</p></body></html>", "report.html")
    monitor.observe(node, "clean")
    summary = monitor.summary()
    assert summary["files"] == 1 and summary["verdicts"] == {"clean": 1}
    assert not math.isnan(summary["psi"]["file"])
