"""A bounded, xref-free object walk over a PDF, with pdfminer.six as the object parser.

Malicious PDFs often carry a broken or lying cross-reference table, and their payload may sit
in objects no xref points at (pdf-parser.py and pdfid read them too). So objects are located by
a linear scan for `N G obj` headers, each body is parsed by pdfminer's `PDFStreamParser`, and
stream data is cut by /Length when that lands on `endstream`, else by the next `endstream`.
Object streams (/ObjStm) are inflated (bounded) and parsed the same way. The table doubles as
the pdfminer "document", so `PDFObjRef.resolve()` and `resolve1()` work against it.

Why pdfminer.six and not pikepdf (qpdf, C++), measured by `bench/bench_pdf_walk.py` on 200 corpus
PDFs: pikepdf reads them 1.3x to 3.5x faster (p99 about 40 ms against 85 to 180 ms) in half the
memory, but it is the wrong tool for what the features need. It reads through the
cross-reference table, so an object no xref points at (where droppers hide /JS) is not seen; it
refuses a file encrypted with a user password (PasswordError) where this walk still reads every
unencrypted name and structure; and it gives up (PdfError) on broken files this walk reads. 14
of the 200 files failed in pikepdf, 5 of them carrying /JS, /JavaScript, /URI or /EmbeddedFile
that the walk finds; of the files both read, one showed /JS to the walk only (and one an
/EmbeddedFile to pikepdf only, not yet explained). Its C++ parse
also cannot be stopped by the cooperative time budget (`check`).

Encryption: the standard security handler is built from the trailer's /Encrypt with the empty
user password (most encrypted benign PDFs only restrict printing or copying) and any candidate
passwords; strings and streams are then deciphered as pdfminer would.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import md5
from typing import Any

import numpy as np
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfexceptions import PDFObjectNotFound
from pdfminer.pdfparser import PDFStreamParser
from pdfminer.pdftypes import PDFObjRef, decipher_all
from pdfminer.psparser import PSKeyword

from maldoc.extractors._pdf_filters import decode, name_of
from maldoc.extractors._pdf_raw import obj_header_before

_OBJ_KW = re.compile(rb"obj(?![A-Za-z0-9])")
_TRAILER = re.compile(rb"trailer(?![A-Za-z])")
_ENDSTREAM_NEAR = re.compile(rb"[\x00\t\n\f\r ]*endstream")
# Names the analysis looks for. A body with none of them (nor a #xx escape, nor a stream) is a
# page, a font or a width table: it is parsed only if a reference leads to it. Most objects of a
# benign file are like that, and pdfminer's tokenizer is the cost of the whole scan.
_WANTED = re.compile(rb"/(?:JS|JavaScript|AA|OpenAction|Launch|URI|EF|EmbeddedFile|XFA|SubmitForm|GoTo[RE]|"
                     rb"ImportData|Rendition|ObjStm|XRef)(?![A-Za-z])|#[0-9A-Fa-f]{2}")
SMALL_BODY = 16 * 1024  # longer string literals are lifted out before pdfminer sees them
MAX_BODY = 8 * 1024 * 1024  # a catalog may carry a megabyte of JavaScript in one string
MAX_OBJSTM_OBJECTS = 20_000
RESOLVE_DEPTH = 16
# pdfminer's tokenizer costs about 7 us a token, and it builds whatever nesting it is given: one
# object of a million nested arrays (2 MB) would eat the whole walk's time and hide every object
# after it. Objects past these bounds are skipped (`Walk.skipped`); nothing real comes near them.
MAX_OBJECT_TOKENS = 100_000
MAX_NESTING = 256  # arrays and dictionaries, one inside the other
GUARD_FROM = 4096  # bytes: a shorter body is cheap whatever its shape
MAX_TRAILER = 64 * 1024  # a trailer dictionary is a few hundred bytes
_TOKEN_STARTS = np.zeros(256, dtype=np.int8)
_TOKEN_STARTS[list(b"[]<>/(){} \t\r\n\f\x00")] = 1
_NEST = np.zeros(256, dtype=np.int32)
_NEST[list(b"[<")] = 1  # a dictionary's << counts twice, like its >>; hex strings <..> cancel out
_NEST[list(b"]>")] = -1


class WalkStopped(Exception):
    """The walk reached its object or time limit; what was read so far stays usable."""


@dataclass(slots=True)
class Stream:
    attrs: dict
    raw: bytes  # as stored: encrypted (if the file is) and encoded
    objid: int = 0
    genno: int = 0
    deciphered: bool = False


@dataclass(slots=True)
class Lazy:
    """An object not parsed yet: its body holds no name the analysis looks for, so it is only
    parsed if something refers to it (a /JS string, an /Encrypt dictionary, a filespec)."""

    buf: bytes
    start: int
    end: int
    top_level: bool  # top-level strings are encrypted one by one; object-stream members are not


@dataclass(slots=True)
class Walk:
    """What the walk found. `objects` maps object number to its last definition."""

    objects: dict[int, Any] = field(default_factory=dict)
    genno: dict[int, int] = field(default_factory=dict)
    trailers: list[dict] = field(default_factory=list)
    objstm_ids: list[int] = field(default_factory=list)
    objstm_objects: int = 0
    top_objects: int = 0
    streams: list[Stream] = field(default_factory=list)
    parse_failures: int = 0
    truncated_streams: int = 0  # no endstream before the end of the file
    lazy: int = 0  # objects left unparsed because nothing in them matters unless referenced
    skipped: int = 0  # objects too large or too deeply nested to parse (`MAX_OBJECT_TOKENS`, `MAX_NESTING`)
    stopped: str = ""  # why the walk ended early, if it did
    encrypted: bool = False
    decrypt_error: str = ""  # non-empty: encrypted and not opened
    decipher: Callable[..., bytes] | None = None
    objstm_data: list[bytes] = field(default_factory=list)  # decoded object streams, for keyword counts

    # --- the pdfminer "document" protocol -------------------------------------------------
    def _get(self, objid: int) -> Any:
        value = self.objects.get(objid)
        if isinstance(value, Lazy):
            self.objects[objid] = None  # a reference cycle back to this object sees null
            tokens = _parse(value.buf[value.start:value.end], self)
            loaded = tokens[0][1] if tokens else None
            if not tokens:
                self.parse_failures += 1
            elif isinstance(loaded, PSKeyword):
                loaded = None
            elif value.top_level and self.decipher is not None:
                try:
                    loaded = decipher_all(self.decipher, objid, self.genno.get(objid, 0), loaded)
                except Exception:  # a malformed ciphertext spoils one object
                    self.parse_failures += 1
            self.objects[objid] = value = loaded
        return value

    def getobj(self, objid: int) -> Any:
        value = self._get(objid)
        for _ in range(RESOLVE_DEPTH):
            if not isinstance(value, PDFObjRef):
                break
            value = self._get(value.objid)
        else:
            value = None
        if value is None and objid not in self.objects:
            raise PDFObjectNotFound(objid)
        return value

    def resolve(self, value: Any) -> Any:
        """An indirect reference followed to its value (bounded, cycle-safe); None if dangling."""
        if isinstance(value, PDFObjRef):
            try:
                return self.getobj(value.objid)
            except PDFObjectNotFound:
                return None
        return value


def _parse(body: bytes, doc: Walk) -> list[tuple[int, Any]]:
    """Up to two top-level tokens of `body`: the object and, for a stream, the `stream` keyword."""
    lifted: list[bytes] = []
    if len(body) > SMALL_BODY and b"(" in body:
        body, lifted = _lift_strings(body)
    if len(body) > GUARD_FROM and _hostile_shape(body):
        doc.skipped += 1
        return []
    parser = PDFStreamParser(body)
    parser.set_document(doc)  # type: ignore[arg-type]  # duck-typed: only getobj is used
    found: list[tuple[int, Any]] = []
    try:
        while len(found) < 2:
            found.append(parser.nextobject())
    except Exception:  # pdfminer raises many types on hostile bytes; keep what parsed
        pass
    if lifted:
        found = [(pos, _restore(value, lifted, 0)) for pos, value in found]
    return found


# pdfminer grows a literal string token by concatenation, quadratic in its escapes: a 450 KB
# JavaScript string takes seconds. Long strings are cut out here, decoded by regex, and put back.
_STRING_SPECIAL = re.compile(rb"\\.|[()]", re.S)
_ESCAPE = re.compile(rb"\\([nrtbf()\\]|[0-7]{1,3}|\r\n|\r|\n)?")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_LIFT_MIN = 1024
_LIFTED = b"\x00maldoc-lifted-"
_PLACEHOLDER = _LIFTED + b"%d\x00"


def _unescape(m: re.Match) -> bytes:
    code = m.group(1)
    if code is None or code in (b"\r\n", b"\r", b"\n"):
        return b""  # a lone backslash is dropped; backslash-EOL continues the line
    if code in _ESCAPES:
        return _ESCAPES[code]
    return bytes((int(code, 8) & 0xFF,))


def _lift_strings(body: bytes) -> tuple[bytes, list[bytes]]:
    parts: list[bytes] = []
    lifted: list[bytes] = []
    pos = 0
    start = body.find(b"(")
    while start >= 0:
        depth, end = 0, -1
        for m in _STRING_SPECIAL.finditer(body, start):
            c = m.group(0)
            if c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
                if depth == 0:
                    end = m.end()
                    break
        if end < 0:
            break
        if end - start > _LIFT_MIN:
            parts += [body[pos:start], b"(" + _PLACEHOLDER % len(lifted) + b")"]
            lifted.append(_ESCAPE.sub(_unescape, body[start + 1:end - 1]))
            pos = end
        start = body.find(b"(", end)
    if not lifted:
        return body, []
    parts.append(body[pos:])
    return b"".join(parts), lifted


def _restore(value: Any, lifted: list[bytes], depth: int) -> Any:
    if isinstance(value, bytes) and value.startswith(_LIFTED):
        try:
            return lifted[int(value[len(_LIFTED):-1])]
        except (ValueError, IndexError):
            return value
    if depth > 32:
        return value
    if isinstance(value, dict):
        return {k: _restore(v, lifted, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, lifted, depth + 1) for v in value]
    return value


def _stream_start(data: bytes, pos: int) -> int:
    """Offset of stream data after the `stream` keyword at `pos` (EOL: CRLF, LF or a lone CR)."""
    pos += 6
    if data[pos:pos + 2] == b"\r\n":
        return pos + 2
    if data[pos:pos + 1] in (b"\n", b"\r"):
        return pos + 1
    return pos


def walk(data: bytes, check: Callable[[], None], max_objects: int, passwords: tuple[str, ...] = (),
         allow_inflate: Callable[[int], bool] = lambda n: True, cap: int = 16 * 1024 * 1024) -> Walk:
    """Read every object of `data`; `check` raises to stop (time), `allow_inflate` reserves decoded bytes."""
    doc = Walk()
    pos = 0
    try:
        while True:
            m = _next_header(data, pos)
            if m is None:
                break
            check()
            if doc.top_objects >= max_objects:
                doc.stopped = f"object limit {max_objects}"
                break
            doc.top_objects += 1
            pos = _read_object(data, m, doc)
        _trailers(data, doc, check)
        _decrypt_setup(doc, passwords)
        _expand_objstms(doc, check, max_objects, allow_inflate, cap)
    except WalkStopped as stop:
        doc.stopped = str(stop)
    return doc


def _next_header(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(object number, generation, offset after `obj`) of the next object header from `pos`."""
    for m in _OBJ_KW.finditer(data, pos):
        head = obj_header_before(data, m.start())
        if head is not None:
            return int(head.group(1)), int(head.group(2)), m.end()
    return None


