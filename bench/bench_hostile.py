"""Hostile-input scaling: every parser entry point on n and 2n bytes of its worst known shape.

    .venv/bin/python bench/bench_hostile.py [--scale 1.0] [--repeat 3]

Each row is one shape fed to one entry point (the whole engine, `maldoc.engine.analyze`, or the
finder function itself), timed at n and at 2n bytes (best of --repeat). A linear parser shows a
ratio near 2; a quadratic one near 4 (and worse as n grows). For the shapes that used to be
quadratic, the code they replaced is timed too, in the same run, at a size it can finish:
that is the baseline column. Single process, one core; nothing here is a test.
"""

from __future__ import annotations

import argparse
import re
import time
import zipfile
from collections.abc import Callable
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from html.parser import HTMLParser
from io import BytesIO

from maldoc.engine import analyze
from maldoc.extractors import _mail_text, _pdf_js, urls
from maldoc.extractors.mail import _SHOWN_ADDRESS
from maldoc.extractors.pdf import _xfa_script_bodies
from maldoc.limits import Limits
from maldoc.samples import cfb, oledoc, onenote, ovba

FAKE_PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 64  # inert, just the headers
LIMITS = Limits(timeout_s=3600, max_children=200)  # the budget must not cut a timing short


# --- shapes: n (bytes, roughly) -> input -------------------------------------------------------

