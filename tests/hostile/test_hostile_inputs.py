"""Hostile inputs built at run time: bombs, depth, width, deep mail, quadratic shapes, hostile names.

Every case checks the outcome an attacker would try to change: no crash, no hang (the slow shapes
run in the worker pool and must finish under its hard timeout, i.e. carry no `timed_out` flag),
the limit that was hit is flagged, the payload next to a hostile branch is still found, and
`--extract` writes nothing outside its folder. No test measures time; the quadratic shapes are
sized so that the old code would need minutes, the linear code about a second.

The engine's cut-off walk policy is checked here too: a container whose walk was cut off and that
holds an executable is never `clean`.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from maldoc import scan
from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.model import load_scorer
from maldoc.output import extract
from maldoc.pool import ScanPool
from maldoc.samples import cfb, rtf
from maldoc.scoring import RuleScorer, build_verdict
from maldoc.types import ExtractorResult, FileType, Flag, Node
from maldoc.verdict import Label

from builders import FAKE_PE, make_zip

RULES = RuleScorer()
JS = (b"var s = unescape('%u9090%u9090%u0c0c'); eval(s); app.setTimeOut('x', 1); "
      b"util.printf('%45000f', 1);")


def rule_ids(node: Node) -> set[str]:
    return {f.rule_id for sub in node.walk() for f in sub.result.findings}


def flags(node: Node) -> set[Flag]:
    return {fl for sub in node.walk() for fl in sub.result.flags}


# --- deep and wide mail ------------------------------------------------------------------------

def _headers() -> str:
    return "From: a@example.com\nTo: b@example.org\nSubject: x\nMessage-ID: <1@example.com>\nMIME-Version: 1.0\n"


def _deep_branch(depth: int) -> str:
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    return opening + "Content-Type: text/plain\n\nhi\n" + "".join(f"\n--b{i}--\n" for i in reversed(range(depth)))


def _exe_part() -> str:
    return ("Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"a.exe\"\n"
            f"Content-Transfer-Encoding: base64\n\n{base64.encodebytes(FAKE_PE).decode()}")


def test_deep_multipart_branch_does_not_hide_its_sibling():
    data = (_headers() + 'Content-Type: multipart/mixed; boundary="top"\n\n--top\nContent-Type: text/plain\n\n'
            "see attached\n--top\n" + _exe_part() + "--top\n" + _deep_branch(1200) + "\n--top--\n").encode()
    assert len(data) > 75_000  # the shape of the report: 1,200 levels in about 80 KB
    node = analyze(data, "m.eml")
    assert node.file_type is FileType.EMAIL
    assert "a.exe" in [c.name for c in node.children]
    assert "CORE_EXECUTABLE_PAYLOAD" in rule_ids(node)
    assert Flag.LIMIT_EXCEEDED in node.result.flags and Flag.PARSE_ERROR not in node.result.flags
    assert scan(data, "m.eml", model=RULES).label is not Label.CLEAN


def _forwarded(times: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "a@example.com", "b@example.org", "x", "<0@x>"
    msg.set_content("invoice attached")
    msg.add_attachment(FAKE_PE, maintype="application", subtype="octet-stream", filename="invoice.exe")
    for i in range(times):
        outer = EmailMessage()
        outer["From"], outer["To"], outer["Subject"] = "a@example.com", "b@example.org", f"Fwd {i}"
        outer["Message-ID"] = f"<{i + 1}@x>"
        outer.set_content("forwarding")
        outer.add_attachment(msg)
        msg = outer
    return msg.as_bytes()


@pytest.mark.parametrize("times", [8, 51])
def test_message_forwarded_past_every_limit_still_reports_its_executable(times):
    node = analyze(_forwarded(times), "fwd.eml")
    assert Flag.LIMIT_EXCEEDED in flags(node)
    assert "CORE_EXECUTABLE_PAYLOAD" in rule_ids(node)
    assert scan(_forwarded(times), "fwd.eml", model=RULES).label is not Label.CLEAN


def test_mail_with_thousands_of_parts_is_cut_and_flagged():
    parts = "".join(f"--w\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\n\nx{i}\n" for i in range(5000))
    data = (_headers() + 'Content-Type: multipart/mixed; boundary="w"\n\n' + parts + "--w--\n").encode()
    node = analyze(data, "wide.eml", limits=Limits(max_children=50))
    assert len(node.children) <= 50
    assert Flag.LIMIT_EXCEEDED in node.result.flags


def test_mail_width_past_the_member_limit_still_sniffs_an_executable():
    parts = "".join(f"--w\nContent-Type: text/plain; name=\"f{i}.txt\"\n\nx{i}\n" for i in range(300))
    data = (_headers() + 'Content-Type: multipart/mixed; boundary="w"\n\n' + parts + "--w\n" + _exe_part() +
            "--w--\n").encode()
    node = analyze(data, "wide.eml", limits=Limits(max_children=20))
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert "CORE_EXECUTABLE_PAYLOAD" in rule_ids(node)


# --- PDF ---------------------------------------------------------------------------------------

def _pdf(*objects: bytes) -> bytes:
    body = b"%PDF-1.4\n" + b"".join(b"%d 0 obj\n" % n + o + b"\nendobj\n" for n, o in enumerate(objects, 1))
    return body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def test_million_deep_array_before_auto_run_javascript():
    deep = b"[" * 1_000_000 + b"/AA" + b"]" * 1_000_000
    data = _pdf(b"<< /Type /Catalog /OpenAction 3 0 R >>", deep, b"<< /S /JavaScript /JS (" + JS + b") >>")
    node = analyze(data, "deep.pdf")
    assert Flag.LIMIT_EXCEEDED in node.result.flags and Flag.TIMED_OUT not in node.result.flags
    assert {"PDF_AUTO_JAVASCRIPT", "PDF_JS_EXPLOIT_API"} <= rule_ids(node)
    assert node.result.features["pdf.walk_complete"] == 0.0
    assert scan(data, "deep.pdf", model=RULES).label is not Label.CLEAN


def test_object_walk_cut_off_by_its_limit_falls_back_to_the_raw_scan():
    filler = b"".join(b"%d 0 obj\nnull\nendobj\n" % (10 + i) for i in range(100_001))
    data = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /OpenAction 4 0 R >>\nendobj\n" + filler +
            b"4 0 obj\n<< /S /JavaScript /JS (" + JS + b") >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    node = analyze(data, "many.pdf")
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert {"PDF_JAVASCRIPT", "PDF_AUTO_JAVASCRIPT", "PDF_JS_EXPLOIT_API"} <= rule_ids(node)
    f = node.result.features
    assert f["pdf.walk_complete"] == 0.0 and f["pdf.auto_js"] >= 1 and f["pdf.js_eval"] >= 1


def test_pdf_embedded_file_bomb_is_capped():
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    data = _pdf(b"<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a) 2 0 R] >> >> >>",
                b"<< /Type /Filespec /F (zeros.bin) /EF << /F 3 0 R >> >>",
                b"<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb) + bomb +
                b"\nendstream")
    node = analyze(data, "bomb.pdf", limits=Limits(max_decompressed_bytes=8 * 1024 * 1024))
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert all(c.size <= 8 * 1024 * 1024 for c in node.children)


def test_zip_bomb_is_not_inflated():
    node = analyze(make_zip({"zeros.bin": b"\x00" * (32 * 1024 * 1024)}), "bomb.zip")
    assert node.children == [] and "CORE_ZIP_BOMB" in rule_ids(node)


# --- shapes that were quadratic: they must finish well under the pool's hard timeout -------------

def _quadratic_shapes() -> dict[str, bytes]:
    js_string = b'"' + b'\\"' * 80_000  # an unclosed string full of escaped quotes
    xfa = b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'>" + b"<script>" * 60_000
    return {
        "pdf-js-string": _pdf(b"<< /Type /Catalog /OpenAction 2 0 R >>",
                              b"<< /S /JavaScript /JS 3 0 R >>",
                              b"<< /Length %d >>\nstream\n" % len(js_string) + js_string + b"\nendstream"),
        "pdf-xfa-scripts": _pdf(b"<< /Type /Catalog /AcroForm << /XFA 2 0 R >> >>",
                                b"<< /Length %d >>\nstream\n" % len(xfa) + xfa + b"\nendstream"),
        "html-style-blocks": b"<html><body>" + b"<style>a{}</style>" * 150_000,
        "html-unclosed-tags": b"<html><body>" + b"<a " * 700_000,
        "html-unclosed-end-tags": b"<html><body>" + b"</" * 500_000,
        "html-unclosed-comments": b"<html><body>" + b"<!-- >" * 150_000,
        "mail-html-body": (_headers() + "Content-Type: text/html\n\n").encode() + b"<a " * 300_000,
    }


@pytest.fixture(scope="module")
def pool():
    with ScanPool(jobs=2, limits=Limits(timeout_s=30)) as p:
        yield p


@pytest.mark.parametrize("shape", sorted(_quadratic_shapes()))
def test_quadratic_shape_finishes_under_the_hard_timeout(pool, shape):
    data = _quadratic_shapes()[shape]
    node = pool.submit(data, shape).result()
    assert Flag.TIMED_OUT not in flags(node), node.result.errors
    assert Flag.WORKER_DIED not in flags(node)
    assert node.file_type in (FileType.PDF, FileType.HTML, FileType.EMAIL)


def test_unterminated_markup_is_flagged():
    node = analyze(_quadratic_shapes()["html-unclosed-tags"], "tags.html")
    assert Flag.LIMIT_EXCEEDED in node.result.flags


# --- hostile names and --extract -----------------------------------------------------------------

def _package_ole(label: str, payload: bytes) -> bytes:
    native = rtf.package(label, f"C:\\{label}", f"C:\\{label}", payload)
    return cfb.write({"WordDocument": b"\0" * 512, "ObjectPool": {"_1": {
        "\x01Ole10Native": len(native).to_bytes(4, "little") + native}}})


def _files_below(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def test_extract_keeps_container_names_inside_the_folder(tmp_path):
    inner = make_zip({"..": FAKE_PE, ".": b"dot", "/etc/x": b"abs", "C:\\x": b"drive", "../../up.txt": b"up"})
    data = make_zip({"..": inner, "ole.doc": _package_ole("..", FAKE_PE)})
    node = analyze(data, "names.zip", options=Options(keep_children=True))
    names = {c.name for sub in node.walk() for c in sub.children}
    assert ".." in names  # the hostile names reached the extractor output as they are
    out = tmp_path / "out" / "deeper"
    out.mkdir(parents=True)
    extract(node, build_verdict(node, RULES), out)
    written = _files_below(tmp_path)
    assert written, "nothing was extracted"
    for path in written:
        assert path.resolve().is_relative_to(out.resolve()), path
        assert not any(part in (".", "..") for part in path.relative_to(out).parts)
    assert sum(p.read_bytes() == FAKE_PE for p in written) == 2  # the zip member and the OLE package


def _synthetic(parts: list[tuple[str, ...]]) -> Node:
    """A scan tree whose embedded items carry exactly these container paths."""
    root = Node(name="in.bin", path=("in.bin",), depth=0, sha256="ab" * 32, size=1, file_type=FileType.ZIP,
                result=ExtractorResult())
    for i, path in enumerate(parts):
        root.children.append(Node(name=path[-1], path=("in.bin", *path), depth=len(path), sha256=f"{i:02d}" * 32,
                                  size=1, file_type=FileType.UNKNOWN, result=ExtractorResult(),
                                  data=f"item {i}".encode()))
    return root


@pytest.mark.parametrize("path", [("..",), (".", ".."), ("..", "..", "x"), ("/etc/passwd",), ("C:\\Windows\\x",),
                                  ("a\x00b",), ("", "x"), ("...",), ("\\\\server\\share",), ("x/../../y",)])
def test_extract_rejects_each_path_trick(tmp_path, path):
    out = tmp_path / "out"
    node = _synthetic([path])
    extract(node, build_verdict(node, RULES), out)
    written = _files_below(tmp_path)
    assert len(written) == 1
    rel = written[0].resolve().relative_to(out.resolve())
    assert rel.parts[0] == node.sha256[:16]
    assert not any(p in ("", ".", "..") or "\x00" in p for p in rel.parts)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_extract_never_writes_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    node = _synthetic([("docs", "a.txt"), ("b.txt",)])
    root = out / node.sha256[:16]
    root.mkdir(parents=True)
    os.symlink(outside, root / "docs")  # a folder link planted where an item will go
    os.symlink(outside / "b.txt.0101010101.bin", root / "b.txt.01010101.bin")  # a file link (dangling)
    extract(node, build_verdict(node, RULES), out)
    assert list(outside.iterdir()) == []
    os.rename(root, tmp_path / "moved")
    os.symlink(outside, root)  # the per-input folder itself is a link
    extract(node, build_verdict(node, RULES), out)
    assert list(outside.iterdir()) == []


# --- the engine's cut-off walk policy ------------------------------------------------------------

def _deep_zip(levels: int) -> bytes:
    data = make_zip({"payload.exe": FAKE_PE})
    for level in range(levels - 1):
        data = make_zip({f"level{level}.zip": data})
    return data


@pytest.fixture(scope="module")
def model():
    return load_scorer()


def test_executable_six_zips_deep_is_never_clean(model):
    verdict = scan(_deep_zip(7), "deep.zip", model=model)
    assert "limit_exceeded" in {f for sub in verdict.walk() for f in sub.flags}
    assert verdict.label is not Label.CLEAN


def test_executable_as_member_201_is_never_clean(model):
    members = {f"doc{i:03d}.txt": b"quarterly figures\n" for i in range(200)}
    members["zz-payload.exe"] = FAKE_PE
    verdict = scan(make_zip(members), "wide.zip", model=model)
    assert "limit_exceeded" in verdict.flags
    assert verdict.label is not Label.CLEAN


def test_zip_members_are_still_flagged_when_cut(model):
    members = {f"doc{i:03d}.txt": b"x" for i in range(201)}
    verdict = scan(make_zip(members), "wide.zip", model=model)
    assert "limit_exceeded" in verdict.flags


def test_hostile_zip_names_do_not_crash():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("..", "/", "C:", "\\", "a" * 300, "\u202eexe.txt", "x/" * 100 + "y"):
            zf.writestr(zipfile.ZipInfo(name), b"x")
    node = analyze(buf.getvalue(), "names.zip")
    assert node.file_type is FileType.ZIP and Flag.PARSE_ERROR not in node.result.flags
