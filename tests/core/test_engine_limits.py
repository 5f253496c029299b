"""Container recursion and every limit: each test fails if its limit were removed."""

from __future__ import annotations

import os

from maldoc import scan
from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.scoring import RuleScorer
from maldoc.types import FileType, Flag
from maldoc.verdict import Label

from builders import FAKE_PE, make_encrypted_zip, make_zip, nested_zip

RULES = RuleScorer()


def rule_ids(node):
    return {f.rule_id for sub in node.walk() for f in sub.result.findings}


def test_zip_members_become_children_with_container_paths():
    node = analyze(make_zip({"a.txt": b"hello", "inner.zip": make_zip({"b.txt": b"x"})}), "outer.zip")
    assert node.file_type is FileType.ZIP
    assert [c.name for c in node.children] == ["a.txt", "inner.zip"]
    assert node.children[1].children[0].display_path == "outer.zip > inner.zip > b.txt"
    assert node.children[1].children[0].depth == 2


def test_depth_limit_stops_recursion():
    data = nested_zip(8)
    deep = analyze(data, "n.zip", limits=Limits(max_depth=20))
    shallow = analyze(data, "n.zip", limits=Limits(max_depth=3))
    assert max(n.depth for n in deep.walk()) == 8
    assert max(n.depth for n in shallow.walk()) == 3
    assert any(Flag.LIMIT_EXCEEDED in n.result.flags for n in shallow.walk())
    assert "CORE_LIMIT_EXCEEDED" in rule_ids(shallow)


def test_children_limit():
    data = make_zip({f"f{i}.txt": b"x" for i in range(20)})
    node = analyze(data, "many.zip", limits=Limits(max_children=5))
    assert len(node.children) == 5
    assert Flag.LIMIT_EXCEEDED in node.result.flags


def test_zip_bomb_ratio_member_not_inflated():
    data = make_zip({"zeros.bin": b"\x00" * (20 * 1024 * 1024)})
    assert len(data) < 100_000
    node = analyze(data, "bomb.zip")
    assert node.children == []
    assert "CORE_ZIP_BOMB" in rule_ids(node)
    relaxed = analyze(data, "bomb.zip", limits=Limits(max_ratio=1e9))
    assert len(relaxed.children) == 1


def test_total_decompressed_budget_spans_members():
    member = os.urandom(1024 * 1024)  # incompressible: no ratio alarm, only the total
    data = make_zip({f"r{i}.bin": member for i in range(4)})
    node = analyze(data, "big.zip", limits=Limits(max_decompressed_bytes=2 * 1024 * 1024 + 10))
    assert len(node.children) == 2
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert len(analyze(data, "big.zip").children) == 4


def test_max_bytes_refuses_input_and_labels_error():
    v = scan(b"A" * 5000, "big.bin", limits=Limits(max_bytes=1000), model=RULES)
    assert "limit_exceeded" in v.flags
    assert v.label is Label.ERROR


def test_time_budget_is_cooperative_in_process():
    node = analyze(make_zip({"a.txt": b"x"}), "a.zip", limits=Limits(timeout_s=1e-9))
    assert Flag.TIMED_OUT in node.result.flags


def test_encrypted_zip_with_and_without_password():
    for aes in (True, False):
        data = make_encrypted_zip({"invoice.js": b"WScript.Echo(1)"}, "s3cret", aes=aes)
        locked = analyze(data, "a.zip")
        assert Flag.ENCRYPTED in locked.result.flags and locked.children == []
        assert {"CORE_ENCRYPTED_ARCHIVE", "CORE_SCRIPT_NAME", "CORE_ENCRYPTED_UNOPENED"} <= rule_ids(locked)
        opened = analyze(data, "a.zip", options=Options(passwords=("wrong", "s3cret")))
        assert Flag.DECRYPTED in opened.result.flags
        assert [c.name for c in opened.children] == ["invoice.js"]


def test_executable_inside_archive_is_malicious_by_rules():
    v = scan(make_zip({"invoice.pdf.exe": FAKE_PE}), "mail.zip", model=RULES)
    assert v.label is Label.MALICIOUS
    assert {f.rule_id for f in v.children[0].findings} >= {"CORE_EXECUTABLE_PAYLOAD", "CORE_SCRIPT_NAME"}
    assert v.score >= v.children[0].own_score  # the container is at least as bad as its worst child


def test_bad_inputs_never_raise():
    for data in (b"", b"PK\x03\x04garbage", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 100,
                 b"%PDF-1.4 truncated", b"{\\rtf1 {{{{{", os.urandom(4096)):
        v = scan(data, "x", model=RULES)
        assert v.label in set(Label)


def test_empty_file_flagged():
    assert scan(b"", "e", model=RULES).flags == ["empty"]
