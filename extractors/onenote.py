"""OneNote sections (.one): embedded files come out as children, scripts and executables flagged.

Attackers (Qakbot, AsyncRAT, IcedID campaigns of 2023) hide a .hta, .cmd, .vbs or .exe behind a
"double click to view" picture; OneNote runs it on a double click. Every embedded file, picture or
payload, is stored in a FileDataStoreObject ([MS-ONESTORE] 2.6.13): a header GUID, a uint64 length
at +16 and the bytes at +36. Finding them by GUID needs no parse of the revision store, survives
broken files and is what Strelka and one-extract do too.

File names live elsewhere, in property sets, as UTF-16 strings; they are not linked to the data
here (that needs the whole object-space graph), so each object gets the first unused name found in
the file whose extension fits its content, else `embedded-N.<kind>`.
"""

from __future__ import annotations

import math
import os
import re

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.extractors import _mail_sniff as sniff
from maldoc.filetype import TypeSpec, risky_name
from maldoc.types import ExtractorResult, FileType, Flag, Sample

FDSO_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")  # {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}
DATA_OFFSET = 36  # guid (16) + cbLength (8) + unused (4) + reserved (8)
MAX_NAMES = 500
# Anchored at the start of a UTF-16 run (lookbehind), so a long run costs one bounded attempt, not one per byte.
_UTF16_NAME = re.compile(
    rb"(?<![\x20-\x7e]\x00)(?:[\x20-\x7e]\x00){1,200}\.\x00(?:[A-Za-z0-9]\x00){1,8}(?![A-Za-z0-9]\x00)")

# Extensions that may carry content of a given sniffed kind (a .cmd holds what sniffs as "bat").
_FITS = {
    "bat": {".bat", ".cmd"}, "vbs": {".vbs", ".vbe"}, "js": {".js", ".jse"}, "ps1": {".ps1", ".psm1"},
    "hta": {".hta", ".htm", ".html"}, "html": {".htm", ".html", ".hta", ".svg"}, "svg": {".svg", ".html", ".htm"},
    "wsf": {".wsf", ".wsh"},
    "exe": {".exe", ".scr", ".dll", ".com", ".pif", ".cpl", ".sys", ".ocx"}, "lnk": {".lnk"},
    "doc": {".doc", ".xls", ".ppt", ".msg", ".msi", ".dot", ".xla", ".pub", ".vsd"},
    "docx": {".docx", ".docm", ".xlsx", ".xlsm", ".xlsb", ".pptx", ".pptm", ".dotm", ".xltm"},
    "zip": {".zip", ".jar", ".apk"}, "pdf": {".pdf"}, "rtf": {".rtf", ".doc"}, "png": {".png"},
    "jpg": {".jpg", ".jpeg"}, "gif": {".gif"}, "one": {".one"}, "eml": {".eml"},
    "txt": {".txt", ".bat", ".cmd", ".vbs", ".js", ".ps1", ".csv", ".log", ".wsf", ".hta"},
}


def embedded_names(data: bytes, ctx: Context) -> list[str]:
    """Distinct base names with an extension, stored as UTF-16LE strings, in file order."""
    names: list[str] = []
    for i, match in enumerate(_UTF16_NAME.finditer(data)):
        if i % 256 == 0:
            ctx.check()
        text = match.group(0).decode("utf-16-le", "replace").strip()
        base = re.split(r"[\\/]", text)[-1].strip()
        if base.startswith(".") or " " in base.rsplit(".", 1)[-1] or base in names:
            continue
        names.append(base)
        if len(names) >= MAX_NAMES:
            break
    return names


def _pick_name(kind: str, names: list[str], used: set[str]) -> str | None:
    fits = _FITS.get(kind, set())
    for name in names:
        if name not in used and os.path.splitext(name)[1].lower() in fits:
            return name
    return None


