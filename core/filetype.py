"""File-type detection from content: magic bytes first, then structure. Never the name alone.

Each extractor declares the types it owns (`detects = (TypeSpec(...), ...)`): a name, a test on
a `Probe` of the bytes, a priority (lower is tried first) and an extension-like label. `detect()`
tries every declared test in priority order; the feature schema's type columns and the mail
sniffer's labels come from the same declarations, so adding a format touches no list here.

Attackers rename files (an RTF saved as .doc, an HTA as .pdf) and pad headers (a PDF header
a few hundred bytes in, `{\\rtxyz` instead of `{\\rtf1`), so every test mirrors what the
program that would open the file accepts, not what the format specification says. The shared
structural probes (ZIP member names, the RFC 822 header block) live here, computed once per call.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

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


class Probe:
    """The facts type tests share, each computed at most once per `detect()` call."""

    __slots__ = ("_head", "_mail", "_zip_kind", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._head: bytes | None = None
        self._zip_kind: FileType | None = None
        self._mail: FileType | bool | None = False

    @property
    def head(self) -> bytes:
        """The first 64 KiB without a byte-order mark or leading whitespace."""
        if self._head is None:
            self._head = _strip(self.data[:65536])
        return self._head

    @property
    def low(self) -> bytes:
        return self.head[:4096].lower()

    def starts_zip(self) -> bool:
        return self.data.startswith(ZIP_MAGICS)

    def prefixed_zip(self) -> bool:
        """A ZIP after a prefix (self-extractor stubs, polyglots), not a Windows binary."""
        return self.data[:4096].find(b"PK\x03\x04") > 0 and self.data[:2] != b"MZ"

    def zip_kind(self) -> FileType:
        if self._zip_kind is None:
            self._zip_kind = _zip_kind(self.data)
        return self._zip_kind

    def mail_kind(self) -> FileType | None:
        if self._mail is False:
            self._mail = _mail_kind(self.head)
        return self._mail  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """How one file type is recognised from bytes; declared by the extractor that owns the type."""

    name: str
    match: Callable[[Probe], bool]
    priority: int  # lower is tried first; the first match wins
    label: str  # extension-like label for sniffing embedded payloads (mail parts, OneNote files)
    description: str = ""

    @property
    def file_type(self) -> FileType:
        return FileType(self.name)


def detect(data: bytes) -> FileType:
    """The type of `data`, from its content alone."""
    if not data:
        return FileType.UNKNOWN
    from maldoc.extractor import registry  # the declarations live with the extractors

    probe = Probe(data)
    for spec in registry().type_specs:
        if spec.match(probe):
            return spec.file_type
    return FileType.UNKNOWN


def label_of(file_type: FileType) -> str | None:
    """The declared extension-like label of a type (None for unknown)."""
    from maldoc.extractor import registry

    return registry().type_labels.get(file_type)


# -- the tests of the types declared by the document extractors ---------------------------------
def is_ole(p: Probe) -> bool:
    return p.data.startswith(OLE_MAGIC)


def is_onenote(p: Probe) -> bool:
    return p.data.startswith(ONENOTE_MAGIC)


def zip_family(kind: FileType, *, prefixed: bool = False) -> Callable[[Probe], bool]:
    """ZIP-based types, told apart by member names (central directory only; nothing inflated)."""
    def match(p: Probe) -> bool:
        at = p.prefixed_zip() if prefixed else p.starts_zip()
        return at and p.zip_kind() is kind
    return match


def is_rtf(p: Probe) -> bool:
    return p.head.startswith(b"{\\rt")  # Word opens anything starting {\rt, not just {\rtf1


def is_pdf(p: Probe) -> bool:
    return b"%PDF-" in p.data[:PDF_HEADER_WINDOW]


def is_office_xml(p: Probe) -> bool:
    return p.low.startswith((b"<?xml", b"<?mso-application")) and \
        any(m in p.head[:8192].lower() for m in _OFFICE_XML_MARKERS)


def mail_family(kind: FileType) -> Callable[[Probe], bool]:
    return lambda p: p.mail_kind() is kind


def is_html(p: Probe) -> bool:
    return any(m in p.low for m in _HTML_MARKERS)


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
