"""RTF: objects as children, exploit classes, auto-update, header and obfuscation signs."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from maldoc.extractors._rtf_scan import ObjectScanner
from maldoc.extractors.rtf import RtfExtractor, needs_object_parse
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


def _rtfobj(data: bytes) -> tuple[list, str | None]:
    parser = rtfobj.RtfObjParser(data)
    try:
        parser.parse()
    except Exception as exc:  # rtfobj's own failures are part of what must match
        return _objects(parser.objects), type(exc).__name__
    return _objects(parser.objects), None


def _scanner(data: bytes) -> tuple[list, str | None]:
    scanner = ObjectScanner(data)
    try:
        scanner.scan()
    except Exception as exc:
        return _objects(scanner.objects), type(exc).__name__
    return _objects(scanner.objects), None


def _objects(objects) -> list:
    return [(o.rawdata, o.class_name, o.is_package, o.filename, o.clsid) for o in objects]


def test_fast_parser_matches_rtfobj_on_quirky_hex() -> None:
    """Word drops an odd hex digit before \\'hh; our linear-time scanner must agree with rtfobj."""
    data = fx.rtf_with_object("Package", fx.package_native("a.txt", b"hello" * 50))
    i = data.index(b"objdata ") + 20
    quirky = data[:i] + b"7\\'41" + data[i:]  # an extra digit, then a control symbol
    assert _scanner(quirky) == _rtfobj(quirky)
    assert _scanner(quirky)[0][0][2]  # the package is still found


PACKAGE_RTF = fx.rtf_with_object("Package", fx.package_native("a.txt", b"hello" * 20))
QUIRKS = [
    # destinations: same-level reopen closes objdata, nested destinations inside objdata, unbalanced braces
    b"{\\rtf1{\\object{\\*\\objdata 0102\\objclass x 0304}}}",
    b"{\\rtf1{\\object{\\*\\objdata 01{\\fonttbl{\\f0 x;}}02{03}04}}}",
    b"}}{\\objdata 0102}{\\objdata 0a0b}}}{{\\objdata 0c}",
    b"\\objdata 0102 no group closes it",
    b"{\\rtf1{\\objdata 01\\'4102\\'\\'03\\'}",  # \\' eating a backslash and a brace
    b"{\\rtf1{\\objdata 0\\'{}1}}",
    # \\bin: raw bytes (with braces) inside and outside objdata, negative and missing lengths, at the end
    b"{\\rtf1{\\objdata 01\\bin3 {}\\02}\\bin2 }}{\\objdata 05}}",
    b"{\\rtf1{\\objdata 01\\bin-4 02\\bin 03}}",
    b"{\\rtf1{\\objdata 01}\\bin",
    # control words: 250-letter limit, numbers cut by rtfobj's 254-byte window, unknown words in hex
    b"{\\rtf1{\\objdata 01\\" + b"a" * 251 + b" 02}}",
    b"{\\rtf1{\\objdata 01\\foo" + b"7" * 300 + b" 02}}",
    b"{\\rtf1{\\objdata" + b"1" * 300 + b" 02}{\\objdata 0\\bin" + b"0" * 260 + b"2 ab}}",
    b"{\\rtf1{\\objdata 01\\objdatax 02\\par\\u-5 03}}",
    b"{\\rtf1 {\\info{\\title t}}{\\objdata 0102}\\",
    PACKAGE_RTF,
    PACKAGE_RTF[:-40],
]


def test_scanner_matches_rtfobj_on_quirks() -> None:
    for data in QUIRKS:
        assert _scanner(data) == _rtfobj(data), data[:80]


def test_scanner_matches_rtfobj_on_mutated_documents() -> None:
    import random

    rng = random.Random(7)
    pieces = [b"{", b"}", b"}}}", b"{{", b"\\objdata ", b"\\object", b"\\bin3 ", b"\\bin", b"\\'4", b"\\'", b"\\",
              b"\\*", b"{\\*\\objclass Word}", b"{\\fonttbl{\\f0 x;}}", b"{\\object\\objdata 0}", b"01", b"0", b" ",
              b"\\par ", b"\\" + b"a" * 251, b"\\foo" + b"7" * 300]
    for i in range(1500):
        data = bytearray(PACKAGE_RTF if i % 2 else b"{\\rtf1{\\object{\\*\\objdata 0102}}}")
        for _ in range(rng.randint(1, 6)):
            at = rng.randint(0, len(data))
            if rng.random() < 0.7:
                data[at:at] = rng.choice(pieces)
            else:
                del data[at:at + rng.randint(1, 50)]
        assert _scanner(bytes(data)) == _rtfobj(bytes(data)), bytes(data[:80])


def test_plain_rtf_skips_the_object_scan() -> None:
    out = fx.run(RtfExtractor(), PLAIN, "a.rtf")
    assert out.features["rtf.triage_skipped"] == 1 and out.features["rtf.objects"] == 0
    data = fx.rtf_with_object("Package", fx.package_native("a.txt", b"x" * 40))
    assert fx.run(RtfExtractor(), data, "p.rtf").features["rtf.triage_skipped"] == 0
    for tricky in (PLAIN + b"\\", PLAIN[:-1] + b"\\" + b"q" * 260 + b"}", PLAIN[:-1] + b"\\bin4 {{{{}"):
        assert needs_object_parse(tricky)  # rtfobj's parser could fail on them: same path as before


@pytest.mark.corpus
def test_corpus_rtf_objects_match_rtfobj(corpus_items) -> None:
    rtfs = [i for i in corpus_items if i.get("format") == "rtf"]
    for item in rtfs:
        data = item.read()
        assert _scanner(data) == _rtfobj(data), item.sha256
    assert rtfs


def test_hex_run_measure_is_the_longest_run_of_4096_or_more() -> None:
    runs = b"ab" * 1000 + b" x " + b"0123456789abcdef" * 300 + b" y " + b"f" * 4095
    out = fx.run(RtfExtractor(), b"{\\rtf1 " + runs + b"}", "h.rtf")
    assert out.features["rtf.max_hex_run_log2"] == math.log2(16 * 300 + 1)
    out = fx.run(RtfExtractor(), b"{\\rtf1 " + b"f" * 4095 + b"}", "h.rtf")
    assert out.features["rtf.max_hex_run_log2"] == 0
