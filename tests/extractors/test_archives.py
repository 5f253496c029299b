"""7z, RAR, CAB, TAR and gzip/xz/bzip2: members as children through the bounded archive reader."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zlib

import pytest

from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.extractors import _libarchive
from maldoc.extractors.archives import gzip_name, rar_headers_encrypted
from maldoc.filetype import detect
from maldoc.limits import Limits
from maldoc.samples import archive, mail
from maldoc.types import FileType, Flag

pytestmark = pytest.mark.skipif(_libarchive.unavailable() is not None, reason=str(_libarchive.unavailable()))

BAT = b"@echo off\r\npowershell -nop -w hidden -c \"Write-Output inert-test\"\r\n"
PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def names_of(node) -> list[str]:
    return [c.name for c in node.children]


# -- RAR5 and CAB written from their specifications (no free tool writes RAR) ----------------------
def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _rar5_block(kind: int, body: bytes, flags: int = 0, data: bytes = b"") -> bytes:
    fields = _vint(kind) + _vint(flags) + body
    header = _vint(len(fields)) + fields
    return struct.pack("<I", zlib.crc32(header)) + header + data


def rar5(files: list[tuple[str, bytes]]) -> bytes:
    """A RAR5 archive of stored files: main header, one file header per file, end of archive."""
    out = b"Rar!\x1a\x07\x01\x00" + _rar5_block(1, _vint(0))
    for name, data in files:
        raw = name.encode()
        # data size, file flags (CRC present), unpacked size, attributes, CRC, stored, Windows, name
        body = (_vint(len(data)) + _vint(0x0004) + _vint(len(data)) + _vint(0x20) + struct.pack("<I", zlib.crc32(data))
                + _vint(0) + _vint(0) + _vint(len(raw)) + raw)
        out += _rar5_block(2, body, flags=0x0002, data=data)
    return out + _rar5_block(5, _vint(0))


def rar5_encrypted_headers() -> bytes:
    body = _vint(0) + _vint(0) + bytes([15]) + b"\x11" * 16  # version, flags, KDF count, salt
    return b"Rar!\x1a\x07\x01\x00" + _rar5_block(4, body) + b"\x00" * 64


def cab(files: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed (typeCompress 0) single-folder cabinet: CFHEADER, CFFOLDER, CFFILEs, one CFDATA."""
    names = [n.encode() + b"\x00" for n, _ in files]
    blob = b"".join(d for _, d in files)
    files_at = 36 + 8
    data_at = files_at + sum(16 + len(n) for n in names)
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, data_at + 8 + len(blob), 0, files_at, 0, 3, 1, 1,
                         len(files), 0, 0, 0)
    folder = struct.pack("<IHH", data_at, 1, 0)
    entries, offset = b"", 0
    for name, (_, data) in zip(names, files, strict=True):
        entries += struct.pack("<IIHHHH", len(data), offset, 0, 0x5A21, 0, 0x20) + name
        offset += len(data)
    return header + folder + entries + struct.pack("<IHH", 0, len(blob), len(blob)) + blob


# -- detection ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "kind"), [
    (archive.sevenzip([("a.txt", b"x")]), "sevenzip"), (rar5([("a.txt", b"x")]), "rar"),
    (cab([("a.txt", b"x")]), "cab"), (gzip.compress(b"x"), "gzip"), (lzma.compress(b"x"), "xz"),
    (bz2.compress(b"x" * 10), "bzip2"),
])
def test_detected_by_magic(data, kind):
    assert detect(data) is FileType(kind)


def test_sevenzip_single_script_is_a_lure():
    node = analyze(archive.sevenzip([("invoice.pdf.cmd", BAT)]), "a.7z")
    assert names_of(node) == ["invoice.pdf.cmd"]
    assert {"ARCHIVE_LURE_SHAPE", "ARCHIVE_DOUBLE_EXTENSION"} <= rules_of(node)
    f = node.result.features
    assert f["archive.members"] == 1 and f["archive.script_members"] == 1 and f["archive.double_extensions"] == 1


def test_sevenzip_documents_raise_nothing():
    node = analyze(archive.sevenzip([("a.txt", b"minutes"), ("b.csv", b"a,b\n1,2\n")]), "docs.7z")
    assert names_of(node) == ["a.txt", "b.csv"] and not rules_of(node)
    assert node.result.features["archive.lure_shape"] == 0


def test_encrypted_sevenzip_opens_with_a_supplied_password():
    data = archive.sevenzip([("setup.exe", PE), ("readme.txt", b"hello")], password="7788")
    closed = analyze(data, "b.7z")
    assert Flag.ENCRYPTED in closed.result.flags and not closed.children
    assert "CORE_ENCRYPTED_ARCHIVE" in rules_of(closed)
    opened = analyze(data, "b.7z", options=Options(passwords=("7788",)))
    assert Flag.DECRYPTED in opened.result.flags and names_of(opened) == ["setup.exe", "readme.txt"]
    assert "CORE_EXECUTABLE_PAYLOAD" in rules_of(opened.children[0])
    assert opened.result.features["archive.executables"] == 1


