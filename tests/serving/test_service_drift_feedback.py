"""The service with feedback and drift wired in: /v1/feedback answers, /metrics carries the drift
gauges of the bundle's reference, a reload starts a new window. Runs once `create_app` includes
`routes_feedback.router` and `Service` calls `DriftMonitor` (skipped before)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from serving_support import html_smuggling

from maldoc.model import default_bundle_path
from maldoc.schema import SCHEMA
from maldoc.serving.app import create_app
from maldoc.serving.service import Service
from maldoc.training.drift import write_drift_bins
from maldoc.training.features import FeatureTable


def _wired() -> bool:
    return "/v1/feedback" in create_app().openapi()["paths"] and "drift" in Service.__init__.__code__.co_names


@pytest.mark.skipif(not _wired(), reason="the service does not include the feedback router and drift hooks yet")
def test_service_exports_drift_and_takes_feedback(make_client, tmp_path, monkeypatch):
    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_path(), bundle)
    X = np.tile(SCHEMA.base_row, (40, 1)).astype(np.float32)
    X[:, SCHEMA.index["file.size_log2"]] = np.linspace(6, 16, 40)
    meta = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(40)], "label": ["benign", "malicious"] * 20})
    write_drift_bins(bundle, FeatureTable(meta, X, SCHEMA.names, np.zeros((0, len(SCHEMA)), np.float32),
                                          np.zeros(0, np.int64), SCHEMA.id))
    monkeypatch.setenv("MALDOC_FEEDBACK_DB", str(tmp_path / "fb.sqlite"))
    client = make_client(model=str(bundle), admin_keys=["ak"])
    for i in range(3):
        r = client.post("/v1/scan", files={"file": (f"a{i}.html", html_smuggling() + bytes([i]))})
        assert r.status_code == 200, r.text
    r = client.post("/v1/scan", files={"file": ("a0.html", html_smuggling() + bytes([0]))})  # cached
    text = client.get("/metrics").text
    assert 'maldoc_drift_psi{group="file"}' in text, text[-2000:]
    assert "maldoc_drift_files 3.0" in text
    assert "maldoc_drift_reference_files 40.0" in text
    assert 'maldoc_drift_verdict_share{label=' in text
    r = client.post("/v1/feedback", json={"sha256": "ab" * 32, "label": "benign"}, headers={"X-API-Key": "ak"})
    assert r.status_code == 201, r.text
    assert (tmp_path / "fb.sqlite").is_file()
    r = client.post("/v1/admin/model/reload", headers={"X-API-Key": "ak"})
    assert r.status_code == 200
    assert "maldoc_drift_files 0.0" in client.get("/metrics").text  # a new model starts a new window
