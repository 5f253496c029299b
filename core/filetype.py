"""File-type detection from content: magic bytes first, then structure. Never the name alone.

Attackers rename files (an RTF saved as .doc, an HTA as .pdf) and pad headers (a PDF header
a few hundred bytes in, `{\\rtxyz` instead of `{\\rtf1`), so every rule here mirrors what the
program that would open the file accepts, not what the format specification says.
"""

from __future__ import annotations

import io
import os
import re
import zipfile

from maldoc.types import FileType

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ONENOTE_MAGIC = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3")  # {7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
PDF_HEADER_WINDOW = 1024  # Acrobat accepts %PDF- anywhere in the first 1024 bytes

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:[ \t]?", re.M)  # RFC 5322 field name, then ':'
_MAIL_FIELDS = frozenset(
    b"from to cc subject date received return-path message-id reply-to sender delivered-to "
    b"x-mailer user-agent mime-version content-type x-originating-ip authentication-results "
    b"dkim-signature arc-seal thread-topic".split()
)
_MAIL_ONLY_FIELDS = frozenset(b"to cc received return-path message-id delivered-to reply-to".split())
_HTML_MARKERS = (
    b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<hta:application", b"<iframe",
    b"<form", b"<meta ", b"<svg", b"<title", b"<div", b"<a href", b"<img ", b"<style", b"<table",
)
_OFFICE_XML_MARKERS = (
    b'progid="word.document"', b'progid="excel.sheet"', b'progid="powerpoint.show"',
    b"schemas.microsoft.com/office/word/2003/wordml", b"urn:schemas-microsoft-com:office:spreadsheet",
    b"schemas.microsoft.com/office/2006/xmlpackage",  # Flat OPC (Word 2007+ XML)
)


def _strip(head: bytes) -> bytes:
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom):]
            break
    return head.lstrip(b" \t\r\n\x00")


def _zip_kind(data: bytes) -> FileType:
    """OOXML, ODF or plain ZIP, from member names (central directory only; nothing inflated)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        # Truncated or hostile archive: fall back to the local headers' names.
        names = [n.decode("cp437", "replace") for n in _local_names(data)]
    lowered = {n.lower().lstrip("/") for n in names}
    if "[content_types].xml" in lowered:
        return FileType.OOXML
    if names and names[0] == "mimetype":  # ODF: stored first (its content names the kind)
        return FileType.ODF
    if "mimetype" in lowered and "meta-inf/manifest.xml" in lowered:
        return FileType.ODF
    return FileType.ZIP


def _local_names(data: bytes, limit: int = 1000) -> list[bytes]:
    names: list[bytes] = []
    pos = data.find(b"PK\x03\x04")
    while pos != -1 and len(names) < limit:
        if pos + 30 > len(data):
            break
        n = int.from_bytes(data[pos + 26:pos + 28], "little")
        names.append(data[pos + 30:pos + 30 + n])
        pos = data.find(b"PK\x03\x04", pos + 30)
    return names


def _mail_kind(head: bytes) -> FileType | None:
    """EMAIL or MHTML when the text opens with an RFC 822 header block, else None."""
    text = head
    if text.startswith(b"From "):  # mbox separator line
        text = text.split(b"\n", 1)[-1]
    block = re.split(rb"\r?\n\r?\n", text, maxsplit=1)[0][:16384]
    lines = [ln for ln in block.splitlines() if ln and ln[:1] not in b" \t"]
    if not lines:
        return None
    matched = [m.group(0).split(b":")[0].strip().lower() for ln in lines if (m := _HEADER_LINE.match(ln))]
    if len(matched) < max(2, len(lines) // 2) or not _HEADER_LINE.match(lines[0]):
        return None
    fields = set(matched)
    known = fields & _MAIL_FIELDS
    if len(known) < 2 and not (fields & {b"received", b"message-id", b"return-path"}):
        return None
    ctype = re.search(rb"^content-type:[ \t]*([\w/.+-]+)", block, re.I | re.M)
    related = bool(ctype and ctype.group(1).lower() == b"multipart/related")
    if related and not fields & _MAIL_ONLY_FIELDS:
        return FileType.MHTML  # Word "single file web page" and browser saves
    return FileType.EMAIL


def detect(data: bytes) -> FileType:
    """The type of `data`, from its content alone."""
    if not data:
        return FileType.UNKNOWN
    if data.startswith(OLE_MAGIC):
        return FileType.OLE
    if data.startswith(ONENOTE_MAGIC):
        return FileType.ONENOTE
    if data.startswith(ZIP_MAGICS):
        return _zip_kind(data)
    head = _strip(data[:65536])
    if head.startswith(b"{\\rt"):  # Word opens anything starting {\rt, not just {\rtf1
        return FileType.RTF
    if b"%PDF-" in data[:PDF_HEADER_WINDOW]:
        return FileType.PDF
    low = head[:4096].lower()
    if low.startswith((b"<?xml", b"<?mso-application")) and any(m in head[:8192].lower() for m in _OFFICE_XML_MARKERS):
        return FileType.OFFICE_XML
    kind = _mail_kind(head)
    if kind is not None:
        return kind
    if any(m in low for m in _HTML_MARKERS):
        return FileType.HTML
    if data[:4096].find(b"PK\x03\x04") > 0 and data[:2] != b"MZ":
        return _zip_kind(data)  # ZIP with a prefix (self-extractor stubs, polyglots)
    return FileType.UNKNOWN


# Names Windows runs on a double click, or that are scripts: never expected inside a document.
RISKY_EXTENSIONS = frozenset((
    ".exe", ".scr", ".com", ".pif", ".bat", ".cmd", ".ps1", ".psm1", ".vbs", ".vbe", ".js", ".jse", ".wsf",
    ".wsh", ".hta", ".lnk", ".msi", ".msp", ".dll", ".cpl", ".jar", ".reg", ".sct", ".iso", ".img", ".vhd",
    ".vhdx", ".appx", ".msix", ".application", ".url", ".chm", ".inf", ".scf",
))


def risky_name(name: str) -> bool:
    """True for names like `invoice.pdf.exe` or `run.vbs` (trailing dots and spaces ignored)."""
    return os.path.splitext(name.strip().strip("\x00").lower().rstrip(". "))[1] in RISKY_EXTENSIONS


def is_executable(data: bytes) -> bool:
    """A Windows PE or ELF binary: never expected inside a document."""
    if data.startswith(b"\x7fELF"):
        return True
    if not data.startswith(b"MZ") or len(data) < 64:
        return False
    pe = int.from_bytes(data[60:64], "little")
    return 0 < pe < len(data) - 4 and data[pe:pe + 4] == b"PE\x00\x00"
