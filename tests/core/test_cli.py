"""The CLI end to end, as a subprocess: output formats, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builders import FAKE_PE, make_encrypted_zip, make_zip


def run(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "maldoc.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "clean.zip").write_bytes(make_zip({"notes.txt": b"hello"}))
    (tmp_path / "bad.zip").write_bytes(make_zip({"invoice.pdf.exe": FAKE_PE}))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.bin").write_bytes(b"")
    return tmp_path


def test_jsonl_one_object_per_input_file(files):
    proc = run("scan", str(files), "--jsonl", "--model", "rules", "--jobs", "1")
    assert proc.returncode == 1  # bad.zip is malicious
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["schema"] for r in records} == {"maldoc.record/1"} and {r["status"] for r in records} == {"scanned"}
    rows = [r["verdict"] for r in records]
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert set(by_name) == {"clean.zip", "bad.zip", "empty.bin"}
    for row in rows:  # the same full verdict as --json: findings, URLs and the model included
        assert {"path", "sha256", "hashes", "file_type", "label", "score", "flags", "errors", "findings", "urls",
                "model_version", "children"} <= set(row)
    assert by_name["bad.zip"]["label"] == "malicious"
    assert by_name["bad.zip"]["children"][0]["path"] == "bad.zip > invoice.pdf.exe"
    assert by_name["clean.zip"]["label"] == "clean"
    assert by_name["empty.bin"]["flags"] == ["empty"]


def test_clean_input_exits_zero_and_table_shows_verdicts(files):
    proc = run("scan", str(files / "clean.zip"), "--model", "rules")
    assert proc.returncode == 0
    assert "clean" in proc.stdout and "clean.zip" in proc.stdout


def test_json_document(files):
    proc = run("scan", str(files / "bad.zip"), "--json", "--model", "rules", "--jobs", "0")
    doc = json.loads(proc.stdout)
    assert doc["model"] == "rules"
    assert doc["summary"]["labels"] == {"malicious": 1} and doc["summary"]["unreadable"] == 0
    result = doc["records"][0]["verdict"]
    assert result["label"] == "malicious" and result["reasons"]
    assert result["children"][0]["findings"]


def test_missing_path_is_usage_error():
    proc = run("scan", "/nonexistent/file.doc")
    assert proc.returncode == 2
    assert "no such file" in proc.stderr.lower()


def test_missing_path_beside_good_one_still_scans_and_gets_a_record(files):
    proc = run("scan", "/nonexistent/x", str(files / "clean.zip"), "--jsonl", "--model", "rules")
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 2  # an input could not be read at all
    assert [r["status"] for r in records] == ["unreadable", "scanned"]
    assert "no such file" in records[0]["reason"].lower() and records[1]["verdict"]["label"] == "clean"
    assert "1 unreadable" in proc.stderr.splitlines()[-1]


def test_stdin_empty_folder_and_bad_jobs(files, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "maldoc.cli", "scan", "-", "--jsonl", "--model", "rules"],
                          input=(files / "bad.zip").read_bytes(), capture_output=True, timeout=300)
    assert proc.returncode == 1 and json.loads(proc.stdout)["verdict"]["label"] == "malicious"
    (tmp_path / "none").mkdir()
    empty = run("scan", str(tmp_path / "none"))
    assert empty.returncode == 2 and "no input files" in empty.stderr
    assert run("scan", "--jobs", "-1", str(files)).returncode == 2


def test_model_from_the_environment(files, monkeypatch):
    monkeypatch.setenv("MALDOC_MODEL", "rules")
    proc = run("scan", str(files / "clean.zip"), "--json")
    assert json.loads(proc.stdout)["model"] == "rules"


def test_record_schema_file_matches_the_models():
    from importlib import resources

    from maldoc.record import json_schema

    shipped = json.loads(resources.files("maldoc").joinpath("schemas/record.schema.json").read_text())
    assert shipped == json_schema(), "regenerate: python -m maldoc.record > core/schemas/record.schema.json"


def test_password_option_and_wrong_password(tmp_path):
    path = tmp_path / "locked.zip"
    path.write_bytes(make_encrypted_zip({"a.vbs": b"WScript.Echo 1"}, "pw123"))
    locked = json.loads(run("scan", str(path), "--jsonl", "--model", "rules", "--password", "nope").stdout)["verdict"]
    assert "encrypted" in locked["flags"] and locked["children"] == []
    opened = json.loads(run("scan", str(path), "--jsonl", "--model", "rules", "--password", "pw123").stdout)["verdict"]
    assert "decrypted" in opened["flags"] and opened["children"][0]["path"].endswith("a.vbs")


def test_extract_writes_embedded_items_only_when_asked(files, tmp_path):
    out = tmp_path / "out"
    run("scan", str(files / "bad.zip"), "--model", "rules", "--extract", str(out))
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) == 1 and written[0].read_bytes() == FAKE_PE


def test_features_command(files):
    proc = run("features", str(files / "clean.zip"))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert doc["file_type"] == "zip" and doc["features"]["zip.members"] == 1.0


def test_version_and_usage():
    proc = run("--version")
    assert proc.returncode == 0 and "feature schema" in proc.stdout and "model" in proc.stdout
    assert run().returncode == 2
    assert run("scan").returncode == 2  # argparse: missing PATH


def test_bad_limit_value_is_one_line_error(files):
    proc = run("scan", str(files), "--max-depth", "0")
    assert proc.returncode == 2 and "max_depth" in proc.stderr


def test_office_scan_survives_warnings_as_errors(tmp_path):
    """oletools' pyparsing deprecation warnings must not break `-W error` settings."""
    from maldoc.samples import generate_samples

    doc = next(s for s in generate_samples(400, seed=2) if s.family == "doc_vba_dropper")  # stops at the first
    path = tmp_path / f"x.{doc.format}"
    path.write_bytes(doc.data)
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "maldoc.cli", "scan", str(path), "--jsonl",
                           "--jobs", "0", "--model", "rules"], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    row = json.loads(proc.stdout)["verdict"]
    assert row["errors"] == [] and row["label"] == "malicious" and row["reasons"]
