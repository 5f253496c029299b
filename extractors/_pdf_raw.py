"""pdfid-style raw scan: keyword counts and structure figures straight from the bytes.

No parsing: it survives any breakage and runs at regex speed. Names are counted as whole
tokens (`/JS` but not `/JSON`), and a name written with `#xx` escapes (`/J#61vaScript`) is
decoded first, then counted both as its keyword and as an obfuscated name, as pdfid does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = (
    "JS", "JavaScript", "AA", "OpenAction", "Launch", "EmbeddedFile", "XFA", "AcroForm", "RichMedia",
    "JBIG2Decode", "ObjStm", "Encrypt", "URI", "SubmitForm", "GoToR", "GoToE",
)
_DELIM = rb"(?=[\s/<>\[\]()%{}]|$)"
_KEYWORD_RE = re.compile(rb"/(" + b"|".join(k.encode() for k in KEYWORDS) + rb")" + _DELIM)
_HEX_NAME_RE = re.compile(rb"/[^\s/<>\[\]()%{}]*#[0-9A-Fa-f]{2}[^\s/<>\[\]()%{}]*")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# Patterns open with a literal so the regex engine can skip ahead; a lookbehind first would make
# it try every byte (five times slower on a 1 MB file). The byte before is checked per match.
_OBJ_KW = re.compile(rb"obj(?![A-Za-z0-9])")
_OBJ_HEAD_BEFORE = re.compile(rb"(\d{1,10})[\x00\t\n\f\r ]+(\d{1,5})[\x00\t\n\f\r ]*\Z")
_STREAM_RE = re.compile(rb"stream(?=\r|\n)")
_XREF_RE = re.compile(rb"xref(?![A-Za-z])")
_TRAILER_RE = re.compile(rb"trailer(?![A-Za-z])")
_STARTXREF_RE = re.compile(rb"startxref\s*(\d{1,12})")
_PAGE_RE = re.compile(rb"/Type\s*/Page" + _DELIM)
_VERSION_RE = re.compile(rb"%PDF-(\d{1,2})\.(\d{1,2})")
_XREF_STREAM_AT = re.compile(rb"\s*\d{1,10}\s+\d{1,5}\s+obj")
_LOWER_KEYWORDS = {k.lower(): k for k in KEYWORDS}
HEADER_WINDOW = 1024


@dataclass(slots=True)
class RawScan:
    header_offset: int = -1  # -1: no %PDF- in the first 1024 bytes
    version: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYWORDS, 0))
    hex_names: int = 0  # names using #xx escapes (benign fonts do: /Arial#20Bold)
    hex_keywords: list[str] = field(default_factory=list)  # escaped names that decode to a keyword
    eof_count: int = 0
    after_eof: int = 0  # non-whitespace bytes after the last %%EOF
    objs: int = 0
    endobjs: int = 0
    streams: int = 0
    endstreams: int = 0
    xrefs: int = 0
    trailers: int = 0
    startxrefs: int = 0
    startxref_valid: bool = False  # the last startxref points at an xref table or an xref stream
    pages: int = 0


def count_keywords(data: bytes, counts: dict[str, int]) -> tuple[int, list[str]]:
    """Add keyword counts of `data` to `counts`; return (#xx-escaped names, escaped keywords)."""
    for m in _KEYWORD_RE.finditer(data):
        counts[m.group(1).decode()] += 1
    hex_names = 0
    escaped: list[str] = []
    for m in _HEX_NAME_RE.finditer(data):
        hex_names += 1
        name = _HEX_ESCAPE.sub(lambda h: bytes((int(h.group(1), 16),)), m.group(0)[1:])
        key = name.decode("latin-1")
        if key in counts:
            counts[key] += 1
            escaped.append(key)
        elif key.lower() in _LOWER_KEYWORDS:  # readers match names exactly; keep as evidence only
            escaped.append(key)
    return hex_names, escaped


def scan(data: bytes) -> RawScan:
    r = RawScan()
    r.header_offset = data.find(b"%PDF-", 0, HEADER_WINDOW)
    if r.header_offset >= 0:
        m = _VERSION_RE.match(data, r.header_offset)
        if m:
            r.version = int(m.group(1)) + int(m.group(2)) / (10 ** len(m.group(2)))
    r.hex_names, r.hex_keywords = count_keywords(data, r.counts)
    r.eof_count = data.count(b"%%EOF")
    if r.eof_count:
        r.after_eof = len(data[data.rfind(b"%%EOF") + 5:].strip(b" \t\r\n\x00\x0c"))
    r.objs = sum(1 for m in _OBJ_KW.finditer(data) if obj_header_before(data, m.start()))
    r.endobjs = data.count(b"endobj")
    r.endstreams = data.count(b"endstream")
    r.streams = _keywords(_STREAM_RE, data)
    r.xrefs = _keywords(_XREF_RE, data)
    r.trailers = _keywords(_TRAILER_RE, data)
    starts = _STARTXREF_RE.findall(data)
    r.startxrefs = data.count(b"startxref")
    if starts:
        r.startxref_valid = _points_at_xref(data, int(starts[-1]), max(r.header_offset, 0))
    r.pages = sum(1 for _ in _PAGE_RE.finditer(data))
    return r


def _keywords(pattern: re.Pattern, data: bytes) -> int:
    """Matches of `pattern` not glued to a letter before (`endstream`, `startxref` are not keywords here)."""
    return sum(1 for m in pattern.finditer(data) if not data[m.start() - 1:m.start()].isalpha())


def obj_header_before(data: bytes, pos: int) -> re.Match | None:
    """`N G ` right before the `obj` at `pos`, with N not glued to a digit before it."""
    m = _OBJ_HEAD_BEFORE.search(data, max(0, pos - 24), pos)
    if m is None or data[m.start() - 1:m.start()].isdigit():  # m.start() is 0: b"".isdigit() is False
        return None
    return m


def _points_at_xref(data: bytes, offset: int, shift: int) -> bool:
    """Readers accept offsets counted from the file start or from the header: so do we."""
    for pos in {offset, offset + shift}:
        if 0 <= pos < len(data):
            head = data[pos:pos + 40]
            if head.lstrip().startswith(b"xref") or _XREF_STREAM_AT.match(head):
                return True
    return False


# JavaScript read straight from the bytes, for when the object walk stops early: /JS followed by
# a literal string (balanced parentheses, backslash escapes) or a hex string. Linear: one pass of
# a tokenising regex per string, every string and the total capped.
_JS_VALUE = re.compile(rb"/JS[\x00\t\n\f\r ]*([(<])")
_LITERAL_SPECIAL = re.compile(rb"\\.|[()]", re.S)
_LITERAL_ESCAPE = re.compile(rb"\\([nrtbf()\\]|[0-7]{1,3}|\r\n|\r|\n)?")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")",
            b"\\": b"\\"}
