"""Analyst feedback: the SQLite store, POST /v1/feedback on an app of its own, `maldoc feedback`."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from maldoc.cli import main
from maldoc.serving import routes_feedback
from maldoc.serving.feedback import FeedbackError, FeedbackStore, locate, read_latest
from maldoc.serving.routes_feedback import FeedbackSettings

SHA = "ab" * 32


def _app(tmp_path, **settings) -> TestClient:
    app = FastAPI()
    app.include_router(routes_feedback.router)
    app.state.feedback_settings = FeedbackSettings(feedback_db=str(tmp_path / "fb.sqlite"), **settings)
    return TestClient(app)


def test_store_keeps_every_record_and_answers_the_newest_label(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add(SHA, "malicious", note="first look", source="cli")
        store.add(SHA.upper(), "benign", note="a second look: a signed installer", corrects="malicious", score=0.93)
        store.add("cd" * 32, "malicious", location="q/cd")
        assert store.count() == 3
        latest = store.latest()
    assert latest[SHA].label == "benign" and latest[SHA].corrects == "malicious" and latest[SHA].score == 0.93
    assert read_latest(tmp_path / "fb.sqlite") == latest  # the pipeline's read-only view
    columns = {row[1] for row in sqlite3.connect(tmp_path / "fb.sqlite").execute("PRAGMA table_info(feedback)")}
    assert not columns & {"data", "content", "bytes", "sample"}  # hashes and labels only, never the file


@pytest.mark.parametrize(("sha", "label", "extra"), [
    ("nothex" * 10 + "abcd", "benign", {}), (SHA[:-1], "benign", {}), (SHA, "spam", {}),
    (SHA, "benign", {"note": "x" * 5000}), (SHA, "benign", {"score": 1.5}), (SHA, "benign", {"location": "a\x00b"}),
])
def test_store_refuses_bad_records(tmp_path, sha, label, extra):
    with FeedbackStore(tmp_path / "fb.sqlite") as store, pytest.raises(FeedbackError):
        store.add(sha, label, **extra)


def test_locate_finds_files_by_hash_and_never_outside_the_quarantine(tmp_path):
    quarantine, outside = tmp_path / "q", tmp_path / "elsewhere"
    (quarantine / "2026" / "12").mkdir(parents=True)
    outside.mkdir()
    named = b"<html>held message part</html>"
    buried = b"%PDF-1.4 inert test bytes"
    secret = b"not for the pipeline"
    (quarantine / hashlib.sha256(named).hexdigest()).write_bytes(named)
    (quarantine / "2026" / "12" / "part-7.bin").write_bytes(buried)
    (outside / "x").write_bytes(secret)
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        for data in (named, buried):
            store.add(hashlib.sha256(data).hexdigest(), "malicious")
        store.add(hashlib.sha256(secret).hexdigest(), "benign", location=str(outside / "x"))
        found = locate(store.latest(), quarantine)
    assert found == {hashlib.sha256(named).hexdigest(): quarantine / hashlib.sha256(named).hexdigest(),
                     hashlib.sha256(buried).hexdigest(): quarantine / "2026" / "12" / "part-7.bin"}


def test_post_feedback_records_it(tmp_path):
    client = _app(tmp_path, feedback_keys=["analyst-key"])
    body = {"sha256": SHA, "label": "malicious", "note": "dropper", "location": "/srv/quarantine/" + SHA,
            "corrects": "clean", "score": 0.12, "model_version": "20261201-x", "analyst": "kim"}
    r = client.post("/v1/feedback", json=body, headers={"X-API-Key": "analyst-key"})
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == SHA and r.json()["label"] == "malicious" and r.json()["recorded"] == 1
    record = read_latest(tmp_path / "fb.sqlite")[SHA]
    assert (record.corrects, record.location, record.source, record.analyst) == \
        ("clean", "/srv/quarantine/" + SHA, "api", "kim")


def test_feedback_needs_a_feedback_or_admin_key(tmp_path):
    closed = _app(tmp_path)
    assert closed.post("/v1/feedback", json={"sha256": SHA, "label": "benign"}).status_code == 403
    client = _app(tmp_path, feedback_keys=["fk"], admin_keys=["ak"])
    body = {"sha256": SHA, "label": "benign"}
    assert client.post("/v1/feedback", json=body).status_code == 401
    assert client.post("/v1/feedback", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/v1/feedback", json=body, headers={"Authorization": "Bearer ak"}).status_code == 201
    assert client.post("/v1/feedback", json=body, headers={"X-API-Key": "fk"}).status_code == 201


@pytest.mark.parametrize("body", [{"sha256": "zz", "label": "benign"}, {"sha256": SHA, "label": "maybe"},
                                  {"sha256": SHA, "label": "benign", "note": "n" * 3000}, {"label": "benign"}])
def test_invalid_feedback_is_422(tmp_path, body):
    client = _app(tmp_path, feedback_keys=["fk"])
    assert client.post("/v1/feedback", json=body, headers={"X-API-Key": "fk"}).status_code == 422
    assert not (tmp_path / "fb.sqlite").exists() or not read_latest(tmp_path / "fb.sqlite")


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MALDOC_FEEDBACK_DB", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("MALDOC_FEEDBACK_KEYS", "k1, k2")
    app = FastAPI()
    app.include_router(routes_feedback.router)
    r = TestClient(app).post("/v1/feedback", json={"sha256": SHA, "label": "benign"}, headers={"X-API-Key": "k2"})
    assert r.status_code == 201
    assert SHA in read_latest(tmp_path / "env.sqlite")


def test_cli_records_locally(tmp_path, capsys):
    db = tmp_path / "cli.sqlite"
    assert main(["feedback", SHA.upper(), "--label", "benign", "--note", "vendor tool", "--path", "q/x",
                 "--db", str(db)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sha256"] == SHA and printed["source"] == "cli"
    assert read_latest(db)[SHA].note == "vendor tool"
    assert main(["feedback", "123", "--label", "benign", "--db", str(db)]) == 2
    assert "64 hexadecimal" in capsys.readouterr().err


def test_cli_posts_to_the_service(tmp_path, capsys):
    import threading

    import uvicorn

    app = FastAPI()
    app.include_router(routes_feedback.router)
    app.state.feedback_settings = FeedbackSettings(feedback_db=str(tmp_path / "svc.sqlite"), feedback_keys=["fk"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        assert main(["feedback", SHA, "--label", "malicious", "--url", url, "--api-key", "fk"]) == 0
        assert json.loads(capsys.readouterr().out)["recorded"] == 1
        assert main(["feedback", SHA, "--label", "malicious", "--url", url, "--api-key", "nope"]) == 2
        assert "HTTP 401" in capsys.readouterr().err
    finally:
        server.should_exit = True
        thread.join(10)
    assert read_latest(tmp_path / "svc.sqlite")[SHA].label == "malicious"
