"""RTF documents: embedded objects (rtfobj), exploit classes, auto-update, obfuscation signs.

Objects are found by `_rtf_scan.ObjectScanner` (rtfobj's rules in one linear pass; they reproduce
Word's quirks: odd hex digits, `\\'hh` inside hex, `\\bin`) and decoded by rtfobj, so they are what
Word would load. A document without `\\obj*` or `\\bin` is not scanned for objects at all
(`rtf.triage_skipped`). Each object's payload goes out as a child: the Package's file under its own
name, an OLE2 object as `<class>.bin`, anything else raw.
"""

from __future__ import annotations

import re

import numpy as np
import olefile

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec, risky_name
from maldoc.olecompat import quiet
from maldoc.types import ExtractorResult, FileType, Flag, Sample

from ._office_common import log2
from .urls import find_urls

HEADER_RE = re.compile(rb"^\s*\{\\rtf1(?![0-9a-zA-Z])")
CONTROL_WORD_RE = re.compile(rb"\\[a-zA-Z]{1,32}-?\d{0,10}")
# Starts only where a run starts: without the lookbehind, every shorter run is rescanned from each
# of its characters (a quadratic pass over hex-heavy documents).
HEX_RUN_RE = re.compile(rb"(?<![0-9a-fA-F\r\n])[0-9a-fA-F\r\n]{4096,}")
OBJUPDATE_RE = re.compile(rb"\\objupdate(?![a-zA-Z])")
OBJAUTLINK_RE = re.compile(rb"\\objautlink(?![a-zA-Z])")
OBJDATA_RE = re.compile(rb"\\objdata(?![a-zA-Z])")
OBJECT_RE = re.compile(rb"\\object(?![a-zA-Z])")
BIN_RE = re.compile(rb"\\bin\d")
EQUATION_NAMES = ("equation.3", "equation native", "equation.dsmt", "equation")
OLE2LINK_CLSIDS = frozenset({"00000300-0000-0000-C000-000000000046", "79EAC9E0-BAF9-11CE-8C82-00AA004BA90B",
                             "3050F4D8-98B5-11CF-BB82-00AA00BDCE0B"})
EQUATION_CLSIDS = frozenset({"0002CE02-0000-0000-C000-000000000046", "0002CE03-0000-0000-C000-000000000046"})
MAX_OBJECTS = 500


# Raw-byte triage: without one of these, rtfobj's parser can find no object (objects come only from
# `\\objdata`) and cannot fail (a backslash at the end, or a control word over 250 letters).
TRIAGE_WORDS = (b"\\obj", b"\\bin")
LONG_WORD_RE = re.compile(rb"\\[a-zA-Z]{251}")


def needs_object_parse(data: bytes) -> bool:
    return any(w in data for w in TRIAGE_WORDS) or data.endswith(b"\\") or LONG_WORD_RE.search(data) is not None


