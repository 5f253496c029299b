"""The compiled pipeline: golden file, compile options, resources as run parameters, caching."""

from __future__ import annotations

import difflib
import subprocess
import sys

import pytest
import yaml

pytest.importorskip("kfp")

from maldoc.pipeline.compile import GOLDEN, REGENERATE, compile_pipeline


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> list[dict]:
    out = compile_pipeline(tmp_path_factory.mktemp("compiled") / "p.yaml", image="registry.invalid/maldoc:9",
                           parallelism=3)
    return list(yaml.safe_load_all(out.read_text()))


@pytest.fixture(scope="module")
def spec(documents) -> dict:
    return documents[0]


@pytest.fixture(scope="module")
def platform(documents) -> dict:
    """kfp-kubernetes' platform spec: the volumes each executor mounts."""
    return documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def test_compiled_yaml_matches_the_golden_file(tmp_path):
    out = compile_pipeline(tmp_path / "pipeline.yaml")
    got, want = out.read_text(), GOLDEN.read_text()
    if got != want:
        lines = difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "compiled")
        diff = "".join(list(lines)[:60])
        pytest.fail(f"compiled pipeline differs from {GOLDEN.name}; if intended, regenerate: {REGENERATE}\n{diff}")


def test_compile_is_deterministic(tmp_path):
    a = compile_pipeline(tmp_path / "a.yaml").read_bytes()
    b = compile_pipeline(tmp_path / "b.yaml").read_bytes()
    assert a == b


def test_image_and_parallelism_are_compile_options(spec):
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {"registry.invalid/maldoc:9"}
    loop = spec["root"]["dag"]["tasks"]["for-loop-1"]
    assert loop["iteratorPolicy"]["parallelismLimit"] == 3
    assert loop["parameterIterator"]["items"]["inputParameter"] == "pipelinechannel--shard-corpus-Output"


def test_no_package_is_installed_at_run_time(spec):
    for executor in spec["deploymentSpec"]["executors"].values():
        command = " ".join(executor["container"]["command"])
        assert "pip install" not in command
        assert "kfp.dsl.executor_main" in command


def test_every_component_has_requests_and_limits_from_run_parameters(spec):
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    for name, executor in spec["deploymentSpec"]["executors"].items():
        resources = executor["container"]["resources"]
        for key in ("resourceCpuRequest", "resourceCpuLimit", "resourceMemoryRequest", "resourceMemoryLimit"):
            assert resources[key].startswith("{{$.inputs.parameters['pipelinechannel--"), (name, key)
            param = resources[key].split("pipelinechannel--")[1].split("'")[0]
            if name == "exec-extract-features" and "Memory" in key:
                continue  # sized per shard at run time (next test)
            assert param in inputs, param
    assert inputs["extract_cpu_request"]["defaultValue"] == "1"
    assert inputs["shards"]["parameterType"] == "NUMBER_INTEGER"
    for name in ("extract_memory_per_gib", "extract_memory_max", "gate_max_fpr", "feedback_db", "quarantine_dir"):
        assert name in inputs, name


def test_extraction_memory_is_sized_from_the_shard_at_run_time(spec):
    resources = spec["deploymentSpec"]["executors"]["exec-extract-features"]["container"]["resources"]
    assert resources["resourceMemoryRequest"] == "{{$.inputs.parameters['pipelinechannel--size-shard-memory_request']}}"
    assert resources["resourceMemoryLimit"] == "{{$.inputs.parameters['pipelinechannel--size-shard-memory_limit']}}"
    extract = spec["components"]["comp-for-loop-1"]["dag"]["tasks"]["extract-features"]
    fed = extract["inputs"]["parameters"]["pipelinechannel--size-shard-memory_request"]["taskOutputParameter"]
    assert fed == {"outputParameterKey": "memory_request", "producerTask": "size-shard"}
    assert extract["dependentTasks"] == ["size-shard"]  # runs once its size is known


