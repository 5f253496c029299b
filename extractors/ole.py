"""OLE2 compound files (.doc .xls .ppt and their embedded objects): oleid-style indicators and children.

Embedded OLE objects (Word's ObjectPool, Excel's MBD storages) keep their payload in a few
well-known streams: `\\x01Ole10Native` (OLE 1.0 native data; the Packager's file with its name),
`Package` (an embedded OOXML document) and `CONTENTS` (e.g. an embedded PDF). Those payloads are
emitted as children, so they are scanned like attachments. Equation Editor objects, Flash,
OLE links and DDE fields are reported here; VBA and XLM have their own extractors.
"""

from __future__ import annotations

import re

import olefile

from maldoc import filetype, olecompat
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec, risky_name
from maldoc.olecompat import quiet
from maldoc.types import ExtractorResult, FileType, Flag, Sample

from ._office_common import log2, ole_error_flag, open_ole
from .urls import clean_url, is_namespace

MAX_ENTRIES = 20000
EQUATION_CLSIDS = frozenset({"0002CE02-0000-0000-C000-000000000046", "0002CE03-0000-0000-C000-000000000046"})
FLASH_CLSID = "D27CDB6E-AE6D-11CF-96B8-444553540000"
PAYLOAD_MAGICS = (b"%PDF", b"PK\x03\x04", olefile.MAGIC, b"MZ", b"{\\rt", b"\x7fELF")
SWF_RE = re.compile(rb"^(?:FWS|CWS|ZWS)[\x01-\x30]")
# URLs in the raw bytes: `scheme://` then 3 to 1000 printable characters, in ASCII or UTF-16LE. The
# scan looks for the `://` literal first (a memchr-speed search) and reads the scheme before it and
# the body after it, rather than trying a case-insensitive alternation at every byte.
URL_BODY_ASCII = re.compile(rb"[\x21-\x7e]{3,1000}")
URL_BODY_UTF16 = re.compile(rb"(?:[\x21-\x7e]\x00){3,1000}")
SCHEMES_ASCII = ((5, (b"https",)), (4, (b"http", b"ftps", b"file")), (3, (b"ftp",)))
SCHEMES_UTF16 = ((10, (b"h\x00t\x00t\x00p\x00s\x00",)), (8, (b"h\x00t\x00t\x00p\x00",)), (6, (b"f\x00t\x00p\x00",)))
MAX_URL_ANCHORS = 100_000  # `://` occurrences read per encoding: bounded for hostile input
DDE_RE = re.compile(rb"\x13\s*DDE(?:AUTO)?\s|\x13\x00(?:\s\x00)*D\x00D\x00E\x00(?:A\x00U\x00T\x00O\x00)?\s\x00", re.I)
URL_STOP = re.compile(r"[\s\"'<>\\^`{|}]")


def _url_matches(data: bytes, anchor: bytes, schemes, body: re.Pattern[bytes]):
    """Non-overlapping `scheme://body` spans, leftmost first, as a finditer of
    `(?i)(?:scheme|...)<anchor>body` would give them (every match holds the anchor after its scheme)."""
    end = 0
    at = data.find(anchor)
    seen = 0
    while at >= 0 and seen < MAX_URL_ANCHORS:
        seen += 1
        for width, names in schemes:
            start = at - width
            if start >= end and data[start:at].lower() in names:
                m = body.match(data, at + len(anchor))
                if m:
                    yield start, m.end()
                    end = m.end()
                break  # one scheme can precede a given anchor, whose body is the same for all
        at = data.find(anchor, max(at + 1, end))
    return


def _urls(data: bytes, limit: int = 500) -> list[str]:
    """ASCII and UTF-16LE URLs in the raw file (text of Word and Excel streams, hyperlink monikers)."""
    found: dict[str, None] = {}
    for start, end in _url_matches(data, b"://", SCHEMES_ASCII, URL_BODY_ASCII):
        found[data[start:end].decode("latin-1")] = None
        if len(found) >= limit:
            break
    for start, end in _url_matches(data, b":\x00/\x00/\x00", SCHEMES_UTF16, URL_BODY_UTF16):
        found[data[start:end].decode("utf-16-le", "replace")] = None
        if len(found) >= limit:
            break
    urls = []
    for raw in found:
        url = clean_url(URL_STOP.split(raw, 1)[0])
        if len(url) > 10 and not is_namespace(url):
            urls.append(url)
    return list(dict.fromkeys(urls))


