"""OLE compound files: indicators, embedded objects and packages as children, links, DDE, URLs."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from maldoc.extractors.ole import OleExtractor
from maldoc.samples import cfb, oledoc
from maldoc.types import Flag

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx

COMPOBJ_PACKAGE = b"\x01\x00\xfe\xff\x03\x0a\x00\x00" + b"\xff" * 4 + b"\0" * 16 + \
    struct.pack("<I", 8) + b"Package\0"
EQUATION_CLSID = "{0002CE02-0000-0000-C000-000000000046}"


def word_with(extra: dict, text: str = "Hello", **kwargs) -> bytes:
    tree = {"WordDocument": oledoc._fib(len(text)) + text.encode() + b"\r", "1Table": b"\0" * 512, **extra}
    return cfb.write(tree, root_clsid=oledoc.CLSID_WORD, **kwargs)


def test_plain_word_document_indicators() -> None:
    out = fx.run(OleExtractor(), oledoc.doc("Quarterly report", None, fx.PID), "a.doc")
    f = out.features
    assert f["ole.app_word"] == 1 and f["ole.app_excel"] == 0 and f["ole.vba_storage"] == 0
    assert f["ole.streams"] >= 2 and f["ole.embedded_objects"] == 0
    assert fx.rules(out) == set() and out.children == []


def test_vba_storage_indicator() -> None:
    out = fx.run(OleExtractor(), fx.doc_with_vba("Sub X()\nEnd Sub"), "m.doc")
    assert out.features["ole.vba_storage"] == 1


def test_package_object_is_a_child_with_its_name_and_flagged() -> None:
    payload = b"MZ" + b"\0" * 200
    obj = {"\x01Ole10Native": fx.ole10native("invoice.exe", payload), "\x01CompObj": COMPOBJ_PACKAGE,
           "\x01Ole": b"\x01\0\0\x02" + b"\0" * 16}
    data = word_with({"ObjectPool": {"_1234": obj}})
    out = fx.run(OleExtractor(), data, "bait.doc")
    f = out.features
    assert f["ole.objectpool"] == 1 and f["ole.embedded_objects"] == 1
    assert f["ole.packages"] == 1 and f["ole.package_risky"] == 1
    assert [c.name for c in out.children] == ["invoice.exe"]
    assert out.children[0].data == payload
    assert {"OLE_EMBEDDED_OBJECT", "OLE_PACKAGE", "OFFICE_PACKAGE_EXECUTABLE"} <= fx.rules(out)


def test_embedded_ooxml_package_stream_is_a_child() -> None:
    inner = fx.docm("Sub AutoOpen()\nShell \"calc\"\nEnd Sub")
    data = word_with({"ObjectPool": {"_1": {"Package": inner, "\x01CompObj": b"\0" * 32}}})
    out = fx.run(OleExtractor(), data, "outer.doc")
    assert out.features["ole.package_streams"] == 1
    assert out.children[0].data == inner and out.children[0].name.endswith("Package")


def test_equation_editor_object() -> None:
    data = word_with({"ObjectPool": {"_9": {"Equation Native": b"\x1c\0" + b"A" * 40}}},
                     clsids={"ObjectPool/_9": EQUATION_CLSID})
    out = fx.run(OleExtractor(), data, "eq.doc")
    assert out.features["ole.equation"] >= 1
    assert "OLE_EQUATION" in fx.rules(out)


def test_flash_object() -> None:
    data = word_with({"ObjectPool": {"_2": {"Contents": b"CWS\x09" + b"\0" * 64}}})
    out = fx.run(OleExtractor(), data, "f.doc")
    assert out.features["ole.flash"] == 1 and "OLE_FLASH" in fx.rules(out)


def test_ole_link_moniker_and_urls() -> None:
    url = "http://203.0.113.9/template.hta"
    link = struct.pack("<II", 0x02000001, 1) + b"\0" * 12 + url.encode("utf-16-le") + b"\0\0"
    data = word_with({"ObjectPool": {"_3": {"\x01Ole": link}}})
    out = fx.run(OleExtractor(), data, "l.doc")
    assert out.features["ole.ole_links"] == 1 and "OLE_LINK" in fx.rules(out)
    assert url in out.urls and out.features["ole.urls"] >= 1


def test_dde_field_in_word_text() -> None:
    data = word_with({}, text='\x13 DDEAUTO c:\\windows\\system32\\cmd.exe "/k calc" \x14\x15')
    out = fx.run(OleExtractor(), data, "dde.doc")
    assert out.features["ole.dde"] == 1 and "OFFICE_DDE" in fx.rules(out)


def test_broken_compound_file_is_flagged() -> None:
    data = oledoc.doc("x" * 5000, None, fx.PID)
    out = fx.run(OleExtractor(), data[:700], "cut.doc")
    assert out.flags & {Flag.TRUNCATED, Flag.PARSE_ERROR}
    assert out.errors and out.errors[0].startswith("ole: unreadable")


def _urls_by_regex(data: bytes, limit: int = 500) -> list[str]:
    """The scan `_urls` replaced: two case-insensitive regexes over the whole file."""
    import re

    from maldoc.extractors.ole import URL_STOP
    from maldoc.extractors.urls import clean_url, is_namespace

    ascii_re = re.compile(rb"(?i)(?:https?|ftps?|file)://[\x21-\x7e]{3,1000}")
    utf16_re = re.compile(rb"(?i)(?:h\x00t\x00t\x00p\x00(?:s\x00)?|f\x00t\x00p\x00):\x00/\x00/\x00"
                          rb"(?:[\x21-\x7e]\x00){3,1000}")
    found: dict[str, None] = {}
    for pattern, encoding in ((ascii_re, "latin-1"), (utf16_re, "utf-16-le")):
        for m in pattern.finditer(data):
            found[m.group().decode(encoding, "replace")] = None
            if len(found) >= limit:
                break
    urls = [clean_url(URL_STOP.split(raw, 1)[0]) for raw in found]
    return list(dict.fromkeys(u for u in urls if len(u) > 10 and not is_namespace(u)))


def test_url_scan_matches_the_regex_scan_it_replaced() -> None:
    import random

    from maldoc.extractors.ole import _urls

    rng = random.Random(3)
    pieces = [b"http://", b"HTTPS://", b"ftp://", b"FtPs://", b"file://", b"://", b"xhttps://", b"a", b"example.com/",
              b"\x00", b" ", b"http", b"s://", "http://u16.example/x".encode("utf-16-le"),
              "HTTPS://ab".encode("utf-16-le"), ":/".encode("utf-16-le"), b"x" * 998, b"ab",
              "ftp://".encode("utf-16-le"), b"\x00h\x00t"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        assert _urls(data) == _urls_by_regex(data), data[:80]
        assert _urls(data, 3) == _urls_by_regex(data, 3)
