"""Encrypted Office documents: default passwords, caller passwords, and the unopened case."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from maldoc.extractor import Options
from maldoc.extractors.officecrypto import OfficeCryptoExtractor
from maldoc.samples import crypt
from maldoc.types import Flag

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx

CODE = 'Sub AutoOpen()\nCreateObject("WScript.Shell").Run "calc"\nEnd Sub'


@pytest.fixture(scope="module")
def plain_docm() -> bytes:
    return fx.docm(CODE)


def encrypted(data: bytes, password: str) -> bytes:
    return crypt.encrypt_ooxml(data, password, random.Random(1), spin_count=1000)


def test_velvetsweatshop_opens_and_the_plaintext_is_a_child(plain_docm: bytes) -> None:
    out = fx.run(OfficeCryptoExtractor(), encrypted(plain_docm, "VelvetSweatshop"), "e.xlsm")
    f = out.features
    assert f["officecrypto.encrypted"] == 1 and f["officecrypto.decrypted"] == 1
    assert f["officecrypto.default_password"] == 1 and f["officecrypto.method_agile"] == 1
    assert f["officecrypto.ooxml_container"] == 1
    assert Flag.DECRYPTED in out.flags and Flag.ENCRYPTED not in out.flags
    assert "OFFICE_DEFAULT_PASSWORD" in fx.rules(out)
    assert [c.data for c in out.children] == [plain_docm]


def test_caller_password_opens_without_default_finding(plain_docm: bytes) -> None:
    data = encrypted(plain_docm, "s3cret-from-mail")
    out = fx.run(OfficeCryptoExtractor(), data, "e.docm", options=Options(passwords=("s3cret-from-mail",)))
    assert out.features["officecrypto.decrypted"] == 1 and out.features["officecrypto.default_password"] == 0
    assert fx.rules(out) == set()
    assert out.children[0].data == plain_docm


def test_unknown_password_is_flagged_and_never_reads_as_no_macros(plain_docm: bytes) -> None:
    data = encrypted(plain_docm, "unguessable")
    node = fx.scan(data, "locked.docm")
    assert Flag.ENCRYPTED in node.result.flags
    assert {"OFFICE_ENCRYPTED", "CORE_ENCRYPTED_UNOPENED"} <= fx.rules(node)
    assert node.result.features["officecrypto.decrypted"] == 0
    assert "vba.has_vba" not in node.result.features  # missing (unknown), not 0
    assert node.children == []


def test_decrypted_content_is_scanned_end_to_end(plain_docm: bytes) -> None:
    node = fx.scan(encrypted(plain_docm, "VelvetSweatshop"), "e.docm")
    assert [c.name for c in node.children] == ["e.docm (decrypted)"]
    assert {"VBA_MACROS", "VBA_AUTOEXEC", "OFFICE_DEFAULT_PASSWORD"} <= fx.tree_rules(node)
    assert node.children[0].result.features["vba.has_vba"] == 1


def test_plain_ole_file_is_not_encrypted() -> None:
    out = fx.run(OfficeCryptoExtractor(), fx.oledoc.doc("hello", None, fx.PID), "p.doc")
    assert out.features["officecrypto.encrypted"] == 0 and not out.flags


def _full_pass(monkeypatch, data: bytes):
    from maldoc.extractors import officecrypto

    monkeypatch.setattr(officecrypto, "_surely_plain", lambda _ole: False)
    out = fx.run(OfficeCryptoExtractor(), data, "x")
    monkeypatch.undo()
    return out


def test_plain_word_and_excel_skip_msoffcrypto_with_the_same_answer(monkeypatch) -> None:
    for data in (fx.oledoc.doc("plain text", None, fx.PID), fx.xls(fx.workbook())):
        quick, full = fx.run(OfficeCryptoExtractor(), data, "x"), _full_pass(monkeypatch, data)
        assert quick.features.pop("officecrypto.triage_skipped") == 1
        assert full.features.pop("officecrypto.triage_skipped") == 0
        assert quick.features == full.features == {"officecrypto.encrypted": 0.0, "officecrypto.ooxml_container": 0.0}


def test_encryption_marks_send_the_document_to_msoffcrypto() -> None:
    from maldoc.samples import cfb, oledoc

    marked = cfb.write({"WordDocument": oledoc._fib(4, encrypted=True) + b"text", "1Table": b"\0" * 512},
                       root_clsid=oledoc.CLSID_WORD)
    assert fx.run(OfficeCryptoExtractor(), marked, "rc4.doc").features["officecrypto.triage_skipped"] == 0
    book = fx.workbook()
    filepass = fx._rec(0x002F, b"\x01\x00" + b"\0" * 52)  # RC4 FILEPASS right after the globals' BOF
    bof_len = len(fx._bof(0x0005))
    locked = fx.xls(book[:bof_len] + filepass + book[bof_len:])
    assert fx.run(OfficeCryptoExtractor(), locked, "rc4.xls").features["officecrypto.triage_skipped"] == 0
    ppt = cfb.write({"PowerPoint Document": b"\0" * 64, "Current User": b"\0" * 64})
    assert fx.run(OfficeCryptoExtractor(), ppt, "a.ppt").features["officecrypto.triage_skipped"] == 0


def test_password_search_runs_once_per_document(monkeypatch, plain_docm: bytes) -> None:
    from maldoc.extractors import officecrypto

    data = encrypted(plain_docm, "unguessable-too")
    first = fx.run(OfficeCryptoExtractor(), data, "a.docm")
    calls = []
    real = officecrypto.OfficeCryptoExtractor._decrypt
    monkeypatch.setattr(officecrypto.OfficeCryptoExtractor, "_decrypt",
                        staticmethod(lambda *a: calls.append(a) or real(*a)))
    again = fx.run(OfficeCryptoExtractor(), data, "b.docm")
    assert calls == [] and again.features == first.features and again.flags == first.flags
    opened = encrypted(plain_docm, "VelvetSweatshop")
    fx.run(OfficeCryptoExtractor(), opened, "c.xlsm")
    calls.clear()
    out = fx.run(OfficeCryptoExtractor(), opened, "d.xlsm")
    assert len(calls) == 1 and calls[0][2] == ["VelvetSweatshop"]  # straight to the password that worked
    assert out.children[0].data == plain_docm and out.features["officecrypto.passwords_tried"] == 1


def test_decryption_is_an_unpacking_step_that_runs_before_every_extractor(plain_docm: bytes) -> None:
    from maldoc.extractor import Unpacker, registry
    from maldoc.types import FileType, Sealing

    reg = registry()
    assert [u.name for u in reg.unpackers_for(FileType.OLE)] == ["officecrypto"]
    assert all(not isinstance(e, Unpacker) for t in reg.types for e in reg.for_type(t))
    sample = fx.Sample(data=encrypted(plain_docm, "VelvetSweatshop"), name="e.docm", path=("e.docm",))
    ctx = fx.Context(limits=fx.Limits(), budget=fx.Budget(fx.Limits()), options=Options())
    out = fx.ExtractorResult()
    assert OfficeCryptoExtractor().unpack(sample, ctx, out) is Sealing.OPENED
    locked = fx.Sample(data=encrypted(plain_docm, "unguessable"), name="l.docm", path=("l.docm",))
    assert OfficeCryptoExtractor().unpack(locked, ctx, fx.ExtractorResult()) is Sealing.SEALED
    assert OfficeCryptoExtractor().unpack(fx.Sample(data=fx.oledoc.doc("x", None, fx.PID)), ctx,
                                          fx.ExtractorResult()) is Sealing.PLAIN
    # The walk: the encrypted container's own macro pass does not run on ciphertext; the child is read.
    node = fx.scan(sample.data, "e.docm")
    assert "xlm.macro_sheets" not in node.result.features
    assert node.children and node.children[0].result.features["vba.has_vba"] == 1
