"""PDF extractor: every finding and feature group, on PDFs written here byte by byte."""

from __future__ import annotations

import re
import struct
import zlib
from hashlib import md5

import pytest
from pdfminer.arcfour import Arcfour
from pdfminer.pdfdocument import PDFStandardSecurityHandler

from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.extractors._pdf_objects import Lazy, walk
from maldoc.extractors._pdf_raw import KEYWORDS
from maldoc.limits import Limits
from maldoc.types import Flag, Node

CATALOG = b"<< /Type /Catalog /Pages 2 0 R %s >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] %s >>"
PY_ERRORS = re.compile(r"\b(KeyError|TypeError|AttributeError|IndexError|ValueError|NameError|UnboundLocalError|"
                       r"AssertionError|ZeroDivisionError|RecursionError|OverflowError)\b")


def stream(dict_body: bytes, data: bytes, flate: bool = False) -> bytes:
    if flate:
        data = zlib.compress(data)
        dict_body += b" /Filter /FlateDecode"
    return b"<< " + dict_body + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def build(bodies: list[bytes], *, trailer: bytes = b"", header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
          tail: bytes = b"", xref_shift: int = 0) -> bytes:
    """Objects 1..n from `bodies`, a classic xref table and a trailer rooted at object 1."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(bodies) + 1) + trailer
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % (xref + xref_shift)
    return bytes(out) + tail


def doc(catalog_extra: bytes = b"", page_extra: bytes = b"", *more: bytes, **kw) -> bytes:
    """A one-page document; `more` become objects 4, 5, ..."""
    return build([CATALOG % catalog_extra, PAGES, PAGE % page_extra, *more], **kw)


def scan(data: bytes, **kw) -> Node:
    node = analyze(data, "t.pdf", **kw)
    for sub in node.walk():
        assert not any(PY_ERRORS.search(e) for e in sub.result.errors), sub.result.errors
    return node


def rules(node: Node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def feats(node: Node) -> dict[str, float]:
    return node.result.features


def hexstr(data: bytes) -> bytes:
    return b"<" + data.hex().encode() + b">"


# --- structure ------------------------------------------------------------------------------

def test_clean_pdf_has_structure_features_and_no_findings():
    node = scan(doc())
    f = feats(node)
    assert node.file_type == "pdf"
    assert rules(node) == set()
    assert f["pdf.version"] == 1.7
    assert f["pdf.header_offset"] == 0
    assert f["pdf.eof_count"] == 1
    assert f["pdf.bytes_after_eof"] == 0
    assert f["pdf.objects"] == 3 and f["pdf.objects_walked"] == 3
    assert f["pdf.endobj_diff"] == 0 and f["pdf.endstream_diff"] == 0
    assert f["pdf.xref_tables"] == 1 and f["pdf.trailers"] == 1 and f["pdf.startxref"] == 1
    assert f["pdf.startxref_valid"] == 1
    assert f["pdf.pages"] == 1
    assert f["pdf.walk_complete"] == 1
    assert all(f[f"pdf.kw_{k.lower()}"] == 0 for k in KEYWORDS)
    assert f["url.count"] == 0  # the URL analyser ran: zero, not missing


def test_header_offset_and_data_after_eof():
    node = scan(doc(header=b"MZ" + b"\x00" * 98 + b"%PDF-1.4\n", tail=b"A" * 3000))
    f = feats(node)
    assert f["pdf.header_offset"] == 100
    assert f["pdf.version"] == 1.4
    assert f["pdf.bytes_after_eof"] == 3000
    assert {"PDF_HEADER_OFFSET", "PDF_DATA_AFTER_EOF"} <= rules(node)


def test_small_trailing_garbage_is_not_a_finding():
    node = scan(doc(tail=b"\r\n\x00junk"))
    assert feats(node)["pdf.bytes_after_eof"] == 4
    assert "PDF_DATA_AFTER_EOF" not in rules(node)


def test_startxref_pointing_nowhere_is_malformed():
    node = scan(doc(xref_shift=7))
    assert feats(node)["pdf.startxref_valid"] == 0
    assert "PDF_MALFORMED" in rules(node)


def test_incremental_updates_count_eofs():
    first = doc()
    update = b"4 0 obj\n<< /S /URI /URI (https://example.org/) >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    f = feats(scan(first + update))
    assert f["pdf.eof_count"] == 2 and f["pdf.trailers"] == 2


def test_stream_entropy_features():
    noise = bytes((i * 7919 + (i >> 3) * 31) % 256 for i in range(8192))
    f = feats(scan(doc(b"", b"/Contents 4 0 R", stream(b"", noise), stream(b"", b"A" * 4096))))
    assert f["pdf.streams"] == 2
    assert f["pdf.stream_entropy_max"] > 7.5
    assert f["pdf.stream_entropy_mean"] < f["pdf.stream_entropy_max"]
    assert 0.5 < f["pdf.stream_bytes_ratio"] < 1


# --- keywords -------------------------------------------------------------------------------

def test_every_keyword_is_counted():
    names = b" ".join(b"/K%d /%s" % (i, k.encode()) for i, k in enumerate(KEYWORDS))
    f = feats(scan(doc(b"", b"", b"<< " + names + b" /JSON 1 >>")))
    for k in KEYWORDS:
        assert f[f"pdf.kw_{k.lower()}"] == 1, k  # /JSON is not /JS


def test_hex_escaped_keyword_is_counted_and_flagged():
    node = scan(doc(b"/OpenAction 4 0 R", b"", b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"))
    f = feats(node)
    assert f["pdf.kw_javascript"] == 1 and f["pdf.kw_js"] == 1
    assert f["pdf.hex_keywords"] == 2
    assert "PDF_OBFUSCATED_NAME" in rules(node)
    assert "PDF_AUTO_JAVASCRIPT" in rules(node)  # the walk decodes the names too


def test_hex_escaped_font_name_is_not_a_finding():
    node = scan(doc(b"", b"", b"<< /Type /Font /BaseFont /Arial#20Bold >>"))
    assert feats(node)["pdf.hex_names"] == 1
    assert feats(node)["pdf.hex_keywords"] == 0
    assert "PDF_OBFUSCATED_NAME" not in rules(node)


def objstm(objects: list[tuple[int, bytes]]) -> bytes:
    header = b" ".join(b"%d %d" % (num, sum(len(b) + 1 for _, b in objects[:i])) for i, (num, _) in enumerate(objects))
    body = b"\n".join(b for _, b in objects) + b"\n"
    return stream(b"/Type /ObjStm /N %d /First %d" % (len(objects), len(header) + 1), header + b"\n" + body, True)


def test_javascript_hidden_in_object_stream():
    hidden = objstm([(5, b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"), (6, b"<< /Foo /Bar >>")])
    node = scan(doc(b"/OpenAction 5 0 R", b"", hidden))
    f = feats(node)
    assert f["pdf.kw_objstm"] == 1
    assert f["pdf.kw_javascript"] == 1 and f["pdf.kw_js"] == 1  # counted inside the inflated stream
    assert f["pdf.objstm_objects"] == 2
    assert f["pdf.js_scripts"] == 1 and f["pdf.openaction_js"] == 1
    assert {"PDF_JAVASCRIPT", "PDF_AUTO_JAVASCRIPT"} <= rules(node)


# --- JavaScript -----------------------------------------------------------------------------

def test_javascript_in_string_is_a_low_finding_only():
    node = scan(doc(b"", b"", b"<< /S /JavaScript /JS (AFNumber_Format\\(2, 0\\);) >>"))
    assert rules(node) == {"PDF_JAVASCRIPT"}
    assert feats(node)["pdf.js_scripts"] == 1
    assert feats(node)["pdf.js_length"] == len("AFNumber_Format(2, 0);")
    assert feats(node)["pdf.auto_js"] == 0


def test_javascript_in_flate_stream_with_statistics():
    js = (b'var a = "' + b"\\x41" * 300 + b'"; var b = "%u4141%u4242"; '
          b"var c = String.fromCharCode(101, 118, 97, 108); eval(unescape(a)); "
          b'app.setTimeOut("go()", 100); var u = "http://203.0.113.9/load.exe";')
    node = scan(doc(b"/OpenAction 4 0 R", b"", b"<< /S /JavaScript /JS 5 0 R >>", stream(b"", js, True)))
    f = feats(node)
    assert f["pdf.js_scripts"] == 1 and f["pdf.js_length"] == len(js)
    assert f["pdf.js_eval"] == 1 and f["pdf.js_unescape"] == 1
    assert f["pdf.js_fromcharcode"] == 1 and f["pdf.js_settimeout"] == 1
    assert f["pdf.js_hex_escape_density"] > 100
    assert f["pdf.js_unicode_escape_density"] > 0
    assert f["pdf.js_longest_string"] == 1200
    assert 2 < f["pdf.js_entropy"] < 6
    assert {"PDF_JAVASCRIPT", "PDF_AUTO_JAVASCRIPT", "PDF_JS_OBFUSCATED"} <= rules(node)
    assert "http://203.0.113.9/load.exe" in node.result.urls  # URLs inside scripts reach the URL analyser
    assert {"URL_IP_HOST", "URL_EXECUTABLE_PATH"} <= rules(node)


def test_utf16_javascript_string():
    js = "app.alert('hi');".encode("utf-16-be")
    node = scan(doc(b"", b"", b"<< /S /JavaScript /JS " + hexstr(b"\xfe\xff" + js) + b" >>"))
    assert feats(node)["pdf.js_length"] == len("app.alert('hi');")


def test_exploit_api_and_heap_spray():
    js = b'var s = unescape("%u0c0c%u0c0c"); Collab.collectEmailInfo({msg: s}); util.printf("%45000f", 1);'
    node = scan(doc(b"", b"", b"<< /S /JavaScript /JS 5 0 R >>", stream(b"", js)))
    f = feats(node)
    assert f["pdf.js_exploit_apis"] == 2 and f["pdf.js_spray"] == 2
    assert {"PDF_JS_EXPLOIT_API", "PDF_JS_SHELLCODE"} <= rules(node)


def test_page_open_trigger_runs_javascript_but_keystroke_does_not():
    auto = scan(doc(b"", b"/AA << /O << /S /JavaScript /JS (go\\(\\)) >> >>"))
    assert "PDF_AUTO_JAVASCRIPT" in rules(auto)
    assert feats(auto)["pdf.aa_triggers"] == 1 and feats(auto)["pdf.auto_js"] == 1
    field = scan(doc(b"", b"", b"<< /FT /Tx /AA << /K << /S /JavaScript /JS (AFNumber_Keystroke\\(\\)) >> >> >>"))
    assert "PDF_AUTO_JAVASCRIPT" not in rules(field)
    assert feats(field)["pdf.aa_triggers"] == 1


def test_openaction_next_chain_reaches_javascript_and_loops_end():
    node = scan(doc(b"/OpenAction 4 0 R", b"",
                    b"<< /S /GoTo /D [3 0 R /Fit] /Next 5 0 R >>",
                    b"<< /S /JavaScript /JS (x\\(\\)) /Next 4 0 R >>"))
    assert feats(node)["pdf.openaction_js"] == 1


def test_xfa_script():
    xdp = (b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template><script contentType="application/x-javascript">'
           b"var x = 1; app.alert(x);</script><script contentType=\"application/x-formcalc\">1+1</script>"
           b"</template></xdp:xdp>")
    node = scan(doc(b"/AcroForm << /XFA 4 0 R >>", b"", stream(b"", xdp, True)))
    f = feats(node)
    assert f["pdf.xfa_scripts"] == 1 and f["pdf.kw_xfa"] == 1 and f["pdf.kw_acroform"] == 1
    assert {"PDF_XFA_SCRIPT", "PDF_JAVASCRIPT"} <= rules(node)


# --- actions --------------------------------------------------------------------------------

def test_launch_action_with_command():
    node = scan(doc(b"/OpenAction 4 0 R", b"",
                    b"<< /S /Launch /Win << /F (cmd.exe) /P (/c powershell -enc AAAA) >> >>"))
    assert "PDF_LAUNCH_COMMAND" in rules(node)
    assert feats(node)["pdf.launch_actions"] == 1
    ev = next(f.evidence for f in node.result.findings if f.rule_id == "PDF_LAUNCH_COMMAND")
    assert ev.startswith("cmd.exe /c powershell")


def test_launch_action_of_a_document():
    node = scan(doc(b"", b"", b"<< /S /Launch /F << /Type /Filespec /F (other.pdf) >> >>"))
    assert "PDF_LAUNCH" in rules(node) and "PDF_LAUNCH_COMMAND" not in rules(node)


def test_uri_actions_go_to_the_url_features():
    node = scan(doc(b"/OpenAction 5 0 R", b"/Annots [4 0 R]",
                    b"<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://bit.ly/abc) >> >>",
                    b"<< /S /URI /URI (http://login.example.xyz:8080/verify?email=a@b.c) >>"))
    f = feats(node)
    assert f["pdf.uri_actions"] == 2 and f["pdf.kw_uri"] == 4
    assert set(node.result.urls) == {"https://bit.ly/abc", "http://login.example.xyz:8080/verify?email=a@b.c"}
    assert "PDF_AUTO_URI" in rules(node)
    assert f["url.count"] == 2 and f["url.shorteners"] == 1 and f["url.suspicious_tlds"] == 1
    assert f["url.nonstd_ports"] == 1 and f["url.credential_params"] == 1


def test_submitform_and_remote_goto():
    node = scan(doc(b"", b"",
                    b"<< /S /SubmitForm /F << /FS /URL /F (https://collect.example.net/post) >> >>",
                    b"<< /S /GoToR /F (other.pdf) /D [0 /Fit] >>",
                    b"<< /S /GoToE /T << /R /C /N (inner.pdf) >> >>"))
    f = feats(node)
    assert f["pdf.submitform_actions"] == 1 and f["pdf.goto_remote_actions"] == 2
    assert f["pdf.kw_submitform"] == 1 and f["pdf.kw_gotor"] == 1 and f["pdf.kw_gotoe"] == 1
    assert "https://collect.example.net/post" in node.result.urls
    assert {"PDF_SUBMITFORM", "PDF_GOTO_REMOTE"} <= rules(node)


def test_richmedia_and_jbig2():
    node = scan(doc(b"", b"", b"<< /Type /Annot /Subtype /RichMedia >>",
                    stream(b"/Type /XObject /Subtype /Image /Filter /JBIG2Decode", b"\x00" * 16)))
    assert {"PDF_RICHMEDIA", "PDF_JBIG2"} <= rules(node)


# --- embedded files -------------------------------------------------------------------------

PE = b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 200


def test_embedded_file_becomes_a_child():
    node = scan(doc(b"/Names << /EmbeddedFiles << /Names [(invoice.exe) 4 0 R] >> >>", b"",
                    b"<< /Type /Filespec /F (invoice.exe) /UF (invoice.exe) /EF << /F 5 0 R >> >>",
                    stream(b"/Type /EmbeddedFile", PE, True)))
    assert "PDF_EMBEDDED_FILE" in rules(node)
    assert feats(node)["pdf.embedded_files"] == 1 and feats(node)["pdf.kw_embeddedfile"] == 1
    [child] = node.children
    assert child.name == "invoice.exe" and child.size == len(PE)
    assert {"CORE_EXECUTABLE_PAYLOAD", "CORE_SCRIPT_NAME"} <= rules(child)


def test_javascript_launching_its_attachment():
    js = b'this.exportDataObject({ cName: "a.pdf", nLaunch: 2 });'
    node = scan(doc(b"/OpenAction 6 0 R", b"",
                    b"<< /Type /Filespec /F (a.pdf) /EF << /F 5 0 R >> >>",
                    stream(b"/Type /EmbeddedFile", b"hello"),
                    b"<< /S /JavaScript /JS " + hexstr(js) + b" >>"))
    assert "PDF_EMBEDDED_FILE_OPENED" in rules(node)


def test_embedded_file_over_the_inflate_budget_is_not_emitted():
    big = stream(b"/Type /EmbeddedFile", b"\x00" * (3 << 20), True)
    node = scan(doc(b"", b"", b"<< /Type /Filespec /F (big.bin) /EF << /F 5 0 R >> >>", big),
                limits=Limits(max_decompressed_bytes=1 << 20))
    assert not node.children
    assert Flag.LIMIT_EXCEEDED in node.result.flags


# --- encryption (RC4, revision 2, written here) ---------------------------------------------

PAD = PDFStandardSecurityHandler.PASSWORD_PADDING
DOCID = b"0123456789abcdef"


def encrypted(user: bytes, js: bytes) -> bytes:
    o = Arcfour(md5((b"owner" + PAD)[:32]).digest()[:5]).encrypt((user + PAD)[:32])
    h = md5((user + PAD)[:32])
    h.update(o)
    h.update(struct.pack("<l", -4))
    h.update(DOCID)
    key = h.digest()[:5]
    u = Arcfour(key).encrypt(PAD)
    objkey = md5(key + struct.pack("<L", 4)[:3] + b"\x00\x00").digest()[:10]
    action = b"<< /S /JavaScript /JS " + hexstr(Arcfour(objkey).encrypt(js)) + b" >>"
    enc = b"<< /Filter /Standard /V 1 /R 2 /O " + hexstr(o) + b" /U " + hexstr(u) + b" /P -4 >>"
    return doc(b"/OpenAction 4 0 R", b"", action, enc,
               trailer=b"/Encrypt 5 0 R /ID [" + hexstr(DOCID) + hexstr(DOCID) + b"]")


def test_encrypted_with_empty_user_password_is_opened():
    node = scan(encrypted(b"", b"app.alert('decrypted');"))
    assert Flag.DECRYPTED in node.result.flags and Flag.ENCRYPTED not in node.result.flags
    assert feats(node)["pdf.encrypted"] == 1 and feats(node)["pdf.encrypted_unopened"] == 0
    assert feats(node)["pdf.js_length"] == len("app.alert('decrypted');")
    assert {"PDF_ENCRYPTED", "PDF_AUTO_JAVASCRIPT"} <= rules(node)


def test_encrypted_with_user_password_is_flagged():
    node = scan(encrypted(b"secret", b"app.alert(1);"))
    assert Flag.ENCRYPTED in node.result.flags
    assert feats(node)["pdf.encrypted_unopened"] == 1
    assert "CORE_ENCRYPTED_UNOPENED" in rules(node)
    assert "PDF_JAVASCRIPT" in rules(node)  # the action is seen; its code is not
    assert feats(node)["pdf.js_length"] == 0


def test_encrypted_opened_with_a_candidate_password():
    node = scan(encrypted(b"secret", b"app.alert(1);"), options=Options(passwords=("secret",)))
    assert Flag.DECRYPTED in node.result.flags
    assert feats(node)["pdf.js_length"] == len("app.alert(1);")


# --- broken input ---------------------------------------------------------------------------

def rich() -> bytes:
    return doc(b"/OpenAction 4 0 R", b"/Annots [<< /A << /S /URI /URI (http://example.com/) >> >>]",
               b"<< /S /JavaScript /JS 5 0 R >>", stream(b"", b"app.alert(1);" * 50, True),
               b"<< /Type /Filespec /F (a.txt) /EF << /F 7 0 R >> >>", stream(b"/Type /EmbeddedFile", b"x" * 500, True),
               objstm([(9, b"<< /S /Launch /F (calc.exe) >>")]))


def test_truncated_pdf_is_flagged_and_still_read():
    data = rich()
    cut = data[: data.index(b"endstream") - 20]
    node = scan(cut)
    assert Flag.TRUNCATED in node.result.flags
    assert feats(node)["pdf.truncated_streams"] == 1
    assert feats(node)["pdf.eof_count"] == 0
    assert feats(node)["pdf.kw_openaction"] == 1


@pytest.mark.parametrize("step", [97])
def test_every_truncation_point_is_handled(step):
    data = rich()
    for end in range(10, len(data), step):
        scan(data[:end])


def test_garbage_after_header():
    junk = bytes((i * 131 + 7) % 256 for i in range(20000))
    node = scan(b"%PDF-1.5\n" + junk)
    assert node.file_type == "pdf"
    assert Flag.PARSE_ERROR in node.result.flags or feats(node)["pdf.objects_walked"] >= 0
    scan(b"%PDF-1.5\n1 0 obj << /JS 1 0 R /OpenAction 1 0 R >> endobj 2 0 obj [[[[[[ (unterminated")


def test_reference_cycles_and_self_references_terminate():
    node = scan(build([b"<< /Type /Catalog /OpenAction 2 0 R /AA 3 0 R >>", b"3 0 R", b"2 0 R",
                       b"<< /JS 4 0 R /S /JavaScript >>"]))
    assert feats(node)["pdf.openaction_js"] == 0


def test_bad_filters_do_not_raise():
    bodies = [
        stream(b"/Filter /FlateDecode /Type /EmbeddedFile", b"not zlib at all"),
        stream(b"/Filter [/ASCIIHexDecode /FlateDecode] /Type /EmbeddedFile", b"zz!!"),
        stream(b"/Filter /LZWDecode /Type /EmbeddedFile", b"\xff" * 40),
        stream(b"/Filter /Crypt /Type /EmbeddedFile", b"abc"),
        stream(b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 0 >> /Type /EmbeddedFile",
               zlib.compress(b"abc")),
    ]
    scan(doc(b"", b"", *bodies))


def test_long_javascript_string_in_the_catalog_is_read_whole():
    body = b"var s = \\(1\\); // \\\\ \\101" + b" x = 'aaaa\\n';" * 3000
    node = scan(build([b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (" + body + b") >> >>"]))
    f = feats(node)
    assert f["pdf.js_length"] == len(b"var s = (1); // \\ A" + b" x = 'aaaa\n';" * 3000)
    assert f["pdf.openaction_js"] == 1


def test_objects_without_wanted_names_are_parsed_only_when_referenced():
    widths = b"[" + b" ".join(b"%d" % (i % 1000) for i in range(20000)) + b"]"
    data = doc(b"/OpenAction 5 0 R", b"", widths, b"<< /S /JavaScript /JS 6 0 R >>", b"(app.alert\\(1\\))")
    w = walk(data, lambda: None, 1000)
    assert isinstance(w.objects[4], Lazy) and isinstance(w.objects[6], Lazy) and w.lazy >= 2
    node = scan(data)
    assert feats(node)["pdf.js_length"] == len("app.alert(1)")  # the string object was loaded on demand
    assert feats(node)["pdf.objects_walked"] == 6


def test_link_covering_the_page_is_a_lure_and_word_links_are_not():
    lure = scan(doc(b"", b"/MediaBox [0 0 612 792] /Annots [4 0 R]",
                    b"<< /Type /Annot /Subtype /Link /Rect [20 40 590 760] "
                    b"/A << /S /URI /URI (https://view.example.com/doc) >> >>"))
    f = feats(lure)
    assert f["pdf.link_annots"] == 1 and f["pdf.link_area_ratio"] > 0.8
    assert "PDF_LINK_LURE" in rules(lure)
    words = scan(doc(b"", b"/MediaBox [0 0 612 792] /Annots [4 0 R]",
                     b"<< /Type /Annot /Subtype /Link /Rect [72 700 180 712] "
                     b"/A << /S /URI /URI (https://www.example.org/) >> >>"))
    assert feats(words)["pdf.link_area_ratio"] < 0.01
    assert "PDF_LINK_LURE" not in rules(words)


def test_xfa_tiff_is_found_even_in_a_packet_the_xfa_entry_does_not_name():
    xdp = (b'<?xml version="1.0"?><xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><xfa:datasets '
           b'xmlns:xfa="http://www.xfa.org/schema/xfa-data/1.0/"><xfa:data><ImageField1 '
           b'xfa:contentType="image/tif" href="">SUkqADggAAAAAAAA</ImageField1></xfa:data></xfa:datasets></xdp:xdp>')
    node = scan(doc(b"/AcroForm << /XFA [(datasets) 9 0 R] >>", b"", stream(b"", xdp, True)))
    assert feats(node)["pdf.xfa_tiff"] == 1
    assert "PDF_XFA_TIFF" in rules(node)
    plain = scan(doc(b"/AcroForm << /XFA 4 0 R >>", b"", stream(b"", xdp.replace(b"image/tif", b"image/png"), True)))
    assert feats(plain)["pdf.xfa_tiff"] == 0 and "PDF_XFA_TIFF" not in rules(plain)


def test_auto_run_javascript_with_exploit_markers_is_a_certain_indicator():
    import random

    from maldoc import catalogue
    from maldoc.engine import analyze
    from maldoc.samples.pairs import pdf_action

    assert catalogue.get("PDF_AUTO_JS_EXPLOIT").verdict == "malicious"
    hits = 0
    for i in range(40):
        _fmt, bad, good = pdf_action(random.Random(i))
        fired = {f.rule_id for f in analyze(bad, "a.pdf").result.findings}
        if "PDF_AUTO_JS_EXPLOIT" in fired:
            hits += 1
            assert "PDF_AUTO_JAVASCRIPT" in fired
            assert fired & {"PDF_JS_EXPLOIT_API", "PDF_JS_OBFUSCATED", "PDF_JS_SHELLCODE"}
        assert "PDF_AUTO_JS_EXPLOIT" not in {f.rule_id for f in analyze(good, "b.pdf").result.findings}
    assert hits
