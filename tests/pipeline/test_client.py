"""Submit and schedule against a fake KFP API server on loopback that checks the request bodies."""

from __future__ import annotations

import pytest

pytest.importorskip("kfp")

from fake_kfp import FakeKFP, serve_fake_kfp

from maldoc.cli import main
from maldoc.pipeline.client import kfp_cron


@pytest.fixture
def kfp_host():
    with serve_fake_kfp() as host:
        yield host


def _posted(path: str) -> dict:
    bodies = [b for m, p, b in FakeKFP.requests if m == "POST" and p == path]
    assert len(bodies) == 1, FakeKFP.requests
    return bodies[0]


def _check_spec(posted: dict) -> None:
    spec = posted["pipeline_spec"]  # kfp sends the pipeline and its platform (volumes) spec together
    platform = posted["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert {m["mountPath"] for m in platform["exec-extract-features"]["pvcMount"]} == {"/data/corpus", "/data/cache"}
    assert spec["pipelineInfo"]["name"] == "maldoc-retrain"
    assert "comp-extract-features" in spec["components"]
    assert spec["root"]["dag"]["tasks"]["for-loop-1"]["parameterIterator"]


def test_submit_posts_the_compiled_pipeline_with_its_parameters(kfp_host, capsys):
    code = main(["pipeline", "run", "--host", kfp_host, "--corpus", "/data/corpus", "--corpus", "/data/corpus/more",
                 "--shards", "8",
                 "--train-param", "n_splits=3", "--param", "extract_cpu_limit=2", "--run-name", "nightly"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "run-1"
    exp = _posted("/apis/v2beta1/experiments")
    assert exp["display_name"] == "maldoc"
    run = _posted("/apis/v2beta1/runs")
    assert run["display_name"] == "nightly"
    assert run["experiment_id"] == "exp-1"
    _check_spec(run["pipeline_spec"])
    params = run["runtime_config"]["parameters"]
    assert params == {"corpus_dirs_json": '["/data/corpus", "/data/corpus/more"]', "shards": 8,
                      "train_params_json": '{"n_splits": 3}', "extract_cpu_limit": "2"}


def test_schedule_creates_a_recurring_run_with_kfp_cron(kfp_host, capsys):
    code = main(["pipeline", "schedule", "--host", kfp_host, "--cron", "0 3 * * 0", "--corpus", "/data/corpus",
                 "--parallelism", "4"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "job-1"
    job = _posted("/apis/v2beta1/recurringruns")
    assert job["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 0"
    assert job["mode"] == "ENABLE"
    assert job["no_catchup"] is True
    assert int(job["max_concurrency"]) == 1
    assert job["experiment_id"] == "exp-1"
    assert job["display_name"] == "maldoc-retrain"
    _check_spec(job["pipeline_spec"])
    loop = job["pipeline_spec"]["pipeline_spec"]["root"]["dag"]["tasks"]["for-loop-1"]
    assert loop["iteratorPolicy"]["parallelismLimit"] == 4
    assert job["runtime_config"]["parameters"] == {"corpus_dirs_json": '["/data/corpus"]'}


def test_cron_expressions():
    assert kfp_cron("30 2 * * *") == "0 30 2 * * *"
    assert kfp_cron("15 30 2 * * *") == "15 30 2 * * *"
    with pytest.raises(ValueError):
        kfp_cron("@daily")


def test_bad_cron_and_unknown_parameter_are_usage_errors(kfp_host, capsys):
    assert main(["pipeline", "schedule", "--host", kfp_host, "--cron", "every day"]) == 2
    assert main(["pipeline", "run", "--host", kfp_host, "--param", "no_such=1"]) == 2
    assert "no pipeline parameter 'no_such'" in capsys.readouterr().err
    assert not [r for r in FakeKFP.requests if r[0] == "POST"]


def test_namespace_experiment_and_token_reach_the_api(kfp_host, tmp_path, capsys):
    FakeKFP.required_token = "s3cret"
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    code = main(["pipeline", "run", "--host", kfp_host, "--corpus", "/data/corpus", "--namespace", "team-mail",
                 "--experiment", "nightly-retrain", "--token-file", str(token)])
    assert code == 0, capsys.readouterr().err
    exp = _posted("/apis/v2beta1/experiments")
    assert exp["display_name"] == "nightly-retrain" and exp["namespace"] == "team-mail"
    assert set(FakeKFP.tokens) == {"Bearer s3cret"}
    FakeKFP.requests, FakeKFP.tokens = [], []
    assert main(["pipeline", "schedule", "--host", kfp_host, "--cron", "0 3 * * 0", "--namespace", "team-mail",
                 "--token", "s3cret"]) == 0
    assert _posted("/apis/v2beta1/experiments")["namespace"] == "team-mail"
    assert set(FakeKFP.tokens) == {"Bearer s3cret"}


def test_the_service_account_token_is_read_inside_a_pod(tmp_path):
    from maldoc.pipeline.client import read_token

    account = tmp_path / "serviceaccount-token"
    assert read_token(None, None, service_account=account) is None
    account.write_text("pod-token\n")
    assert read_token(None, None, service_account=account) == "pod-token"
    assert read_token("given", None, service_account=account) == "given"


@pytest.mark.parametrize("command", [["run", "--corpus", "/data/corpus"], ["schedule", "--cron", "0 3 * * 0"]])
def test_a_refusing_host_is_one_line_and_exit_2(kfp_host, command, capsys):
    FakeKFP.required_token = "the-right-one"
    code = main(["pipeline", command[0], "--host", kfp_host, "--token", "a-wrong-one", *command[1:]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"KFP host {kfp_host}: HTTP 403" in err and "--token" in err


@pytest.mark.parametrize("command", [["run", "--corpus", "/data/corpus"], ["schedule", "--cron", "0 3 * * 0"]])
def test_an_unreachable_host_is_one_line_and_exit_2(command, capsys):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{s.getsockname()[1]}"
        code = main(["pipeline", command[0], "--host", host, *command[1:]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"maldoc: KFP host {host}: ") and "refused" in err.lower()