def test_volumes_are_claims_named_by_run_parameters(spec, platform):
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    for volume in ("corpus", "cache", "models"):
        assert inputs[f"{volume}_pvc"]["defaultValue"] == f"maldoc-{volume}"

    def mounts(executor: str) -> dict[str, str]:
        return {m["mountPath"]: m["pvcNameParameter"]["componentInputParameter"].removeprefix("pipelinechannel--")
                for m in platform[executor]["pvcMount"]}

    assert mounts("exec-extract-features") == {"/data/corpus": "corpus_pvc", "/data/cache": "cache_pvc"}
    assert mounts("exec-merge-features") == {"/data/corpus": "corpus_pvc", "/data/cache": "cache_pvc"}
    assert mounts("exec-gate") == {"/data/models": "models_pvc"}
    assert mounts("exec-publish") == {"/data/models": "models_pvc"}
    assert "/data/corpus" in mounts("exec-list-corpus")
    # the loop and the If branch declare the claim names they pass on
    loop = spec["components"]["comp-for-loop-1"]["inputDefinitions"]["parameters"]
    assert {"pipelinechannel--corpus_pvc", "pipelinechannel--cache_pvc"} <= set(loop)
    assert "pipelinechannel--models_pvc" in spec["components"]["comp-condition-2"]["inputDefinitions"]["parameters"]


def test_groups_declare_the_resource_parameters_their_tasks_use(spec):
    # kfp 2.17 leaves them out of ParallelFor/If groups unless listed as channel inputs (pipeline._sized)
    loop = spec["components"]["comp-for-loop-1"]["inputDefinitions"]["parameters"]
    assert {f"pipelinechannel--extract_{k}" for k in ("cpu_request", "cpu_limit", "memory_request",
                                                      "memory_limit")} <= set(loop)
    branch = spec["components"]["comp-condition-2"]["inputDefinitions"]["parameters"]
    assert "pipelinechannel--small_memory_limit" in branch


def test_steps_reading_changing_folders_are_never_cached(spec):
    tasks = spec["root"]["dag"]["tasks"]
    for name in ("list-corpus", "gate"):
        assert not tasks[name]["cachingOptions"].get("enableCache"), name
    publish = spec["components"]["comp-condition-2"]["dag"]["tasks"]["publish"]
    assert not publish["cachingOptions"].get("enableCache")
    for name in ("shard-corpus", "merge-features", "train-model", "evaluate-model"):
        assert tasks[name]["cachingOptions"]["enableCache"] is True, name
    extract = spec["components"]["comp-for-loop-1"]["dag"]["tasks"]["extract-features"]
    assert extract["cachingOptions"]["enableCache"] is True


def test_the_gate_decides_on_the_training_runs_out_of_collection_scores(spec):
    tasks = spec["root"]["dag"]["tasks"]
    assert "split-features" not in tasks  # no file is set aside: every real file is scored out of collection
    artifacts = tasks["gate"]["inputs"]["artifacts"]
    assert artifacts["ooc_scores"]["taskOutputArtifact"] == {"outputArtifactKey": "ooc_scores",
                                                             "producerTask": "train-model"}
    assert artifacts["table"]["taskOutputArtifact"] == {"outputArtifactKey": "table", "producerTask": "merge-features"}
    evaluated = tasks["evaluate-model"]["inputs"]["artifacts"]["ooc_scores"]["taskOutputArtifact"]
    assert evaluated["producerTask"] == "train-model"
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert inputs["corpus_dirs_json"]["defaultValue"] == '["/data/corpus"]'


def test_publish_runs_only_when_the_gate_promotes(spec):
    branch = spec["root"]["dag"]["tasks"]["condition-2"]
    assert branch["triggerPolicy"]["condition"] == "inputs.parameter_values['pipelinechannel--gate-Output'] == true"


def test_registering_the_cli_does_not_import_kfp():
    code = ("import sys; from maldoc.cli import build_parser; p = build_parser(); "
            "p.parse_args(['pipeline', 'compile']); print('kfp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compile_command_writes_yaml(tmp_path, capsys):
    from maldoc.cli import main

    out = tmp_path / "p.yaml"
    assert main(["pipeline", "compile", "--out", str(out), "--parallelism", "2"]) == 0
    assert next(yaml.safe_load_all(out.read_text()))["pipelineInfo"]["name"] == "maldoc-retrain"