def _pdf(*objects: bytes) -> bytes:
    body = b"%PDF-1.4\n" + b"".join(b"%d 0 obj\n" % i + o + b"\nendobj\n" for i, o in enumerate(objects, 1))
    return body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pdf_js_string(n: int) -> bytes:
    js = b'"' + b'\\"' * (n // 2)
    return _pdf(b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /JavaScript /JS 3 0 R >>",
                b"<< /Length %d >>\nstream\n" % len(js) + js + b"\nendstream")


def pdf_deep_array(n: int) -> bytes:
    return _pdf(b"<< /Type /Catalog >>", b"[" * (n // 2) + b"/AA" + b"]" * (n // 2),
                b"<< /S /JavaScript /JS (app.alert(1)) >>")


def pdf_objects(n: int) -> bytes:
    return _pdf(b"<< /Type /Catalog >>", *(b"<< /AA << >> >>" for _ in range(n // 30)))


def pdf_xfa(n: int) -> bytes:
    xfa = b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'>" + b"<script>" * (n // 8)
    return _pdf(b"<< /Type /Catalog /AcroForm << /XFA 2 0 R >> >>",
                b"<< /Length %d >>\nstream\n" % len(xfa) + xfa + b"\nendstream")


def html_unclosed_tags(n: int) -> bytes:
    return b"<html><body>" + b"<a " * (n // 3)


def html_unclosed_end_tags(n: int) -> bytes:
    return b"<html><body>" + b"</" * (n // 2)


def html_style_blocks(n: int) -> bytes:
    return b"<html><body>" + b"<style>a{}</style>" * (n // 18)


def _mail_head() -> str:
    return "From: a@example.com\nTo: b@example.org\nSubject: x\nMessage-ID: <1@x>\nMIME-Version: 1.0\n"


def mail_deep_branch(n: int) -> bytes:
    depth = n // 66
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"\n--b{i}--\n" for i in reversed(range(depth)))
    return (_mail_head() + opening + "Content-Type: text/plain\n\nhi\n" + closing).encode()


def mail_wide(n: int) -> bytes:
    parts = "".join(f"--w\nContent-Type: text/plain\n\nx{i}\n" for i in range(n // 36))
    return (_mail_head() + 'Content-Type: multipart/mixed; boundary="w"\n\n' + parts + "--w--\n").encode()


def mail_display_name(n: int) -> bytes:
    return f'To: b@example.org\nSubject: x\nFrom: "{"a" * n}@{"b" * 8}" <x@example.com>\n\nhi\n'.encode()


def mail_forwarded(n: int) -> bytes:
    """A message forwarded 60 times; n grows the text of every level, not the nesting."""
    filler = "x" * max(1, n // 60 - 400) + "\n"
    msg: Message = MIMEMultipart()
    msg.attach(MIMEText(filler))
    msg.attach(MIMEApplication(FAKE_PE, Name="a.exe"))
    for _ in range(60):
        outer = MIMEMultipart()
        outer["From"], outer["To"], outer["Subject"] = "a@example.com", "b@example.org", "Fwd"
        outer.attach(MIMEText(filler))
        outer.attach(MIMEMessage(msg))
        msg = outer
    return msg.as_bytes()


def rtf_groups(n: int) -> bytes:
    return b"{\\rtf1" + b"{\\object\\objemb{\\*\\objdata 0105" * (n // 34)


def rtf_hex(n: int) -> bytes:
    return b"{\\rtf1{\\object{\\*\\objdata " + b"0105000002" * (n // 10) + b"}}}"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_members(n: int) -> bytes:
    return _zip({f"m{i:07d}.txt": b"x" for i in range(n // 80)})


def ooxml_deep_xml(n: int) -> bytes:
    xml = b"<w:document>" + b"<w:p>" * (n // 5) + b"</w:p>" * (n // 5) + b"</w:document>"
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})


def xlm_formulas(n: int) -> bytes:
    sheet = b"<worksheet><sheetData>" + b"<c><f>EXEC(\"x\")</f></c>" * (n // 24) + b"</sheetData></worksheet>"
    return _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                 "xl/macrosheets/sheet1.xml": sheet})


def ole_streams(n: int) -> bytes:
    return cfb.write({f"S{i:05d}": b"x" * 64 for i in range(n // 200)})


def vba_concat(n: int) -> bytes:
    code = 'Sub AutoOpen()\r\n  x = ' + ' & '.join(['"ab"'] * (n // 7)) + '\r\nEnd Sub'
    return oledoc.doc("x", [ovba.Module("Module1", code)], "{00000000-0000-0000-0000-000000000000}")


def vba_strings(n: int) -> bytes:
    code = "Sub AutoOpen()\r\n" + ('  x = "' + '""' * 40 + '\r\n') * (n // 90) + "End Sub"
    return oledoc.doc("x", [ovba.Module("Module1", code)], "{00000000-0000-0000-0000-000000000000}")


def onenote_files(n: int) -> bytes:
    return onenote.section(b"\x11" * 16, ["x"], [(f"f{i}.bin", b"x" * 16) for i in range(n // 80)])


def urls_text(n: int) -> str:
    return ("http://" + "a." * 20 + " \\\\a.b" + "\\" * 10 + " ") * (n // 70)


# --- the code the linear versions replaced (baselines) -----------------------------------------

_OLD_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.){0,1048576}\"|'(?:[^'\\\n]|\\.){0,1048576}'")
_OLD_XFA = re.compile(rb"<script\b([^>]{0,400})>(.*?)</script\s*>", re.S | re.I)
_OLD_SHOWN = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")


def old_drop_blocks(markup: str, tags: tuple[str, ...] = ("script", "style")) -> str:
    low = markup.lower()
    kept: list[str] = []
    pos = 0
    while True:
        starts = [(i, t) for t in tags if (i := low.find(f"<{t}", pos)) != -1]
        if not starts:
            break
        start, tag = min(starts)
        end = low.find(f"</{tag}", start)
        kept.append(markup[pos:start])
        if end == -1:
            return " ".join(kept)
        close = low.find(">", end)
        pos = len(markup) if close == -1 else close + 1
        kept.append(" ")
    kept.append(markup[pos:])
    return "".join(kept)


def old_html_parser(text: str) -> None:
    parser = HTMLParser(convert_charrefs=True)
    for start in range(0, len(text), 64 * 1024):
        parser.feed(text[start:start + 64 * 1024])
    parser.close()


def _js(n: int) -> str:
    return '"' + '\\"' * (n // 2)


def _xfa(n: int) -> bytes:
    return b"<script>" * (n // 8)


def _xfa_closed(n: int) -> bytes:
    return b"<script>x</script>" * (n // 18)


def _styles(n: int) -> str:
    return "<style>a{}</style>" * (n // 18)


def _name(n: int) -> str:
    return "a" * n + "@b"


# (entry point, shape, n, build, run, baseline run at its own n or None)
Row = tuple[str, str, int, Callable[[int], object], Callable[[object], object], tuple[int, Callable] | None]


def _engine(data: object) -> object:
    return analyze(data, "bench", limits=LIMITS)  # type: ignore[arg-type]


def rows(scale: float) -> list[Row]:
    k = lambda n: int(n * scale)  # noqa: E731
    return [
        ("PDF", "JS string of escaped quotes", k(160_000), pdf_js_string, _engine,
         (k(8_000), lambda n: max((m.end() for m in _OLD_STRING.finditer(_js(n))), default=0))),
        ("PDF", "JS string (finder alone)", k(400_000), _js, _pdf_js.longest_string, None),
        ("PDF", "deeply nested array", k(1_000_000), pdf_deep_array, _engine, None),
        ("PDF", "many objects with names", k(600_000), pdf_objects, _engine, None),
        ("PDF", "XFA: unclosed <script>", k(400_000), pdf_xfa, _engine,
         (k(40_000), lambda n: _OLD_XFA.findall(_xfa(n)))),
        ("PDF", "XFA scripts (finder alone)", k(800_000), _xfa_closed, _xfa_script_bodies, None),
        ("HTML", "unclosed start tags", k(1_000_000), html_unclosed_tags, _engine,
         (k(16_000), lambda n: old_html_parser("<a " * (n // 3)))),
        ("HTML", "unclosed end tags", k(1_000_000), html_unclosed_end_tags, _engine,
         (k(64_000), lambda n: old_html_parser("</" * (n // 2)))),
        ("HTML", "<style> blocks", k(1_000_000), html_style_blocks, _engine,
         (k(100_000), lambda n: old_drop_blocks(_styles(n)))),
        ("HTML", "<style> blocks (_drop_blocks)", k(2_000_000), _styles, _mail_text._drop_blocks, None),
        ("mail", "deep multipart branch", k(400_000), mail_deep_branch, _engine, None),
        ("mail", "many parts", k(400_000), mail_wide, _engine, None),
        ("mail", "forwarded messages", k(200_000), mail_forwarded, _engine, None),
        ("mail", "long display name", k(400_000), mail_display_name, _engine,
         (k(4_000), lambda n: _OLD_SHOWN.search(_name(n)))),
        ("mail", "display name (regex alone)", k(2_000_000), _name, _SHOWN_ADDRESS.search, None),
        ("RTF", "unclosed object groups", k(400_000), rtf_groups, _engine, None),
        ("RTF", "objdata hex run", k(1_000_000), rtf_hex, _engine, None),
        ("OOXML/ZIP", "many members", k(400_000), zip_members, _engine, None),
        ("OOXML/ZIP", "deeply nested XML", k(1_000_000), ooxml_deep_xml, _engine, None),
        ("XLM", "many macro formulas", k(400_000), xlm_formulas, _engine, None),
        ("OLE", "many streams", k(400_000), ole_streams, _engine, None),
        ("VBA", "long concatenation", k(100_000), vba_concat, _engine, None),
        ("VBA", "doubled quotes", k(200_000), vba_strings, _engine, None),
        ("OneNote", "many embedded files", k(400_000), onenote_files, _engine, None),
        ("URL finder", "URL and UNC fragments", k(2_000_000), urls_text, lambda t: urls.find_urls(t, 10**6), None),
    ]


def timed(run: Callable[[object], object], data: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(data)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every n (default 1.0)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    args = ap.parse_args()
    print(f"{'entry point':<11} {'shape':<30} {'n bytes':>9} {'t(n) s':>8} {'t(2n) s':>8} {'ratio':>6}   "
          f"baseline (code replaced): {'n':>7} {'t(n)':>7} {'t(2n)':>7} {'ratio':>6}")
    for entry, shape, n, build, run, baseline in rows(args.scale):
        small, large = build(n), build(2 * n)
        run(build(max(1, n // 16)))  # warm up: imports, the extractor registry, regex caches
        t1, t2 = timed(run, small, args.repeat), timed(run, large, args.repeat)
        line = f"{entry:<11} {shape:<30} {len(small):>9} {t1:>8.3f} {t2:>8.3f} {t2 / max(t1, 1e-9):>6.2f}"
        if baseline is not None:
            bn, brun = baseline
            b1, b2 = timed(brun, bn, 1), timed(brun, 2 * bn, 1)
            line += f"   {'':<26} {bn:>7} {b1:>7.3f} {b2:>7.3f} {b2 / max(b1, 1e-9):>6.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
