"""RTF: objects as children, exploit classes, auto-update, header and obfuscation signs."""

from __future__ import annotations

import sys
from pathlib import Path

from maldoc.extractors.rtf import RtfExtractor, _ObjParser
from maldoc.olecompat import rtfobj

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx

PLAIN = b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 Hello \\b world\\b0 . See https://www.example.org/about\\par}"


def test_plain_rtf_is_quiet_but_measured() -> None:
    out = fx.run(RtfExtractor(), PLAIN, "a.rtf")
    f = out.features
    assert fx.rules(out) == set() and out.children == []
    assert f["rtf.objects"] == 0 and f["rtf.header_anomaly"] == 0 and f["rtf.control_words_per_kb"] > 0
    assert f["rtf.max_depth"] == 3
    assert out.urls == ["https://www.example.org/about"] and f["rtf.urls"] == 1


def test_package_object_with_executable_name_is_a_child() -> None:
    payload = b"MZ" + b"\0" * 300
    data = fx.rtf_with_object("Package", fx.package_native("update.exe", payload))
    out = fx.run(RtfExtractor(), data, "p.rtf")
    assert out.features["rtf.packages"] == 1 and out.features["rtf.package_risky"] == 1
    assert {"RTF_OBJECT", "RTF_PACKAGE", "OFFICE_PACKAGE_EXECUTABLE"} <= fx.rules(out)
    assert [(c.name, c.data) for c in out.children] == [("update.exe", payload)]


def test_ole2link_object() -> None:
    native = "http://203.0.113.5/doc.hta".encode("utf-16-le")
    out = fx.run(RtfExtractor(), fx.rtf_with_object("OLE2Link", native), "l.rtf")
    assert out.features["rtf.ole2link"] == 1 and "RTF_OLE2LINK" in fx.rules(out)
    assert "http://203.0.113.5/doc.hta" in out.urls


def test_equation_object_and_objupdate() -> None:
    data = fx.rtf_with_object("Equation.3", b"\x1c\x00" + b"\x41" * 60, extra="\\objupdate")
    out = fx.run(RtfExtractor(), data, "eq.rtf")
    assert out.features["rtf.equation"] == 1 and out.features["rtf.objupdate"] == 1
    assert {"RTF_EQUATION", "RTF_OBJUPDATE"} <= fx.rules(out)
    assert out.children and out.children[0].name.startswith("object0_Equation.3")


def test_header_anomaly() -> None:
    out = fx.run(RtfExtractor(), PLAIN.replace(b"{\\rtf1", b"{\\rtvpn", 1), "odd.rtf")
    assert out.features["rtf.header_anomaly"] == 1 and "RTF_HEADER_ANOMALY" in fx.rules(out)


def test_obfuscation_signs() -> None:
    deep = b"{\\rtf1 " + b"{" * 400 + b"x" + b"}" * 400 + b"}"
    out = fx.run(RtfExtractor(), deep, "deep.rtf")
    assert out.features["rtf.max_depth"] > 300 and "RTF_OBFUSCATION" in fx.rules(out)
    hexrun = b"{\\rtf1 " + b"41" * (1 << 20) + b"}"
    out = fx.run(RtfExtractor(), hexrun, "hex.rtf")
    assert out.features["rtf.max_hex_run_log2"] > 20 and "RTF_OBFUSCATION" in fx.rules(out)


def test_fast_parser_matches_rtfobj_on_quirky_hex() -> None:
    """Word drops an odd hex digit before \\'hh; our linear-time parser must agree with rtfobj."""
    data = fx.rtf_with_object("Package", fx.package_native("a.txt", b"hello" * 50))
    i = data.index(b"objdata ") + 20
    quirky = data[:i] + b"7\\'41" + data[i:]  # an extra digit, then a control symbol
    theirs, ours = rtfobj.RtfObjParser(quirky), _ObjParser(quirky)
    theirs.parse()
    ours.parse()
    assert [o.rawdata for o in theirs.objects] == [bytes(o.rawdata) for o in ours.objects]