def _wanted(data: bytes, start: int, end: int) -> bool:
    """Whether a body may hold something the analysis reads: a stream or a name in `_WANTED`."""
    return data.find(b"stream", start, end) >= 0 or _WANTED.search(data, start, end) is not None


def _read_object(data: bytes, m: tuple[int, int, int], doc: Walk) -> int:
    """Parse the object whose header is `m`; return where the scan for the next header resumes."""
    objid, genno, start = m
    end = data.find(b"endobj", start)
    body_end = min(end if end >= 0 else len(data), start + MAX_BODY)
    if not _wanted(data, start, body_end):
        doc.objects[objid] = Lazy(data, start, body_end, True)
        doc.genno[objid] = genno
        doc.lazy += 1
        return start
    tokens = _parse(data[start:body_end], doc)
    if not tokens:
        doc.parse_failures += 1
        return start
    value = tokens[0][1]
    if isinstance(value, PSKeyword) and value.name == b"endobj":
        value = None  # an empty object
    if len(tokens) == 2 and isinstance(tokens[1][1], PSKeyword) and tokens[1][1].name == b"stream" \
            and isinstance(value, dict):
        begin = _stream_start(data, start + tokens[1][0])
        stop = _stream_end(data, begin, value.get("Length"))
        if stop < 0:
            doc.truncated_streams += 1
            stop = len(data)
        stream = Stream(value, data[begin:stop], objid, genno)
        doc.streams.append(stream)
        value = stream
        if name_of(stream.attrs.get("Type")) == "ObjStm":
            doc.objstm_ids.append(objid)
        elif name_of(stream.attrs.get("Type")) == "XRef":
            doc.trailers.append(stream.attrs)
        resume = stop
    else:
        resume = start  # the next header search re-reads this body: cheap, and robust to a missing endobj
    doc.objects[objid] = value
    doc.genno[objid] = genno
    return resume


