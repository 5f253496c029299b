"""VBA: source analysis (every category and statistic) and extraction from every container."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from maldoc.extractor import Options
from maldoc.extractors import _office_vba as analysis
from maldoc.extractors.vba import VbaExtractor
from maldoc.types import ExtractorResult, Sealing

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx


def found(code: str) -> dict[str, str]:
    return dict(analysis.analyze(code).findings)


@pytest.mark.parametrize(("code", "rule", "feature"), [
    ("Sub Document_Open()\nEnd Sub", "VBA_AUTOEXEC", "autoexec_open"),
    ("Sub Workbook_BeforeClose(c As Boolean)\nEnd Sub", "VBA_AUTOEXEC", "autoexec_close"),
    ("Private Sub InkPicture1_Painted(ByVal h As Long)\nEnd Sub", "VBA_AUTOEXEC", "autoexec_event"),
    ('x = Shell("cmd.exe /c calc", vbHide)', "VBA_SHELL", "kw_shell"),
    ('CreateObject("WScript.Shell").Run "calc"', "VBA_SHELL", "kw_shell"),
    ('c = "powershell -NoProfile -EncodedCommand AAAA"', "VBA_POWERSHELL", "kw_powershell"),
    ('URLDownloadToFileA 0, u, f, 0, 0', "VBA_DOWNLOAD", "kw_download"),
    ('Set h = CreateObject("MSXML2.ServerXMLHTTP.6.0")', "VBA_DOWNLOAD", "kw_download"),
    ('Open f For Binary As #1\nPut #1, , b', "VBA_FILE_WRITE", "kw_file_write"),
    ('s.RegWrite "HKCU\\Software\\x", 1', "VBA_REGISTRY", "kw_registry"),
    ('Set f = CreateObject("Scripting.FileSystemObject")', "VBA_COM_OBJECT", "kw_com_object"),
    ('Set w = GetObject("winmgmts:\\\\.\\root\\cimv2:Win32_Process")', "VBA_WMI", "kw_wmi"),
    ('If Application.RecentFiles.Count < 3 Then Exit Sub', "VBA_ANTI_ANALYSIS", "kw_anti_analysis"),
    ('p = VirtualAlloc(0, n, &H3000, &H40)\nRtlMoveMemory p, b, n', "VBA_INJECTION", "kw_injection"),
    ('ThisDocument.VBProject.VBComponents(1).CodeModule.AddFromString s', "VBA_SELF_MODIFY", "kw_self_modify"),
    ('Private Declare PtrSafe Function Sleep Lib "kernel32" (ByVal ms As Long) As Long', "VBA_WIN32_API",
     "declares"),
    ('u = "https://cdn.example.net/a.png"', "VBA_URL", "urls"),
    ('h = "10.20.30.40"', "VBA_IP_ADDRESS", "ips"),
    ('f = Environ("TEMP") & "\\update.vbs"', "VBA_EXECUTABLE_NAME", "exe_names"),
    ('s = "68747470733a2f2f6578616d706c652e636f6d"', "VBA_ENCODED_STRINGS", "hex_strings"),
    ('s = "aHR0cHM6Ly9leGFtcGxlLmNvbS9wYXlsb2Fk"', "VBA_ENCODED_STRINGS", "base64_strings"),
])
def test_each_category_has_a_finding_and_a_feature(code: str, rule: str, feature: str) -> None:
    result = analysis.analyze(code)
    assert rule in dict(result.findings), result.findings
    assert result.features[feature] > 0
    assert rule not in found(fx.BENIGN_VBA)


def test_benign_macro_raises_nothing_but_the_statistics() -> None:
    result = analysis.analyze(fx.BENIGN_VBA)
    assert result.findings == []
    assert result.features["comment_ratio"] > 0
    assert result.features["autoexec"] == 0
    assert set(analysis.FEATURES) <= set(result.features)


def test_mraptor_flags_and_finding() -> None:
    result = analysis.analyze(fx.MALICIOUS_VBA)
    f = result.features
    assert (f["mraptor_autoexec"], f["mraptor_execute"], f["mraptor_suspicious"]) == (1, 1, 1)
    assert "VBA_MRAPTOR" in dict(result.findings)
    writer = analysis.analyze("Sub AutoOpen()\nKill \"c:\\x\"\nEnd Sub")
    assert writer.features["mraptor_write"] == 1
    assert "VBA_MRAPTOR" not in found("Sub Helper()\nShell \"x\"\nEnd Sub")  # no trigger: X alone


def test_encoded_keywords_are_decoded_before_matching() -> None:
    hidden = b"powershell -enc x".hex()
    assert "VBA_POWERSHELL" in found(f's = "{hidden}"')
    assert "VBA_DOWNLOAD" in found('Set x = CreateObject(StrReverse("PTTHLMX.2LMXSM"))')


def test_obfuscation_statistics() -> None:
    chars = " & ".join(f"Chr({65 + i % 26})" for i in range(80))
    reversed_ = 'x = StrReverse("exe.dmc")'
    long_literal = 's = "' + "A" * 1500 + '"'
    names = "\n".join(f"Dim xq{c}zrtkpw{c} As String" for c in "abcdefghijkl")
    f = analysis.analyze("\n".join(["s = " + chars, reversed_, long_literal, names,
                                    'y = Split(Replace(Mid(s, 2), "a", "b"), ",")', "n = &H40 + &HFF"])).features
    assert f["chr_calls"] == 80 and f["chr_per_kb"] > 4
    assert f["concat_per_line"] > 1
    assert f["strreverse_calls"] == 1 and f["split_calls"] == 1 and f["replace_calls"] == 1 and f["mid_calls"] == 1
    assert f["hex_literals"] == 2
    assert f["longest_string"] == 1500
    assert f["random_identifiers"] >= 0.5 and f["identifier_entropy"] > 2.5
    assert f["string_entropy"] > 0
    assert "VBA_OBFUSCATION" in found("\n".join([chars, reversed_]))
    assert "VBA_OBFUSCATION" not in found(fx.BENIGN_VBA)


def test_ole_doc_with_vba_project() -> None:
    out = fx.run(VbaExtractor(), fx.doc_with_vba(fx.MALICIOUS_VBA), "invoice.doc")
    f = out.features
    assert f["vba.has_vba"] == 1 and f["vba.modules"] == 2 and f["vba.projects"] == 1
    assert f["vba.code_bytes_log2"] > 5
    assert {"VBA_MACROS", "VBA_AUTOEXEC", "VBA_MRAPTOR", "VBA_POWERSHELL"} <= fx.rules(out)
    assert "http://evil.example.com/payload.exe" in out.urls
    assert out.macros == []  # kept only on request


def test_macro_source_kept_for_analysts_only_on_request() -> None:
    out = fx.run(VbaExtractor(), fx.doc_with_vba(fx.MALICIOUS_VBA), "a.doc", options=Options(keep_macros=True))
    names = {m.name for m in out.macros}
    assert any("Module1" in n for n in names)
    assert any("URLDownload" in m.code or "XMLHTTP" in m.code for m in out.macros)
    assert all(m.kind == "vba" for m in out.macros)


def test_benign_ole_without_macros_says_no_vba() -> None:
    out = fx.run(VbaExtractor(), fx.oledoc.doc("plain text", None, fx.PID), "plain.doc")
    assert out.features["vba.has_vba"] == 0
    assert fx.rules(out) == set()


@pytest.mark.parametrize("builder", [fx.docm, lambda c: fx.word2003_xml(fx.vba_bin(c)),
                                     lambda c: fx.mhtml(fx.vba_bin(c))], ids=["docm", "word2003xml", "mhtml"])
def test_vba_in_every_container(builder) -> None:
    out = fx.run(VbaExtractor(), builder(fx.MALICIOUS_VBA), "x")
    assert out.features["vba.has_vba"] == 1, out.errors
    assert {"VBA_AUTOEXEC", "VBA_MRAPTOR"} <= fx.rules(out)


def test_encrypted_document_is_never_no_macros() -> None:
    out = fx.run(VbaExtractor(), fx.oledoc.doc("x", None, fx.PID), "locked.doc", sealed=Sealing.SEALED)
    assert not any(k.startswith("vba.") for k in out.features)


def test_stomped_module_pcode_strings_missing_from_source() -> None:
    from maldoc.samples import cfb, ovba

    tree = ovba.project_tree(fx.modules("Sub AutoOpen()\nEnd Sub"), project_id=fx.PID)
    vba = dict(tree["VBA"])
    # A module stream whose p-code area (before the source) is large and whose source is empty.
    pcode = b"\x01\x16\x03\x00" + b"http://stomped.example/x.exe\x00" * 40
    empty = ovba.compress(b'Attribute VB_Name = "Module1"\r\n')
    vba["Module1"] = pcode + empty
    vba["dir"] = ovba.compress(_with_text_offset(ovba.decompress(vba["dir"]), "Module1", len(pcode)))
    data = cfb.write({"Macros": {**tree, "VBA": vba}, "WordDocument": b"\0" * 512})
    out = fx.run(VbaExtractor(), data, "stomped.doc")
    assert out.features["vba.stomping"] == 1, out.errors
    assert "VBA_STOMPING" in fx.rules(out)


def _with_text_offset(dir_stream: bytes, module: str, offset: int) -> bytes:
    """Patch MODULEOFFSET (record 0x0031) of `module` in a decompressed dir stream."""
    import struct

    at = dir_stream.index(module.encode())
    rec = dir_stream.index(struct.pack("<HI", 0x0031, 4), at)
    return dir_stream[:rec + 6] + struct.pack("<I", offset) + dir_stream[rec + 10:]


def _full_pass(monkeypatch, data: bytes, out: ExtractorResult | None = None) -> ExtractorResult:
    from maldoc.extractors import vba

    monkeypatch.setattr(vba, "_may_hold_vba", lambda _data, _sample=None: True)
    result = fx.run(VbaExtractor(), data, "x.doc", out=out)
    monkeypatch.undo()
    return result


def test_ole_without_vba_storage_skips_the_vba_pass_with_the_same_answer(monkeypatch) -> None:
    for data in (fx.oledoc.doc("plain text", None, fx.PID), fx.xls(fx.workbook())):
        quick = fx.run(VbaExtractor(), data, "x.doc")
        full = _full_pass(monkeypatch, data)
        assert quick.features.pop("vba.triage_skipped") == 1 and full.features.pop("vba.triage_skipped") == 0
        assert quick.features == full.features and fx.rules(quick) == fx.rules(full) == set()
    assert fx.run(VbaExtractor(), fx.doc_with_vba("Sub X()\nEnd Sub"), "m.doc").features["vba.triage_skipped"] == 0


def test_skipped_encrypted_document_still_writes_nothing() -> None:
    out = fx.run(VbaExtractor(), fx.oledoc.doc("x", None, fx.PID), "locked.doc", sealed=Sealing.OPENED)
    assert not any(k.startswith("vba.") for k in out.features)


def test_vba_marker_split_at_a_sector_boundary_is_not_skipped() -> None:
    from maldoc.extractors.vba import _may_hold_vba

    plain = fx.oledoc.doc("plain text", None, fx.PID)
    assert not _may_hold_vba(plain)
    for k in range(1, 9):  # either half of b"Attribut\x00" keeps the file in the full pass
        marker = b"Attribut\x00"
        assert _may_hold_vba(plain + b"\0" * 7 + marker[:k]) or _may_hold_vba(plain + marker[k:])
        assert _may_hold_vba(plain + marker[:k] + b"\0" * 64 + marker[k:])
    assert _may_hold_vba(fx.cfb.write({"PowerPoint Document": b"\0" * 64, "Current User": b"\0" * 64}))
