"""PDF helpers in isolation: bounded filters, the raw keyword scan, JavaScript statistics."""

from __future__ import annotations

import zlib

from pdfminer.psparser import LIT

from maldoc.extractors import _pdf_filters as filters
from maldoc.extractors import _pdf_js, _pdf_raw


def test_inflate_stops_at_the_cap():
    data, status = filters.inflate(zlib.compress(b"\x00" * (4 << 20)), 1000)
    assert len(data) == 1000 and status == filters.CAPPED


def test_inflate_keeps_the_good_part_of_a_corrupt_stream():
    blob = zlib.compress(b"hello world" * 1000)
    data, status = filters.inflate(blob[: len(blob) // 2] + b"\xff" * 50, 1 << 20)
    assert data and (b"hello world" * 1000).startswith(data) and status == filters.OK


def test_inflate_of_garbage_is_an_error():
    assert filters.inflate(b"not zlib", 100) == (b"", filters.ERROR)


def test_filter_chain_and_unsupported():
    hexed = zlib.compress(b"payload").hex().encode() + b">"
    attrs = {"Filter": [LIT("ASCIIHexDecode"), LIT("FlateDecode")]}
    assert filters.decode(attrs, hexed, 100) == (b"payload", filters.OK)
    assert filters.decode({"Filter": LIT("DCTDecode")}, b"\xff\xd8", 100)[1] == filters.UNSUPPORTED
    assert filters.decode({"Filter": LIT("Bogus")}, b"x", 100)[1] == filters.UNSUPPORTED
    assert filters.decode({"Filter": [LIT("AHx")] * 20}, b"00", 100)[1] == filters.UNSUPPORTED
    assert filters.decode({}, b"plain", 100) == (b"plain", filters.OK)


def test_runlength_is_bounded():
    bomb = b"\x81A" * 1000  # each pair expands to 128 bytes
    data, status = filters.decode({"Filter": LIT("RunLengthDecode")}, bomb, 500)
    assert len(data) == 500 and status == filters.CAPPED
    assert filters.decode({"Filter": LIT("RL")}, b"\x02abc\x80", 100) == (b"abc", filters.OK)


def test_lzw_is_bounded():
    # 9-bit codes, most significant bit first: clear-table (256), then 'A' (65) repeated
    bits = "".join(format(c, "09b") for c in [256] + [65] * 200)
    bits += "0" * (-len(bits) % 8)
    blob = int(bits, 2).to_bytes((len(bits) + 7) // 8, "big")
    data, status = filters.decode({"Filter": LIT("LZWDecode")}, blob, 50)
    assert data == b"A" * 50 and status == filters.CAPPED


def test_png_predictor_applied():
    rows = b"\x00abc\x00def"  # predictor 10 (None) on each row of 3 columns
    attrs = {"Filter": LIT("FlateDecode"), "DecodeParms": {"Predictor": 12, "Columns": 3}}
    assert filters.decode(attrs, zlib.compress(rows), 100)[0] == b"abcdef"


def test_raw_scan_counts_whole_names_only():
    r = _pdf_raw.scan(b"%PDF-1.6\n<< /JS 1 /JSON 2 /JavaScripts 3 /AA /AAx >> %%EOF")
    assert r.counts["JS"] == 1 and r.counts["JavaScript"] == 0 and r.counts["AA"] == 1
    assert r.version == 1.6 and r.eof_count == 1


def test_raw_scan_decodes_hex_names():
    r = _pdf_raw.scan(b"%PDF-1.1\n/#4f#70#65#6eAction /Launc#68 /Font#20Name")
    assert r.counts["OpenAction"] == 1 and r.counts["Launch"] == 1
    assert r.hex_names == 3 and sorted(r.hex_keywords) == ["Launch", "OpenAction"]


def test_raw_scan_startxref_accepts_header_relative_offsets():
    body = b"%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer\n<<>>\nstartxref\n9\n%%EOF"
    assert _pdf_raw.scan(body).startxref_valid
    assert _pdf_raw.scan(b"JUNK" + body).startxref_valid  # offset counted from the header
    assert not _pdf_raw.scan(body.replace(b"startxref\n9", b"startxref\n3")).startxref_valid


def test_js_statistics_and_obfuscation_verdict():
    plain = _pdf_js.analyse(["AFNumber_Format(2, 0, 0, 0, '', true);"])
    assert plain.scripts == 1 and not plain.obfuscated and plain.eval == 0
    packed = _pdf_js.analyse(['var p = "' + "%u9090" * 10 + '"; eval(String.fromCharCode(97));'])
    assert packed.obfuscated and packed.spray == 10 and packed.fromcharcode == 1
    assert packed.longest_string == 60
    assert _pdf_js.analyse([]).length == 0


def test_js_exploit_api_spacing_variants():
    s = _pdf_js.analyse(["Collab . getIcon(x); media.newPlayer(null); this.getAnnots({nPage: 0});"])
    assert s.exploit_apis == ("Collab.getIcon", "getAnnots", "media.newPlayer")


def test_text_of_pdf_strings():
    assert _pdf_js.text_of(b"\xfe\xff\x00a\x00b") == "ab"
    assert _pdf_js.text_of(b"\xef\xbb\xbfx") == "x"
    assert _pdf_js.text_of(b"caf\xe9") == "café"