def package_payload(native: bytes, package: bool) -> tuple[str, bytes]:
    """(file name, payload) of an `\\x01Ole10Native` stream; name "" when it carries none."""
    if package:
        try:
            with quiet():
                stream = olecompat.oleobj.OleNativeStream(bindata=native, package=False)
            if stream.data is not None and stream.filename:
                return str(stream.filename).strip("\x00"), bytes(stream.data)
        except Exception:
            pass
    size = int.from_bytes(native[:4], "little") if len(native) >= 4 else 0
    return "", native[4:4 + size] if 0 < size <= len(native) - 4 else native[4:]


class OleExtractor(Extractor):
    name = "ole"
    version = 2
    detects = (TypeSpec("ole", filetype.is_ole, 10, "doc", "OLE2 compound file: .doc .xls .ppt .msg, encrypted OOXML"),)
    file_types = frozenset({FileType.OLE})
    features = (
        "streams", "storages", "app_word", "app_excel", "app_powerpoint", "app_other", "vba_storage",
        "objectpool", "embedded_objects", "ole10native", "packages", "package_risky", "package_streams",
        "contents_payloads", "equation", "flash", "ole_links", "dde", "urls", "orphan_size_ratio", "size_log2",
    )
    rules = ("OLE_EMBEDDED_OBJECT", "OLE_PACKAGE", "OFFICE_PACKAGE_EXECUTABLE", "OLE_FLASH", "OLE_EQUATION",
             "OLE_LINK", "OFFICE_DDE")
    order = 20

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            ole = open_ole(sample.data, sample)
        except Exception as exc:
            out.flag(ole_error_flag(exc), f"ole: unreadable compound file ({type(exc).__name__})")
            return
        f = out.features
        f["ole.size_log2"] = log2(len(sample.data))
        with quiet():
            entries = ole.listdir(streams=True, storages=True)
        if len(entries) > MAX_ENTRIES:
            out.flag(Flag.LIMIT_EXCEEDED, f"ole: {len(entries)} directory entries, read {MAX_ENTRIES}")
            entries = entries[:MAX_ENTRIES]
        names = {"/".join(e).lower() for e in entries}
        streams = [e for e in entries if ole.get_type(e) == olefile.STGTY_STREAM]
        f["ole.streams"] = float(len(streams))
        f["ole.storages"] = float(len(entries) - len(streams))
        word = "worddocument" in names
        excel = "workbook" in names or "book" in names
        ppt = "powerpoint document" in names
        f["ole.app_word"], f["ole.app_excel"], f["ole.app_powerpoint"] = float(word), float(excel), float(ppt)
        f["ole.app_other"] = float(not (word or excel or ppt))
        f["ole.vba_storage"] = float(any(n.endswith("vba/dir") or n.endswith("_vba_project") for n in names))
        f["ole.objectpool"] = float(sum(1 for e in entries if len(e) == 2 and e[0].lower() == "objectpool"))
        embedded = {tuple(e[:-1]) for e in streams if len(e) > 1 and e[-1] in ("\x01Ole", "\x01CompObj")}
        f["ole.embedded_objects"] = float(len(embedded))
        if embedded:
            out.add("OLE_EMBEDDED_OBJECT", f"{len(embedded)} embedded objects", sample.display_path)
        self._objects(sample, ole, entries, streams, ctx, out)
        self._links_and_text(sample, ole, streams, ctx, out)
        total = sum(ole.get_size(e) for e in streams)
        f["ole.orphan_size_ratio"] = max(0.0, 1.0 - total / max(len(sample.data), 1))

    def _objects(self, sample: Sample, ole, entries, streams, ctx: Context, out: ExtractorResult) -> None:
        f = out.features
        counts = dict.fromkeys(("ole10native", "packages", "package_risky", "package_streams", "contents_payloads",
                                "equation", "flash"), 0.0)
        for entry in entries:
            ctx.check()
            try:
                clsid = (ole.getclsid(entry) or "").upper()
            except (OSError, KeyError, TypeError, AttributeError):
                clsid = ""
            if clsid in EQUATION_CLSIDS:
                counts["equation"] += 1
            elif clsid == FLASH_CLSID:
                counts["flash"] += 1
        for entry in streams:
            ctx.check()
            leaf = entry[-1]
            path = "/".join(entry)
            low = leaf.lower()
            if low == "equation native":
                counts["equation"] += 1
                continue
            if leaf not in ("\x01Ole10Native", "Package", "CONTENTS", "Contents") and not low.startswith("swf"):
                continue
            data = self._stream(ole, entry, ctx, out)
            if data is None:
                continue
            if SWF_RE.match(data):
                counts["flash"] += 1
            if leaf == "\x01Ole10Native":
                counts["ole10native"] += 1
                is_package = self._class_name(ole, entry[:-1]).lower().startswith("package")
                filename, payload = package_payload(data, is_package)
                if filename:
                    counts["packages"] += 1
                    out.add("OLE_PACKAGE", filename, f"{sample.display_path} > {path}")
                    if risky_name(filename):
                        counts["package_risky"] += 1
                        out.add("OFFICE_PACKAGE_EXECUTABLE", filename, f"{sample.display_path} > {path}")
                if payload:
                    # stream bytes are part of the input, not inflated: no budget charge
                    ctx.emit(out, sample, payload, filename or path.replace("\x01", ""), charge=False)
            elif leaf == "Package":
                counts["package_streams"] += 1
                ctx.emit(out, sample, data, path, charge=False)
            elif data.startswith(PAYLOAD_MAGICS):
                counts["contents_payloads"] += 1
                ctx.emit(out, sample, data, path, charge=False)
        for key, value in counts.items():
            f[f"ole.{key}"] = value
        if counts["equation"]:
            out.add("OLE_EQUATION", "Equation Editor object (Equation Native / Equation.3 CLSID)", sample.display_path)
        if counts["flash"]:
            out.add("OLE_FLASH", "Shockwave Flash object", sample.display_path)

    @staticmethod
    def _class_name(ole, storage) -> str:
        """The ProgID an embedded object's CompObj stream names ("Package", "Equation.3", ...)."""
        path = [*storage, "\x01CompObj"]
        if not ole.exists("/".join(path)):
            return "Package"  # Ole10Native without CompObj: treat as a package and let the parser decide
        try:
            with ole.openstream(path) as s:
                data = s.read(4096)
        except OSError:
            return ""
        names = re.findall(rb"[\x20-\x7e]{3,}", data[28:])
        return names[-1].decode() if names else ""

    @staticmethod
    def _stream(ole, entry, ctx: Context, out: ExtractorResult) -> bytes | None:
        size = ole.get_size(entry)
        if size > ctx.limits.max_bytes:
            out.flag(Flag.LIMIT_EXCEEDED, f"ole: a stream of {size} bytes not read")
            return None
        try:
            with ole.openstream(entry) as s:
                return s.read()
        except (OSError, ValueError, IndexError) as exc:
            out.flag(Flag.TRUNCATED, f"ole: a stream is cut short ({type(exc).__name__})")
            return None

    def _links_and_text(self, sample: Sample, ole, streams, ctx: Context, out: ExtractorResult) -> None:
        f = out.features
        links = 0
        for entry in streams:
            if entry[-1] != "\x01Ole":
                continue
            ctx.check()
            data = self._stream(ole, entry, ctx, out)
            # MS-OLEDS 2.3.3 OLEStream: Flags bit 0 set = linked object, a moniker follows.
            if data and len(data) >= 8 and int.from_bytes(data[4:8], "little") & 1:
                target = _urls(data)
                links += 1
                out.add("OLE_LINK", ", ".join(target[:3]) or "linked OLE object",
                        f"{sample.display_path} > {'/'.join(entry)}")
        f["ole.ole_links"] = float(links)
        ctx.check()
        urls = _urls(sample.data)
        f["ole.urls"] = float(len(urls))
        out.urls.extend(urls)
        dde = DDE_RE.search(sample.data)
        f["ole.dde"] = float(bool(dde))
        if dde:
            out.add("OFFICE_DDE", "DDE field code in the document text", sample.display_path)
