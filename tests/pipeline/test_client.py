"""Submit and schedule against a fake KFP API server on loopback that checks the request bodies."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

pytest.importorskip("kfp")

from maldoc.cli import main
from maldoc.pipeline.client import kfp_cron


class FakeKFP(BaseHTTPRequestHandler):
    """Just enough of KFP's v2beta1 REST API: experiments, runs, recurring runs."""

    requests: ClassVar[list[tuple[str, str, dict]]] = []

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, {}))
        if self.path.startswith("/apis/v2beta1/healthz"):
            self._reply({"multi_user": False})
        elif self.path.startswith("/apis/v2beta1/experiments"):
            self._reply({})  # no experiment of that name yet
        else:
            self._reply({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.requests.append(("POST", self.path, body))
        if self.path == "/apis/v2beta1/experiments":
            self._reply({"experiment_id": "exp-1", "display_name": body.get("display_name")})
        elif self.path == "/apis/v2beta1/runs":
            self._reply({"run_id": "run-1", "display_name": body.get("display_name"), "experiment_id": "exp-1"})
        elif self.path == "/apis/v2beta1/recurringruns":
            self._reply({"recurring_run_id": "job-1", "display_name": body.get("display_name")})
        else:
            self.send_error(404)


@pytest.fixture
def kfp_host():
    FakeKFP.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKFP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _posted(path: str) -> dict:
    bodies = [b for m, p, b in FakeKFP.requests if m == "POST" and p == path]
    assert len(bodies) == 1, FakeKFP.requests
    return bodies[0]


def _check_spec(spec: dict) -> None:
    assert spec["pipelineInfo"]["name"] == "maldoc-retrain"
    assert "comp-extract-features" in spec["components"]
    assert spec["root"]["dag"]["tasks"]["for-loop-1"]["parameterIterator"]


def test_submit_posts_the_compiled_pipeline_with_its_parameters(kfp_host, capsys):
    code = main(["pipeline", "run", "--host", kfp_host, "--corpus", "/data/corpus", "--shards", "8",
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
    assert params == {"corpus_dir": "/data/corpus", "shards": 8, "train_params_json": '{"n_splits": 3}',
                      "extract_cpu_limit": "2"}


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
    assert job["pipeline_spec"]["root"]["dag"]["tasks"]["for-loop-1"]["iteratorPolicy"]["parallelismLimit"] == 4
    assert job["runtime_config"]["parameters"] == {"corpus_dir": "/data/corpus"}


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