_HEX_BODY = re.compile(rb"[0-9A-Fa-f\x00\t\n\f\r ]*>")
MAX_RAW_SCRIPTS = 256


def _unescape(m: re.Match) -> bytes:
    code = m.group(1)
    if code is None or code in (b"\r\n", b"\r", b"\n"):
        return b""
    if code in _ESCAPES:
        return _ESCAPES[code]
    return bytes((int(code, 8) & 0xFF,))


def literal_at(data: bytes, start: int, cap: int) -> bytes | None:
    """The PDF literal string opening at data[start] == b"(", unescaped; None when it never closes."""
    depth = 0
    for m in _LITERAL_SPECIAL.finditer(data, start, min(len(data), start + cap)):
        c = m.group(0)
        if c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth == 0:
                return _LITERAL_ESCAPE.sub(_unescape, data[start + 1:m.start()])
    return None


def raw_scripts(blobs: list[bytes], cap: int) -> list[bytes]:
    """Every /JS string value in `blobs` (raw file, decoded object streams), at most `cap` bytes in all."""
    found: list[bytes] = []
    total = 0
    for blob in blobs:
        for m in _JS_VALUE.finditer(blob):
            if len(found) >= MAX_RAW_SCRIPTS or total >= cap:
                return found
            if m.group(1) == b"(":
                value = literal_at(blob, m.start(1), cap - total)
            else:
                hexm = _HEX_BODY.match(blob, m.end(1), min(len(blob), m.end(1) + 2 * (cap - total)))
                digits = re.sub(rb"[^0-9A-Fa-f]", b"", hexm.group(0)) if hexm else b""
                value = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode()) if hexm else None
            if value:
                found.append(value)
                total += len(value)
    return found
