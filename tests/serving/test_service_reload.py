"""Model delivery: reload after load + self-check, keep the previous for rollback, refuse bad bundles."""

from __future__ import annotations

import json

import pytest
from serving_support import corrupt, make_bundle

from maldoc.model import ModelBundle
from maldoc.serving.modelstore import SelfCheckError, self_check

ADMIN = {"X-API-Key": "adm"}


@pytest.fixture
def admin(make_client, tmp_path):
    return make_client(admin_keys=["adm"], models_dir=str(tmp_path))


def test_reload_then_rollback(admin, tmp_path):
    bundle = make_bundle(tmp_path / "b1", "test-1")
    before = admin.post("/v1/scan", content=b"reload sample").json()
    assert before["model_version"] == "rules"

    r = admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["version"] == "test-1" and info["kind"] == "bundle" and info["source"] == "b1"
    assert info["previous"]["version"] == "rules"
    assert info["metrics"] == {"roc_auc": 0.5}
    assert admin.get("/v1/model").json()["version"] == "test-1"

    after = admin.post("/v1/scan", content=b"reload sample").json()
    assert after["model_version"] == "test-1" == after["verdict"]["model_version"]
    assert after["cached"] is False  # the cache key carries the model version
    text = admin.get("/metrics").text
    assert 'maldoc_model_info{source="b1",version="test-1"} 1.0' in text
    assert 'maldoc_model_reloads_total{action="reload",outcome="ok"} 1.0' in text

    r = admin.post("/v1/admin/model/rollback", headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["version"] == "rules" and r.json()["previous"]["version"] == "test-1"
    assert admin.post("/v1/scan", content=b"reload sample").json()["model_version"] == "rules"


def test_corrupt_bundle_is_refused_and_the_current_model_stays(admin, tmp_path):
    bundle = corrupt(make_bundle(tmp_path / "bad", "test-bad"))
    r = admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    assert r.status_code == 422
    assert "current one kept" in r.json()["detail"] and "sha256" in r.json()["detail"]
    assert admin.get("/v1/model").json()["version"] == "rules"
    r = admin.post("/v1/admin/model/reload", json={"path": str(tmp_path / "missing")}, headers=ADMIN)
    assert r.status_code == 422
    assert 'maldoc_model_reloads_total{action="reload",outcome="failed"} 2.0' in admin.get("/metrics").text


def test_bundle_failing_the_self_check_is_refused(admin, tmp_path):
    bundle = make_bundle(tmp_path / "odd", "test-odd", malicious=0.3, suspicious=0.6)
    r = admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    assert r.status_code == 422
    assert "SelfCheckError" in r.json()["detail"]
    assert admin.get("/v1/model").json()["version"] == "rules"


def test_self_check_rejects_a_scorer_that_is_not_a_probability(tmp_path):
    bundle = ModelBundle.load(make_bundle(tmp_path / "b", "test-2"))
    self_check(bundle)  # a sane bundle passes

    class Broken:
        version, threshold, suspicious_threshold = "broken", 0.7, 0.4

        def score(self, node):
            return float("nan"), []

    with pytest.raises(SelfCheckError):
        self_check(Broken())


def test_reload_without_a_path_rereads_the_configured_bundle(make_client, tmp_path):
    folder = make_bundle(tmp_path / "live", "live-1")
    c = make_client(model=str(folder), admin_keys=["adm"])  # no models folder: re-reading MALDOC_MODEL works
    assert c.get("/v1/model").json()["version"] == "live-1"
    make_bundle(folder, "live-2")  # the operator replaces the bundle in place
    r = c.post("/v1/admin/model/reload", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "live-2" and r.json()["previous"]["version"] == "live-1"
    assert json.loads((folder / "bundle.json").read_text())["version"] == "live-2"


def test_start_up_fails_loudly_on_a_broken_configured_bundle(tmp_path):
    from serving_support import TestClient, create_app_unstarted

    from maldoc.model import BundleError

    app = create_app_unstarted(model=str(corrupt(make_bundle(tmp_path / "b", "x"))))
    with pytest.raises(BundleError), TestClient(app):
        pass


def test_bundles_sharing_a_version_do_not_share_cached_verdicts(admin, tmp_path):
    one = make_bundle(tmp_path / "one", "same-version", seed=1)
    two = make_bundle(tmp_path / "two", "same-version", seed=2)
    assert admin.post("/v1/admin/model/reload", json={"path": str(one)}, headers=ADMIN).status_code == 200
    assert admin.post("/v1/scan", content=b"versioned sample").json()["cached"] is False
    assert admin.post("/v1/scan", content=b"versioned sample").json()["cached"] is True
    assert admin.post("/v1/admin/model/reload", json={"path": str(two)}, headers=ADMIN).status_code == 200
    assert admin.post("/v1/scan", content=b"versioned sample").json()["cached"] is False


def test_reload_only_from_the_models_folder(admin, tmp_path_factory, tmp_path):
    outside = make_bundle(tmp_path_factory.mktemp("elsewhere") / "b", "outside")
    link = tmp_path / "sneaky"
    link.symlink_to(outside, target_is_directory=True)  # inside by name, outside once resolved
    for path in (str(outside), "../elsewhere/b", str(link)):
        r = admin.post("/v1/admin/model/reload", json={"path": path}, headers=ADMIN)
        assert r.status_code == 422, path
        assert "outside MALDOC_MODELS_DIR" in r.json()["detail"]
    assert admin.get("/v1/model").json()["version"] == "rules"
    make_bundle(tmp_path / "relative", "inside")
    r = admin.post("/v1/admin/model/reload", json={"path": "relative"}, headers=ADMIN)  # relative to the folder
    assert r.status_code == 200 and r.json()["version"] == "inside"


def test_reload_with_a_path_is_refused_without_a_models_folder(make_client, tmp_path):
    c = make_client(admin_keys=["adm"])
    r = c.post("/v1/admin/model/reload", json={"path": str(make_bundle(tmp_path / "b", "x"))}, headers=ADMIN)
    assert r.status_code == 422 and "MALDOC_MODELS_DIR" in r.json()["detail"]


def test_bundle_that_crashes_its_parser_is_refused_and_the_service_keeps_answering(admin, tmp_path):
    from serving_support import crashing_bundle

    bundle = crashing_bundle(tmp_path / "crash")
    r = admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    assert r.status_code == 422
    assert "crashed its check process (SIGABRT)" in r.json()["detail"]
    assert str(tmp_path) not in r.json()["detail"]
    assert admin.get("/v1/model").json()["version"] == "rules"
    assert admin.post("/v1/scan", content=b"still here").status_code == 200


@pytest.mark.parametrize(("malicious", "suspicious", "why"), [
    (1.0, 0.4, "at or above 1.0"),
    (0.99, 0.98, "malicious files of the demo set clean"),  # the test model scores everything about 0.66
])
def test_degenerate_bundles_are_refused(admin, tmp_path, malicious, suspicious, why):
    bundle = make_bundle(tmp_path / "degenerate", "degenerate", malicious=malicious, suspicious=suspicious)
    r = admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    assert r.status_code == 422
    assert "SelfCheckError" in r.json()["detail"] and why in r.json()["detail"]
    assert admin.get("/v1/model").json()["version"] == "rules"


def test_same_model_text_with_other_thresholds_does_not_answer_from_the_cache(admin, tmp_path):
    make_bundle(tmp_path / "t1", "thresholds", malicious=0.7, suspicious=0.4)
    make_bundle(tmp_path / "t2", "thresholds", malicious=0.6, suspicious=0.3)  # same seed: same model text
    assert admin.post("/v1/admin/model/reload", json={"path": "t1"}, headers=ADMIN).status_code == 200
    first = admin.post("/v1/scan", content=b"threshold sample").json()
    assert first["verdict"]["threshold"] == 0.7
    assert admin.post("/v1/scan", content=b"threshold sample").json()["cached"] is True
    assert admin.post("/v1/admin/model/reload", json={"path": "t2"}, headers=ADMIN).status_code == 200
    again = admin.post("/v1/scan", content=b"threshold sample").json()
    assert again["cached"] is False and again["verdict"]["threshold"] == 0.6
    r = admin.post("/v1/admin/model/rollback", headers=ADMIN).json()
    assert r["generation"] == 4  # load, reload, reload, rollback: each a new generation
    assert admin.post("/v1/scan", content=b"threshold sample").json()["cached"] is False


def test_model_info_shows_no_filesystem_path(admin, tmp_path):
    bundle = make_bundle(tmp_path / "pathless", "pathless")
    admin.post("/v1/admin/model/reload", json={"path": str(bundle)}, headers=ADMIN)
    text = admin.get("/v1/model").text
    assert '"source":"pathless"' in text and str(tmp_path) not in text
    assert str(tmp_path) not in admin.get("/metrics").text