def test_header_encrypted_sevenzip_opens_with_the_body_password():
    data = archive.sevenzip([("run.js", b"WScript.Echo('inert')")], password="Zx81", encrypt_headers=True)
    closed = analyze(data, "c.7z")
    assert "ARCHIVE_HEADER_ENCRYPTED" in rules_of(closed) and Flag.ENCRYPTED in closed.result.flags
    message = mail.message(__import__("random").Random(1), sender="a <a@example.com>", to="b@example.org",
                           subject="Invoice", body="The archive password is Zx81", attachments=[("c.7z", data)])
    node = analyze(message, "m.eml")
    inner = node.children[-1]
    assert inner.file_type is FileType("sevenzip") and names_of(inner) == ["run.js"]
    assert inner.result.features["archive.header_encrypted"] == 1


def test_rar5_members_are_children():
    node = analyze(rar5([("doc/readme.txt", b"hello"), ("Invoice.lnk", b"L\x00\x00\x00\x01\x14\x02\x00" + b"\0" * 80)]),
                   "x.rar")
    assert names_of(node) == ["doc/readme.txt", "Invoice.lnk"]
    assert "ARCHIVE_SHORTCUT" in rules_of(node)
    assert node.result.features["archive.lnk_members"] == 1


def test_rar5_with_encrypted_headers_is_flagged_not_listed():
    data = rar5_encrypted_headers()
    assert rar_headers_encrypted(data)
    node = analyze(data, "x.rar")
    assert {"ARCHIVE_HEADER_ENCRYPTED", "CORE_ENCRYPTED_ARCHIVE"} <= rules_of(node)
    assert Flag.ENCRYPTED in node.result.flags and not node.children


def test_cab_members_are_children():
    node = analyze(cab([("setup.exe", PE), ("notes.txt", b"hi")]), "x.cab")
    assert names_of(node) == ["setup.exe", "notes.txt"]
    assert "CORE_EXECUTABLE_PAYLOAD" in rules_of(node.children[0])


def test_tar_gz_unwraps_to_tar_and_its_members():
    node = analyze(archive.tar_gz([("report/a.csv", b"a,b\n")]), "x.tgz")
    assert node.file_type is FileType("gzip") and names_of(node) == ["x.tar"]
    tar = node.children[0]
    assert tar.file_type is FileType("tar") and names_of(tar) == ["report/a.csv"]


def test_gzip_member_named_from_its_header():
    raw = io.BytesIO()
    with gzip.GzipFile(filename="payload.js", mode="wb", fileobj=raw, mtime=0) as g:
        g.write(b"WScript.Echo('inert')")
    assert gzip_name(raw.getvalue()) == "payload.js"
    node = analyze(raw.getvalue(), "x.gz")
    assert names_of(node) == ["payload.js"] and "ARCHIVE_LURE_SHAPE" in rules_of(node)


def test_xz_and_bzip2_single_files():
    assert names_of(analyze(lzma.compress(b"text"), "notes.txt.xz")) == ["notes.txt"]
    assert names_of(analyze(bz2.compress(b"text"), "notes.txt.bz2")) == ["notes.txt"]


def test_gzip_bomb_is_refused():
    node = analyze(gzip.compress(b"\x00" * (8 << 20)), "zeros.gz")
    assert "CORE_ZIP_BOMB" in rules_of(node) and Flag.LIMIT_EXCEEDED in node.result.flags
    assert not node.children


def test_member_count_limit_applies():
    data = archive.sevenzip([(f"f{i}.txt", b"x") for i in range(8)])
    node = analyze(data, "many.7z", limits=Limits(max_children=3))
    assert len(node.children) == 3 and Flag.LIMIT_EXCEEDED in node.result.flags
    assert node.result.features["archive.members"] == 8


def test_truncated_archive_is_flagged_not_crashed():
    data = archive.sevenzip([("a.txt", b"hello world" * 100)])[:40]
    node = analyze(data, "cut.7z")
    assert node.result.flags & {Flag.TRUNCATED, Flag.PARSE_ERROR, Flag.UNSUPPORTED}


def test_archive_pdf_polyglot_is_left_to_the_pdf_extractor():
    polyglot = gzip.compress(b"x")[:10] + b"%PDF-1.7\n" + b"\x00" * 100
    assert detect(polyglot) is FileType.PDF
    tar_of_pdf = archive.tar_gz([("a.pdf", b"%PDF-1.4\n%%EOF\n")])
    assert detect(gzip.decompress(tar_of_pdf)) is FileType("tar")  # %PDF- in the member, not the header
