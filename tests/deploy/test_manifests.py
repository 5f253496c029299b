"""deploy/: the Kubernetes manifests validate against the Kubernetes schemas (kubernetes-validate
ships them: no network), hang together (selectors, probes, volumes, ports), and the milter's
systemd unit passes `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
VERSIONS = ("1.29.0", "1.33.0")  # the oldest still-supported minor the manifests target, and a recent one


def _documents() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def _by_kind(kind: str) -> list[dict]:
    return [d for d in _documents() if d["kind"] == kind]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifests_validate_strictly_against_the_kubernetes_schemas(path, version):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            kubernetes_validate.validate(doc, version, strict=True)  # raises on an unknown or mistyped field


def test_the_validator_catches_a_broken_manifest():
    broken = dict(_by_kind("Deployment")[0])
    broken["spec"] = {**broken["spec"], "replicas": "two", "paused_typo": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_every_kind_the_deployment_needs_is_there():
    kinds = {d["kind"] for d in _documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
            "PersistentVolumeClaim"} <= kinds


def test_deployment_probes_the_service_and_mounts_the_model():
    deployment = _by_kind("Deployment")[0]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert env["MALDOC_MODEL"].startswith(mounts["models"]["mountPath"] + "/") and mounts["models"]["readOnly"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert claim in {d["metadata"]["name"] for d in _by_kind("PersistentVolumeClaim")}
    assert container["securityContext"]["readOnlyRootFilesystem"] and pod["spec"]["securityContext"]["runAsNonRoot"]
    assert container["resources"]["limits"]["cpu"]  # the worker count follows this quota
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_service_autoscaler_budget_and_policy_point_at_the_deployment():
    deployment = _by_kind("Deployment")[0]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    service = _by_kind("Service")[0]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    hpa = _by_kind("HorizontalPodAutoscaler")[0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = _by_kind("PodDisruptionBudget")[0]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # a drain can always proceed
    policy = _by_kind("NetworkPolicy")[0]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} == {port["containerPort"]}


def test_the_pipeline_claims_match_the_pipeline_defaults():
    pytest.importorskip("kfp")
    import inspect

    from maldoc.pipeline.pipeline import make_pipeline

    params = inspect.signature(make_pipeline().pipeline_func).parameters
    claims = {d["metadata"]["name"]: d for d in _by_kind("PersistentVolumeClaim")}
    for volume in ("corpus", "cache", "models"):
        name = params[f"{volume}_pvc"].default
        assert name in claims and "ReadWriteMany" in claims[name]["spec"]["accessModes"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_the_milter_unit_verifies(tmp_path):
    unit = (ROOT / "deploy" / "systemd" / "maldoc-milter.service").read_text()
    assert "ExecStart=/opt/maldoc/bin/maldoc milter " in unit and "--metrics-port" in unit
    # verify checks that ExecStart's binary exists: point it at this environment's maldoc
    local = tmp_path / "maldoc-milter.service"
    local.write_text(unit.replace("/opt/maldoc/bin/maldoc", str(Path(sys.executable).with_name("maldoc"))))
    done = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
