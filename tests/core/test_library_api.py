"""The library API as a user imports it: in a fresh interpreter, twice, typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import maldoc

USER_SCRIPT = """
import maldoc
from maldoc import Engine, Verdict, scan, scan_file
for _ in range(2):
    v = maldoc.scan(b"%PDF-1.4\\n1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\\n%%EOF", "a.pdf")
    assert isinstance(v, Verdict), type(v)
    assert callable(maldoc.scan) and maldoc.scan is scan
import maldoc.engine, maldoc.api  # importing submodules must not shadow the functions
assert callable(maldoc.scan)
v = scan_file({path!r})
assert v.hashes["sha256"] == v.sha256 and set(v.hashes) >= {{"md5", "sha1", "sha256"}}
with Engine(jobs=0) as engine:
    assert engine.scan(b"hello", "a.txt").label.value == "clean"
print("ok")
"""


def test_import_the_way_a_user_would_twice(tmp_path):
    sample = tmp_path / "note.txt"
    sample.write_text("Quarterly figures attached, see you on Monday.\n" * 10)
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", USER_SCRIPT.format(path=str(sample))], capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "ok"


def test_scan_takes_bytes_and_says_so_for_a_path(tmp_path):
    with pytest.raises(TypeError, match="scan_file"):
        maldoc.scan(str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        maldoc.scan_file(tmp_path / "missing.doc")


def test_package_is_typed():
    assert (Path(maldoc.__file__).parent / "py.typed").is_file()


def test_a_refused_file_reports_the_hash_of_the_whole_file(tmp_path):
    from maldoc.hashing import hash_file
    from maldoc.limits import Limits

    big = tmp_path / "big.bin"
    big.write_bytes(b"A" * 5000 + b"B" * 5000)
    v = maldoc.scan_file(big, limits=Limits(max_bytes=4096))
    assert v.label.value == "error"
    assert v.sha256 == hash_file(big)["sha256"] == v.hashes["sha256"]
