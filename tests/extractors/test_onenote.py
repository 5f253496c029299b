"""OneNote extractor: embedded FileDataStoreObjects become named children, scripts and binaries flagged."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.filetype import ONENOTE_MAGIC, detect
from maldoc.types import FileType, Flag

FDSO_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")
FDSO_FOOTER = bytes.fromhex("22a7fb71790f0b4abb13899256426b24")
BAT = b"@echo off\r\npowershell -nop -w hidden -c \"Write-Output inert-test\"\r\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


def fdso(payload: bytes) -> bytes:
    pad = (-len(payload)) % 8
    return FDSO_GUID + len(payload).to_bytes(8, "little") + b"\x00" * 12 + payload + b"\x00" * pad + FDSO_FOOTER


def one(*objects: bytes, names: tuple[str, ...] = ()) -> bytes:
    props = b"".join(b"\x00\x00" + n.encode("utf-16-le") + b"\x00\x00" for n in names)
    return ONENOTE_MAGIC + b"\x00" * 1008 + props + b"\x00" * 64 + b"".join(objects)


def names_of(node) -> list[str]:
    return [c.name for c in node.children]


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_fixture_is_detected_as_onenote():
    assert detect(one(fdso(PNG))) is FileType.ONENOTE


def test_embedded_script_named_from_properties_and_flagged():
    node = analyze(one(fdso(PNG), fdso(BAT), names=("picture.png", "Z:\\build\\Open.cmd", ".cmd")), "lure.one")
    assert names_of(node) == ["picture.png", "Open.cmd"]
    assert "ONENOTE_EMBEDDED_SCRIPT" in rules_of(node)
    assert "ONENOTE_RISKY_NAME" in rules_of(node)
    assert "CORE_SCRIPT_NAME" in rules_of(node.children[1])  # the engine flags the child's risky name
    f = node.result.features
    assert f["onenote.embedded_files"] == 2 and f["onenote.scripts"] == 1 and f["onenote.images"] == 1
    assert f["onenote.risky_names"] == 1 and f["onenote.names"] == 2


def test_unnamed_script_named_by_its_content():
    node = analyze(one(fdso(BAT), names=("Untitled picture.png",)), "lure.one")
    assert names_of(node) == ["embedded-1.bat"]
    assert "ONENOTE_EMBEDDED_SCRIPT" in rules_of(node)
    assert "ONENOTE_RISKY_NAME" not in rules_of(node)


def test_embedded_executable_flagged():
    node = analyze(one(fdso(PE)), "lure.one")
    assert "ONENOTE_EMBEDDED_EXECUTABLE" in rules_of(node)
    assert node.result.features["onenote.executables"] == 1
    assert "CORE_EXECUTABLE_PAYLOAD" in rules_of(node.children[0])


def test_picture_only_section_is_quiet():
    node = analyze(one(fdso(PNG), names=("photo.png",)), "notes.one")
    assert not rules_of(node)
    assert node.result.features["onenote.images"] == 1


def test_document_attachment_is_info_only():
    node = analyze(one(fdso(b"%PDF-1.4\n%%EOF\n")), "notes.one")
    assert names_of(node) == ["embedded-1.pdf"]
    assert rules_of(node) == {"ONENOTE_EMBEDDED_FILE"}
    assert node.result.features["onenote.documents"] == 1


def test_truncated_object_flagged_and_partial_payload_kept():
    data = one(fdso(BAT))[: -len(FDSO_FOOTER) - 30]
    node = analyze(data, "cut.one")
    assert Flag.TRUNCATED in node.result.flags
    assert node.result.features["onenote.truncated_objects"] == 1
    assert node.children and node.children[0].name == "embedded-1.bat"


def test_child_limit_respected():
    from maldoc.limits import Limits

    node = analyze(one(*(fdso(PNG) for _ in range(5))), "many.one", limits=Limits(max_children=3))
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert len(node.children) == 3


def test_embedded_size_measured():
    node = analyze(one(fdso(PNG), fdso(BAT)), "lure.one")
    assert 7 < node.result.features["onenote.embedded_bytes_log2"] < 9