def _clean(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    return str(value or "").strip("\x00").strip()


class RtfExtractor(Extractor):
    name = "rtf"
    version = 3
    detects = (TypeSpec("rtf", filetype.is_rtf, 30, "rtf", "Rich Text Format"),)
    file_types = frozenset({FileType.RTF})
    features = ("objects", "ole_objects", "packages", "package_risky", "ole2link", "equation", "exploit_clsid",
                "objupdate", "objautlink", "header_anomaly", "control_words_per_kb", "max_hex_run_log2",
                "bin_controls", "objdata_controls", "object_controls", "max_depth", "urls", "size_log2",
                "triage_skipped")
    rules = ("RTF_OBJECT", "RTF_OLE2LINK", "RTF_EQUATION", "RTF_KNOWN_EXPLOIT_CLSID", "RTF_PACKAGE",
             "OFFICE_PACKAGE_EXECUTABLE", "RTF_OBJUPDATE", "RTF_HEADER_ANOMALY", "RTF_OBFUSCATION")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        data = sample.data
        f = out.features
        where = sample.display_path
        f["rtf.size_log2"] = log2(len(data))
        self._structure(data, sample, ctx, out)
        ctx.check()
        f["rtf.triage_skipped"] = float(not needs_object_parse(data))
        objects, total = [], 0
        if not f["rtf.triage_skipped"]:
            from ._rtf_scan import ObjectScanner  # and rtfobj: only for documents that may hold objects

            scanner = ObjectScanner(data, MAX_OBJECTS, ctx.check)
            try:
                with quiet():
                    scanner.scan()
            except (ValueError, IndexError, TypeError, RecursionError, UnicodeError) as exc:
                out.flag(Flag.PARSE_ERROR, f"rtf: rtfobj failed ({type(exc).__name__})")
            objects, total = scanner.objects, scanner.total
        counts = dict.fromkeys(("objects", "ole_objects", "packages", "package_risky", "ole2link", "equation",
                                "exploit_clsid"), 0.0)
        for i, obj in enumerate(objects):
            ctx.check()
            counts["objects"] += 1
            self._object(i, obj, sample, ctx, out, counts)
        if total > MAX_OBJECTS:
            out.flag(Flag.LIMIT_EXCEEDED, f"rtf: {total} objects, read {MAX_OBJECTS}")
        for key, value in counts.items():
            f[f"rtf.{key}"] = value
        if counts["objects"]:
            out.add("RTF_OBJECT", f"{counts['objects']:.0f} objects", where)

    def _structure(self, data: bytes, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        f = out.features
        where = sample.display_path
        header = not HEADER_RE.match(data[:64].lstrip(b"\xef\xbb\xbf"))
        f["rtf.header_anomaly"] = float(header)
        if header:
            out.add("RTF_HEADER_ANOMALY", repr(data[:12])[2:-1], where)
        words = len(CONTROL_WORD_RE.findall(data))
        f["rtf.control_words_per_kb"] = words / max(len(data) / 1024, 1.0)
        ctx.check()
        longest = max((len(m.group()) for m in HEX_RUN_RE.finditer(data)), default=0)
        f["rtf.max_hex_run_log2"] = log2(longest)
        bins = len(BIN_RE.findall(data))
        f["rtf.bin_controls"] = float(bins)
        f["rtf.objdata_controls"] = float(len(OBJDATA_RE.findall(data)))
        f["rtf.object_controls"] = float(len(OBJECT_RE.findall(data)))
        update = len(OBJUPDATE_RE.findall(data))
        autlink = len(OBJAUTLINK_RE.findall(data))
        f["rtf.objupdate"] = float(update)
        f["rtf.objautlink"] = float(autlink)
        if update or autlink:
            out.add("RTF_OBJUPDATE", ("\\objupdate " if update else "") + ("\\objautlink" if autlink else ""), where)
        f["rtf.max_depth"] = float(deepest := _max_depth(data))
        reasons = []
        if longest >= 1 << 20 and not f["rtf.objdata_controls"]:
            reasons.append(f"{longest}-char hex run outside any \\objdata")
        if bins and f["rtf.objdata_controls"]:
            reasons.append("\\bin data next to objects")
        if deepest > 300:
            reasons.append(f"groups nested {deepest} deep")
        if len(data) > 4096 and f["rtf.control_words_per_kb"] > 300:
            reasons.append(f"{f['rtf.control_words_per_kb']:.0f} control words per KB")
        if reasons:
            out.add("RTF_OBFUSCATION", "; ".join(reasons), where)
        urls = find_urls(data[: 8 << 20].decode("latin-1"), namespaces=False)
        f["rtf.urls"] = float(len(urls))
        out.urls.extend(urls)

    def _object(self, i: int, obj, sample: Sample, ctx: Context, out: ExtractorResult, counts: dict) -> None:
        where = f"{sample.display_path} > object {i}"
        class_name = _clean(obj.class_name)
        low = class_name.lower()
        clsid = _clean(obj.clsid).upper()
        payload: bytes | None = None
        name = f"object{i}.bin"
        if obj.is_ole:
            counts["ole_objects"] += 1
            payload = obj.oledata
            name = f"object{i}_{re.sub(r'[^A-Za-z0-9._-]', '_', class_name)[:40] or 'ole'}.bin"
        else:
            payload = obj.rawdata
        if low.startswith("ole2link") or clsid in OLE2LINK_CLSIDS:
            counts["ole2link"] += 1
            out.add("RTF_OLE2LINK", class_name or clsid, where)
            if payload:
                out.urls.extend(find_urls(payload.replace(b"\x00", b"").decode("latin-1"), namespaces=False))
        if low.startswith(EQUATION_NAMES) or clsid in EQUATION_CLSIDS or (
                payload and payload.startswith(olefile.MAGIC) and b"E\x00q\x00u\x00a\x00t\x00i\x00o\x00n\x00"
                b" \x00N\x00a\x00t\x00i\x00v\x00e" in payload[:65536]):
            counts["equation"] += 1
            out.add("RTF_EQUATION", class_name or clsid, where)
        desc = _clean(obj.clsid_desc)
        if "CVE" in desc:
            counts["exploit_clsid"] += 1
            out.add("RTF_KNOWN_EXPLOIT_CLSID", f"{clsid}: {desc}", where)
        if obj.is_package:
            counts["packages"] += 1
            filename = _clean(obj.filename) or f"package{i}"
            out.add("RTF_PACKAGE", filename, where)
            if risky_name(filename):
                counts["package_risky"] += 1
                out.add("OFFICE_PACKAGE_EXECUTABLE", filename, where)
            payload, name = obj.olepkgdata, filename.replace("\\", "/").rsplit("/", 1)[-1] or f"package{i}"
        if payload:
            ctx.emit(out, sample, bytes(payload), name)


def _max_depth(data: bytes) -> int:
    """Deepest `{` group nesting (escaped braces are rare enough to ignore)."""
    arr = np.frombuffer(data[: 16 << 20], dtype=np.uint8)
    steps = (arr == 0x7B).astype(np.int32) - (arr == 0x7D).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0)) if len(steps) else 0