def _stream_end(data: bytes, begin: int, length: Any) -> int:
    if isinstance(length, int) and 0 <= length <= len(data) - begin \
            and _ENDSTREAM_NEAR.match(data, begin + length):
        return begin + length
    end = data.find(b"endstream", begin)
    if end < 0:
        return -1
    # the EOL before endstream belongs to the keyword, not the data
    if data[end - 2:end] == b"\r\n":
        return end - 2
    return end - 1 if data[end - 1:end] in (b"\n", b"\r") else end


def _trailers(data: bytes, doc: Walk, check: Callable[[], None]) -> None:
    found = 0
    for m in _TRAILER.finditer(data):
        if data[m.start() - 1:m.start()].isalpha():
            continue
        check()
        found += 1
        if found > 64:  # incremental updates rarely exceed a handful
            break
        tokens = _parse(data[m.end():m.end() + MAX_TRAILER], doc)
        if tokens and isinstance(tokens[0][1], dict):
            doc.trailers.append(tokens[0][1])


def _decrypt_setup(doc: Walk, passwords: tuple[str, ...]) -> None:
    """Build the security handler from the newest trailer with /Encrypt; decipher top-level strings."""
    trailer = next((t for t in reversed(doc.trailers) if "Encrypt" in t), None)
    if trailer is None:
        return
    doc.encrypted = True
    param = doc.resolve(trailer.get("Encrypt"))
    if not isinstance(param, dict):
        doc.decrypt_error = "/Encrypt dictionary missing"
        return
    param = _deep(doc, param, 4)
    ids = doc.resolve(trailer.get("ID"))
    docid = [doc.resolve(x) for x in ids] if isinstance(ids, list) and len(ids) >= 1 else [b"", b""]
    docid = [x if isinstance(x, bytes) else b"" for x in docid]
    if name_of(param.get("Filter")) != "Standard":
        doc.decrypt_error = "security handler not supported"
        return
    factory = PDFDocument.security_handler_registry.get(param.get("V", 0) if isinstance(param.get("V", 0), int) else -1)
    if factory is None:
        doc.decrypt_error = "encryption algorithm not supported"
        return
    handler = None
    for password in ("", *passwords):
        try:
            handler = factory(docid, param, password)
            break
        except Exception as exc:  # wrong password, or a parameter pdfminer rejects
            doc.decrypt_error = type(exc).__name__  # never the message: pdfminer's quote the parameters
    if handler is None:
        if "PasswordIncorrect" in doc.decrypt_error:
            doc.decrypt_error = "user password required"
        return
    doc.decrypt_error = ""
    _fast_rc4(handler)
    doc.decipher = handler.decrypt
    encrypt_ids = {trailer.get("Encrypt").objid} if isinstance(trailer.get("Encrypt"), PDFObjRef) else set()
    for objid, value in doc.objects.items():
        if objid in encrypt_ids or isinstance(value, int | float | bool | Lazy) or value is None:
            continue
        try:
            if isinstance(value, Stream):
                if name_of(value.attrs.get("Type")) != "XRef":
                    decipher_all(handler.decrypt, objid, value.genno, value.attrs)
            else:
                doc.objects[objid] = decipher_all(handler.decrypt, objid, doc.genno.get(objid, 0), value)
        except Exception:  # a malformed ciphertext spoils one object, not the walk
            doc.parse_failures += 1