class OneNoteExtractor(Extractor):
    name = "onenote"
    version = 1
    detects = (TypeSpec("onenote", filetype.is_onenote, 11, "one", "OneNote section"),)
    file_types = frozenset({FileType.ONENOTE})
    features = (
        "embedded_files", "embedded_bytes_log2", "images", "scripts", "executables", "documents",
        "risky_names", "names", "truncated_objects",
    )
    rules = ("ONENOTE_EMBEDDED_SCRIPT", "ONENOTE_EMBEDDED_EXECUTABLE", "ONENOTE_RISKY_NAME",
             "ONENOTE_EMBEDDED_FILE")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        data = sample.data
        names = embedded_names(data, ctx)
        used: set[str] = set()
        f = out.features
        counts = dict.fromkeys(("embedded_files", "images", "scripts", "executables", "documents",
                                "truncated_objects"), 0)
        total = 0
        pending: list[tuple[int, bytes, str]] = []
        pos = data.find(FDSO_GUID)
        while pos != -1:
            ctx.check()
            if counts["embedded_files"] >= 4 * ctx.limits.max_children:  # a loop bound; the context limits children
                out.flag(Flag.LIMIT_EXCEEDED, f"onenote: more than {4 * ctx.limits.max_children} embedded files")
                break
            if pos + DATA_OFFSET > len(data):
                counts["truncated_objects"] += 1
                out.flag(Flag.TRUNCATED, f"onenote: file data object header cut at offset {pos}")
                break
            size = int.from_bytes(data[pos + 16:pos + 24], "little")
            start = pos + DATA_OFFSET
            if start + size > len(data):
                counts["truncated_objects"] += 1
                out.flag(Flag.TRUNCATED, f"onenote: embedded file at {pos} declares {size} bytes, "
                                         f"{len(data) - start} present")
            payload = data[start:start + size]
            pos = data.find(FDSO_GUID, start + len(payload))  # never re-find a GUID inside a payload
            if not payload:
                continue
            counts["embedded_files"] += 1
            total += len(payload)
            pending.append((counts["embedded_files"], payload, sniff.kind(payload)))

        # Risky payloads claim names first, so "Open.cmd" goes to the script, not to a picture.
        pending.sort(key=lambda p: (p[2] in sniff.IMAGE_KINDS, p[0]))
        children: list[tuple[int, tuple[bytes, str]]] = []
        for index, payload, kind in pending:
            name = _pick_name(kind, names, used)
            if name is None:
                name = f"embedded-{index}.{kind}"
            used.add(name)
            location = f"{sample.display_path} > {name}"
            if kind in sniff.IMAGE_KINDS:
                counts["images"] += 1
            elif kind in sniff.SCRIPT_KINDS:
                counts["scripts"] += 1
                out.add("ONENOTE_EMBEDDED_SCRIPT", f"{name}: {kind} script, {len(payload)} bytes", location)
            elif kind in sniff.BINARY_RISKY_KINDS:
                counts["executables"] += 1
                out.add("ONENOTE_EMBEDDED_EXECUTABLE", f"{name}: {kind}, {len(payload)} bytes", location)
            elif kind not in ("txt", "bin"):
                counts["documents"] += 1
            if not (kind in sniff.IMAGE_KINDS or kind in sniff.SCRIPT_KINDS or kind in sniff.BINARY_RISKY_KINDS):
                out.add("ONENOTE_EMBEDDED_FILE", f"{name}: {kind}, {len(payload)} bytes", location)
            children.append((index, (payload, name)))
        for _, child in sorted(children, key=lambda c: c[0]):  # in file order
            ctx.emit(out, sample, child[0], child[1], charge=False)  # the section's own bytes

        risky = [n for n in names if risky_name(n)]
        for name in risky[:10]:
            out.add("ONENOTE_RISKY_NAME", name, sample.display_path)
        f.update({f"onenote.{k}": float(v) for k, v in counts.items()})
        f["onenote.embedded_bytes_log2"] = math.log2(total + 1)
        f["onenote.risky_names"] = float(len(risky))
        f["onenote.names"] = float(len(names))
