"""Disk images: ISO members as children with their hidden bit, the LNK-plus-hidden-payload lure, VHD names."""

from __future__ import annotations

import pytest

from maldoc.engine import analyze
from maldoc.filetype import detect
from maldoc.samples import archive
from maldoc.types import FileType, Flag

pytest.importorskip("pycdlib")

LNK = b"L\x00\x00\x00\x01\x14\x02\x00" + b"\x00" * 70
BAT = b"@echo off\r\nrundll32 x.dll,Start\r\n"
PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_iso_lure_visible_shortcut_hidden_payload():
    data = archive.iso([("Invoice_1234.lnk", LNK, False), ("data/run.cmd", BAT, True), ("data/x.dll", PE, True)])
    assert detect(data) is FileType("iso")
    node = analyze(data, "invoice.iso")
    assert [c.name for c in node.children] == ["Invoice_1234.lnk", "data/run.cmd", "data/x.dll"]
    assert {"DISKIMAGE_FILE", "DISKIMAGE_LNK_HIDDEN_PAYLOAD", "DISKIMAGE_HIDDEN_EXECUTABLE",
            "DISKIMAGE_RISKY_VISIBLE"} <= rules_of(node)
    f = node.result.features
    assert f["diskimage.hidden_members"] == 2 and f["diskimage.visible_members"] == 1
    assert f["diskimage.lnk_members"] == 1 and f["diskimage.executables"] == 1 and f["diskimage.lure_shape"] == 1
    assert f["diskimage.joliet"] == 1 and f["diskimage.listed"] == 1


def test_iso_of_documents_is_only_a_disk_image():
    node = analyze(archive.iso([("docs/minutes.txt", b"minutes", False), ("README.TXT", b"read me", False)]), "x.img")
    assert rules_of(node) == {"DISKIMAGE_FILE"}
    assert node.result.features["diskimage.members"] == 2


def test_visible_script_without_hidden_files_is_risky_not_the_lure():
    node = analyze(archive.iso([("setup.exe", PE, False), ("readme.txt", b"hi", False)]), "x.iso")
    assert "DISKIMAGE_RISKY_VISIBLE" in rules_of(node)
    assert "DISKIMAGE_LNK_HIDDEN_PAYLOAD" not in rules_of(node)


def test_vhd_is_unlisted_but_its_raw_names_count():
    body = b"\x00" * 4096 + "Invoice.lnk".encode("utf-16-le") + b"\x00" * 64 + b"PAYLOAD.DLL" + b"\x00" * 512
    footer = b"conectix" + b"\x00" * 504
    node = analyze(body + footer, "disk.vhd")
    assert node.file_type is FileType("vhd")
    assert {"DISKIMAGE_FILE", "DISKIMAGE_UNLISTED", "CORE_SCRIPT_NAME"} <= rules_of(node)
    assert Flag.UNSUPPORTED in node.result.flags
    assert node.result.features["diskimage.raw_risky_names"] == 2
    assert node.result.features["diskimage.lnk_members"] == 1


def test_vhdx_detected():
    assert detect(b"vhdxfile" + b"\x00" * 1024) is FileType("vhdx")


def test_broken_iso_is_flagged_not_crashed():
    data = archive.iso([("a.txt", b"x", False)])
    broken = data[:16 * 2048] + data[16 * 2048:16 * 2048 + 6] + b"\xff" * 200
    node = analyze(broken, "bad.iso")
    assert node.result.flags & {Flag.PARSE_ERROR, Flag.UNSUPPORTED, Flag.TRUNCATED}


def test_pdf_in_the_iso_system_area_is_scanned_too():
    data = bytearray(archive.iso([("readme.txt", b"hi", False)]))
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    data[:len(pdf)] = pdf
    node = analyze(bytes(data), "x.iso")
    assert node.file_type is FileType("iso")
    assert "system-area.pdf" in [c.name for c in node.children]
    assert node.result.features["diskimage.system_area"] == 1