def _fast_rc4(handler: Any) -> None:
    """Swap pdfminer's pure-Python RC4 (about 0.3 MB/s) for OpenSSL's, same key derivation."""
    def decrypt_rc4(objid: int, genno: int, data: bytes) -> bytes:
        key = handler.key + struct.pack("<L", objid)[:3] + struct.pack("<L", genno)[:2]
        key = md5(key).digest()[: min(len(key), 16)]
        return Cipher(ARC4(key), mode=None).decryptor().update(data)

    original = getattr(handler, "decrypt_rc4", None)
    if original is None or getattr(handler, "key", None) is None:
        return
    handler.decrypt_rc4 = decrypt_rc4
    cfm = getattr(handler, "cfm", None)
    if isinstance(cfm, dict):
        for name, method in list(cfm.items()):
            if method == original:
                cfm[name] = decrypt_rc4


def _deep(doc: Walk, value: Any, depth: int) -> Any:
    """Resolve references inside small dicts/lists (the /Encrypt parameters) so pdfminer needs no document."""
    value = doc.resolve(value)
    if depth <= 0:
        return value
    if isinstance(value, dict):
        return {k: _deep(doc, v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(doc, v, depth - 1) for v in value[:64]]
    return value


def stream_data(doc: Walk, stream: Stream, cap: int) -> tuple[bytes | None, str]:
    """Decipher (once) and decode a stream, at most `cap` bytes out."""
    if doc.decipher is not None and not stream.deciphered:
        try:
            stream.raw = doc.decipher(stream.objid, stream.genno, stream.raw, stream.attrs)
        except Exception:  # bad padding or length: undecipherable, not fatal
            return None, "error"
        stream.deciphered = True
    elif doc.encrypted and doc.decipher is None:
        return None, "encrypted"
    try:
        return decode({k: doc.resolve(v) for k, v in stream.attrs.items()
                       if k in ("Filter", "F", "DecodeParms", "DP")}, stream.raw, cap)
    except Exception:  # pdfminer's ascii85/predictor code on garbage input
        return None, "error"


def _expand_objstms(doc: Walk, check: Callable[[], None], max_objects: int,
                    allow_inflate: Callable[[int], bool], cap: int) -> None:
    for objid in doc.objstm_ids:
        stream = doc.objects.get(objid)
        if not isinstance(stream, Stream):
            continue
        check()
        data, _ = stream_data(doc, stream, cap)
        if not data:
            doc.parse_failures += 1
            continue
        if not allow_inflate(len(data)):
            raise WalkStopped("decompression budget spent on object streams")
        doc.objstm_data.append(data)
        n = doc.resolve(stream.attrs.get("N"))
        first = doc.resolve(stream.attrs.get("First"))
        if not isinstance(n, int) or not isinstance(first, int) or n <= 0 or not 0 <= first <= len(data):
            doc.parse_failures += 1
            continue
        n = min(n, MAX_OBJSTM_OBJECTS)
        header = _numbers(data[:first], 2 * n)
        for i in range(0, len(header) - 1, 2):
            check()
            if doc.top_objects + doc.objstm_objects >= max_objects:
                raise WalkStopped(f"object limit {max_objects}")
            oid, off = header[i], header[i + 1]
            nxt = header[i + 3] if i + 3 < len(header) else len(data) - first
            if oid in doc.objects or not 0 <= off <= nxt:
                continue  # a top-level definition is a later incremental update: it wins
            doc.objstm_objects += 1
            body_start, body_end = first + off, first + min(nxt, off + MAX_BODY)
            if not _WANTED.search(data, body_start, body_end):
                doc.objects[oid] = Lazy(data, body_start, body_end, False)
                doc.genno[oid] = 0
                doc.lazy += 1
                continue
            tokens = _parse(data[body_start:body_end], doc)
            if not tokens:
                doc.parse_failures += 1
                continue
            doc.objects[oid] = tokens[0][1]
            doc.genno[oid] = 0


def _hostile_shape(body: bytes) -> bool:
    """Too many tokens or too deep a nesting for pdfminer to parse in bounded time (one numpy pass)."""
    raw = np.frombuffer(body, dtype=np.uint8)
    if int(_TOKEN_STARTS[raw].sum(dtype=np.int64)) > MAX_OBJECT_TOKENS:
        return True
    nest = _NEST[raw]
    if int(np.count_nonzero(nest > 0)) <= MAX_NESTING:
        return False
    return int(np.cumsum(nest, dtype=np.int64).max()) > 2 * MAX_NESTING


_INT = re.compile(rb"\d{1,10}")


def _numbers(header: bytes, limit: int) -> list[int]:
    return [int(x) for x in _INT.findall(header[: limit * 12])[:limit]]
