"""VBA macros (OLE, OOXML, Word/Excel 2003 XML and Flat OPC, MHTML) through oletools' VBA_Parser.

VBA_Parser finds the VBA projects; the modules are then read one by one (so the time budget is
checked between modules, and each module's p-code size is known for the stomping check) and the
source goes to `_office_vba.analyze`, not to olevba's slow analysis (its optional deobfuscator
alone can take seconds). An encrypted document whose VBA cannot be read writes no vba.*
features at all: missing, not "no macros".
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib

import olefile

from maldoc import filetype, olecompat
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec
from maldoc.olecompat import quiet
from maldoc.types import ExtractorResult, FileType, Flag, MacroSource, Sample

from . import _office_vba as analysis
from ._office_common import log2, open_ole, open_package

MACRO_KEEP_CHARS = 256 * 1024  # source kept per document for analysts (--show-macros)
MAX_MODULES = 500
OLE_MAGIC = olefile.MAGIC
MSO_MAGIC = b"ActiveMime"
# Base64 payloads of Word 2003 XML (<w:binData>) and Flat OPC (<pkg:binaryData>): bounded regex, no XML parser.
BINDATA_RE = re.compile(rb"<(?:[\w.-]+:)?bin(?:ary)?Data\b[^>]{0,400}>([A-Za-z0-9+/=\s]{16,})</", re.I)
XML_HEAD_RE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<", re.S)
PCODE_STRING_RE = re.compile(rb"[\x20-\x7e]{8,}")
# Raw-byte triage of OLE files. olevba finds VBA through storages with these names (MS-OVBA
# projects, Word 97 `Macros`, PowerPoint's embedded projects) or, in any stream, the compressed
# source's `Attribut\x00`. A stream's bytes may be split at 64-byte sector boundaries, but either
# half of that 9-byte marker holds one of these two pieces.
VBA_ENTRY_NAMES = frozenset({"vba", "_vba_project", "_vba_project_cur", "project", "projectwm", "dir", "macros",
                             "powerpoint document"})
VBA_MARKER_PIECES = (b"Attri", b"ibut\x00")
PCODE_IOC_RE = re.compile(rb"(?i)https?://|\.exe\b|powershell|cmd(?:\.exe)? /c|wscript\.shell|\.dll\b|\.vbs\b|\.hta\b")


def _mso_extract(data: bytes, cap: int) -> bytes | None:
    """The OLE file inside an ActiveMime blob, inflated within `cap` bytes (olevba's is unbounded)."""
    offsets = [0x32, 0x22A]
    if len(data) >= 0x20:
        offsets.insert(0, struct.unpack_from("<H", data, 0x1E)[0] + 46)
    offsets += [m.start() for m in re.finditer(rb"\x78[\x01\x5e\x9c\xda]", data[:4096])]
    for start in dict.fromkeys(offsets):
        try:
            inflater = zlib.decompressobj()
            out = inflater.decompress(data[start:], cap)
            if out.startswith(OLE_MAGIC):
                return out
        except zlib.error:
            continue
    return None


def _xml_projects(data: bytes, cap: int) -> list[tuple[str, bytes]]:
    """OLE VBA containers embedded as base64 in Word 2003 XML / Flat OPC."""
    found = []
    for i, m in enumerate(BINDATA_RE.finditer(data)):
        head = re.sub(rb"\s", b"", m.group(1)[:64])[:16]
        try:
            magic = base64.b64decode(head)
        except (binascii.Error, ValueError):
            continue
        if not (magic.startswith(MSO_MAGIC) or magic.startswith(OLE_MAGIC)):
            continue
        try:
            blob = base64.b64decode(re.sub(rb"\s", b"", m.group(1)))
        except (binascii.Error, ValueError):
            continue
        ole = _mso_extract(blob, cap) if blob.startswith(MSO_MAGIC) else blob
        if ole:
            found.append((f"binData[{i}]", ole))
    return found


class VbaExtractor(Extractor):
    name = "vba"
    version = 3
    detects = (TypeSpec("office_xml", filetype.is_office_xml, 50, "xml", "Word/Excel 2003 XML and Flat OPC"),)
    file_types = frozenset({FileType.OLE, FileType.OOXML, FileType.OFFICE_XML, FileType.MHTML})
    features = ("has_vba", "projects", "modules", "code_bytes_log2", "empty_modules", "pcode_only_modules",
                "stomping", "triage_skipped", *analysis.FEATURES)
    rules = ("VBA_MACROS", "VBA_STOMPING", *analysis.RULES)
    order = 30  # after officecrypto (10), which marks encrypted samples

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        encrypted = Flag.ENCRYPTED in out.flags or Flag.DECRYPTED in out.flags
        if sample.data.startswith(OLE_MAGIC) and not _may_hold_vba(sample.data):
            if not encrypted:  # what the full pass writes for a file without VBA, and that it was skipped
                out.features.update(dict.fromkeys(_NO_VBA, 0.0))
                out.features["vba.triage_skipped"] = 1.0
            return
        modules: list[tuple[str, str]] = []
        pcode_hits: list[str] = []
        stats = {"projects": 0, "empty": 0, "pcode_only": 0}
        failed = False
        for label, blob in self._containers(sample, ctx, out):
            ctx.check()
            try:
                self._read_container(label, blob, ctx, modules, pcode_hits, stats)
            except olecompat.olevba.FileOpenError:
                continue  # not a container VBA_Parser knows (e.g. plain MIME): no VBA there
            except (olecompat.olevba.OlevbaBaseException, OSError, ValueError, struct.error, KeyError, IndexError,
                    TypeError, AttributeError, zlib.error, RuntimeError) as exc:
                failed = True
                out.flag(Flag.PARSE_ERROR, f"vba: olevba failed ({type(exc).__name__})")
        if not modules and (encrypted or failed):
            return  # unknown, not "no macros"
        f = out.features
        f["vba.has_vba"] = float(bool(modules) or stats["projects"] > 0)
        f["vba.projects"] = float(stats["projects"])
        f["vba.modules"] = float(len(modules))
        code = "\n".join(c for _, c in modules)
        f["vba.code_bytes_log2"] = log2(len(code))
        f["vba.empty_modules"] = float(stats["empty"])
        f["vba.pcode_only_modules"] = float(stats["pcode_only"])
        f["vba.stomping"] = float(bool(pcode_hits))
        f["vba.triage_skipped"] = 0.0
        if not modules and not stats["projects"]:
            return
        out.add("VBA_MACROS", f"{len(modules)} modules, {len(code)} chars", sample.display_path)
        if pcode_hits:
            # Empty modules with p-code alone are common in benign files (document modules), so only
            # strings that the compiled code holds and the source lacks count as stomping.
            out.add("VBA_STOMPING", "p-code strings missing from source: " + ", ".join(pcode_hits[:3]),
                    sample.display_path)
        if len(code) > analysis.MAX_CODE_CHARS:
            out.flag(Flag.LIMIT_EXCEEDED, f"vba: {len(code)} chars of source, analysed {analysis.MAX_CODE_CHARS}")
        ctx.check()
        result = analysis.analyze(code)
        for key, value in result.features.items():
            f[f"vba.{key}"] = value
        for rule, evidence in result.findings:
            out.add(rule, evidence, sample.display_path)
        out.urls.extend(result.urls)
        if ctx.options.keep_macros:
            budget = MACRO_KEEP_CHARS
            for name, source in modules:
                if budget <= 0:
                    break
                out.macros.append(MacroSource(kind="vba", name=name, code=source[:budget]))
                budget -= len(source)

    # -- containers -----------------------------------------------------------------------------

    def _containers(self, sample: Sample, ctx: Context, out: ExtractorResult):
        """(label, bytes) pairs to hand to VBA_Parser: whole file, or the VBA parts of a package."""
        data = sample.data
        cap = min(ctx.limits.max_bytes, max(ctx.limits.max_decompressed_bytes - ctx.budget.inflated, 0))
        if data.startswith(OLE_MAGIC) or (not XML_HEAD_RE.match(data[:1024]) and not data.startswith(b"PK")):
            yield sample.name or "document", data  # OLE (and PowerPoint 97) or MHTML: VBA_Parser reads it whole
            return
        if data.startswith(b"PK"):
            try:
                package = open_package(data)
            except Exception:  # the ooxml extractor reports the broken package
                return
            for name in package.infos:
                low = name.lower()
                if "embeddings/" in low or "activex/" in low or not (low.endswith(".bin") or "vba" in low):
                    continue  # embeddings are scanned as children; ActiveX bins hold no VBA
                blob = package.read(name, ctx, out)
                if blob and blob.startswith(OLE_MAGIC):
                    yield name, blob
            return
        for label, blob in _xml_projects(data, cap):
            if ctx.budget.allow_inflate(len(blob)):
                yield label, blob
            else:
                out.flag(Flag.LIMIT_EXCEEDED, "vba: inflate budget spent on embedded VBA project")

    def _read_container(self, label: str, blob: bytes, ctx: Context, modules: list[tuple[str, str]],
                        pcode_hits: list[str], stats: dict[str, int]) -> None:
        with quiet():
            parser = olecompat.olevba.VBA_Parser(label, data=blob, relaxed=True)
        try:
            with quiet():
                if not parser.detect_vba_macros():
                    return
            parsers = [parser] if parser.ole_file is not None else list(parser.ole_subfiles)
            for sub in parsers:
                ctx.check()
                if sub.ole_file is None:
                    continue
                with quiet():
                    projects = sub.find_vba_projects() or []
                stats["projects"] += len(projects)
                before = len(modules)
                for vba_root, project_path, dir_path in projects:
                    self._read_project(sub.ole_file, vba_root, project_path, dir_path, ctx, modules,
                                       pcode_hits, stats)
                if len(modules) == before:  # project unreadable or orphaned code: olevba's own scan
                    with quiet():
                        for _, _, vba_filename, code in sub.extract_macros():
                            ctx.check()
                            if isinstance(code, str) and len(modules) < MAX_MODULES:
                                modules.append((str(vba_filename), code))
        finally:
            with quiet():
                parser.close()

    @staticmethod
    def _read_project(ole, vba_root, project_path, dir_path, ctx: Context, modules, pcode_hits, stats) -> None:
        try:
            with quiet():
                project = olecompat.olevba.VBA_Project(ole, vba_root, project_path, dir_path, relaxed=True)
                project.parse_project_stream()
                iterator = project.parse_modules()
        except (olecompat.olevba.OlevbaBaseException, OSError, ValueError, struct.error, IndexError, KeyError,
                TypeError):
            return
        while len(modules) < MAX_MODULES:
            ctx.check()
            try:
                with quiet():
                    _, filename, code = next(iterator)
            except StopIteration:
                break
            except (olecompat.olevba.OlevbaBaseException, OSError, ValueError, struct.error, IndexError, KeyError,
                    TypeError, AttributeError):
                break  # a broken module record ends the project (olevba's parser cannot resync)
            module = project.modules[-1]
            code = code if isinstance(code, str) else ""
            source = analysis.ATTRIBUTE_LINE_RE.sub("", code).strip()
            pcode = _pcode(ole, module)
            if not source:
                stats["empty"] += 1
                if len(pcode) > 512:
                    stats["pcode_only"] += 1
            if pcode:
                low = code.lower()
                for m in PCODE_STRING_RE.finditer(pcode):
                    text = m.group().decode("latin-1")
                    if PCODE_IOC_RE.search(m.group()) and text.lower() not in low:
                        pcode_hits.append(text[:60])
            modules.append((str(filename or module.name), code))


_NO_VBA = ("vba.has_vba", "vba.projects", "vba.modules", "vba.code_bytes_log2", "vba.empty_modules",
           "vba.pcode_only_modules", "vba.stomping")


def _may_hold_vba(data: bytes) -> bool:
    """False only when olevba could find no VBA in this OLE file: no VBA/macro/PowerPoint entry
    in its directory and no piece of the compressed-source marker anywhere in its bytes."""
    if any(piece in data for piece in VBA_MARKER_PIECES):
        return True
    try:
        ole = open_ole(data)
        with quiet():
            entries = ole.listdir(streams=True, storages=True)
    except Exception:
        return True  # let olevba meet (and report) what olefile cannot read
    return any(part.lower() in VBA_ENTRY_NAMES for entry in entries for part in entry)


def _pcode(ole, module) -> bytes:
    """The compiled p-code part of a module stream (before the compressed source)."""
    path = getattr(module, "code_path", None)
    offset = getattr(module, "textoffset", 0) or 0
    if not path or offset <= 0:
        return b""
    try:
        with ole.openstream(path) as stream:
            return stream.read(min(offset, 4 << 20))
    except OSError:
        return b""
