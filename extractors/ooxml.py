"""OOXML packages (.docx .docm .xlsx .xlsm .pptx ...): relationships, DDE, ActiveX, embeddings.

Relationship parts are parsed with defusedxml (no DTDs, no entity expansion, no external
entities); the large content parts are only scanned with bounded regexes for field codes.
External relationship targets go to `out.urls` for the URL features; the dangerous ones
(attachedTemplate, oleObject, frames, mhtml:, ms-msdt:, UNC) become findings. Embedded objects
are emitted as children. VBA and XLM have their own extractors.
"""

from __future__ import annotations

import os
import re
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec, risky_name
from maldoc.types import ExtractorResult, FileType, Flag, Sample

from ._office_common import open_package
from ._office_images import media_pictures
from .urls import find_urls

MAX_PARTS_SCANNED = 400
XML_PART_CAP = 32 << 20  # bytes of one XML part read for scanning
MACRO_TYPES = ("macroenabled", "vbaproject", "ms-office.vbaproject", "ms-excel.intl.macrosheet",
               "ms-excel.macrosheet")
MACRO_FREE_EXTS = frozenset({".docx", ".dotx", ".xlsx", ".xltx", ".pptx", ".potx", ".ppsx"})
INSTR_RE = re.compile(rb"<w:instrText\b[^>]*>([^<]*)</w:instrText>|w:instr=\"([^\"]*)\"", re.I)
DDE_FIELD_RE = re.compile(r"(?i)^\s*DDE(?:AUTO)?\b")
REMOTE_FIELD_RE = re.compile(r"(?i)^\s*(?:INCLUDEPICTURE|INCLUDETEXT|IMPORT|LINK)\b")
DDE_LINK_RE = re.compile(rb"<(?:\w+:)?ddeLink\b[^>]*ddeService=\"([^\"]{0,200})\"(?:[^>]*ddeTopic=\"([^\"]{0,500})\")?",
                         re.I)
ONLOAD_RE = re.compile(rb"\bonLoad=\"([^\"]{1,200})\"", re.I)
DTD_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
EMBED_DIRS = ("embeddings/", "activex/", "media/")


def location(target: str) -> str:
    """'remote' (fetched from the network), 'unc' (a network share) or 'local' (this machine, or a name)."""
    low = target.strip().lower().replace("\\", "/")
    if low.startswith("//"):
        return "unc"
    if low.startswith("file:"):
        rest = low[5:].lstrip("/") if low.startswith("file:///") else low[5:].removeprefix("//")
        host = rest.split("/", 1)[0]
        if low.startswith("file:///") or host in ("", "localhost", "127.0.0.1") or re.match(r"^[a-z][:|]$", host):
            return "local"
        return "unc"
    if re.match(r"^[a-z][a-z0-9+.-]{1,20}:", low) and not re.match(r"^[a-z]:", low):
        return "remote"  # http:, https:, ftp:, mhtml:, ms-msdt:, search-ms:, ...
    return "local"


def _rel_kind(rtype: str) -> str:
    return rtype.rsplit("/", 1)[-1].lower()


class OoxmlExtractor(Extractor):
    name = "ooxml"
    version = 3
    detects = (TypeSpec("ooxml", filetype.zip_family(FileType.OOXML), 20, "docx", "Office Open XML package"),
               TypeSpec("ooxml", filetype.zip_family(FileType.OOXML, prefixed=True), 90, "docx"),)
    file_types = frozenset({FileType.OOXML})
    features = (
        "parts", "rels", "external_rels", "remote_templates", "external_oleobjects", "external_frames",
        "mhtml_targets", "msdt_targets", "unc_targets", "local_targets", "hyperlinks", "urls", "dde_fields",
        "remote_fields",
        "activex_controls", "embeddings", "customui_onload", "macro_content_type", "macro_type_mismatch",
        "vba_project", "macrosheets", "xml_entities", "non_xml_parts",
    )
    rules = ("OOXML_REMOTE_TEMPLATE", "OOXML_EXTERNAL_OLE", "OOXML_EXTERNAL_FRAME", "OOXML_MHTML_LINK",
             "OOXML_MSDT_LINK", "OOXML_UNC_TARGET", "OFFICE_DDE", "OOXML_ACTIVEX", "OOXML_CUSTOMUI_ONLOAD",
             "OOXML_MACRO_TYPE_MISMATCH", "OOXML_EMBEDDED_OBJECT", "OOXML_XML_ENTITY")
    order = 20

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            package = open_package(sample.data, sample)
        except Exception as exc:
            text = str(exc).lower()
            out.flag(Flag.TRUNCATED if "truncated" in text or "end-of-central" in text else Flag.PARSE_ERROR,
                     f"ooxml: unreadable package ({type(exc).__name__}: {exc})")
            return
        f = out.features
        for name in self.features:
            f[f"ooxml.{name}"] = 0.0
        f["ooxml.parts"] = float(len(package.infos))
        self._content_types(sample, package, ctx, out)
        self._relationships(sample, package, ctx, out)
        self._content(sample, package, ctx, out)
        self._embeddings(sample, package, ctx, out)

    # -- [Content_Types].xml --------------------------------------------------------------------

    def _content_types(self, sample, package, ctx, out) -> None:
        name = package.find("[Content_Types].xml")
        data = package.read(name, ctx, out, XML_PART_CAP) if name else None
        if data is None:
            out.flag(Flag.PARSE_ERROR, "ooxml: [Content_Types].xml unreadable")
            return
        types = [t.lower() for t in re.findall(rb'ContentType="([^"]{1,300})"', data)]
        macro = [t for t in types if any(m.encode() in t for m in MACRO_TYPES)]
        f = out.features
        f["ooxml.macro_content_type"] = float(len(macro))
        f["ooxml.vba_project"] = float(any(b"vbaproject" in t for t in types) or
                                       any(n.lower().endswith("vbaproject.bin") for n in package.infos))
        f["ooxml.macrosheets"] = float(sum(b"macrosheet" in t for t in types))
        ext = os.path.splitext(sample.name.lower())[1]
        if macro and ext in MACRO_FREE_EXTS:
            f["ooxml.macro_type_mismatch"] = 1.0
            out.add("OOXML_MACRO_TYPE_MISMATCH", f"{sample.name}: {macro[0].decode()}", sample.display_path)

    # -- relationships --------------------------------------------------------------------------

    def _relationships(self, sample, package, ctx, out) -> None:
        f = out.features
        rels = [n for n in package.infos if n.lower().endswith(".rels")][:MAX_PARTS_SCANNED]
        for name in rels:
            ctx.check()
            data = package.read(name, ctx, out, XML_PART_CAP)
            if not data:
                continue
            root = self._parse(name, data, sample, out)
            if root is None:
                continue
            for rel in root.iter():
                if not str(rel.tag).endswith("Relationship"):
                    continue
                f["ooxml.rels"] += 1
                target = (rel.get("Target") or "").strip()
                kind = _rel_kind(rel.get("Type") or "")
                self._target(sample, name, kind, target, (rel.get("TargetMode") or "").lower() == "external", out)

    def _target(self, sample, part: str, kind: str, target: str, external: bool, out: ExtractorResult) -> None:
        f = out.features
        low = target.lower()
        where = f"{sample.display_path} > {part}"
        if low.startswith("mhtml:") or "mhtml:" in low[:40]:
            f["ooxml.mhtml_targets"] += 1
            out.add("OOXML_MHTML_LINK", target, where)
        if "ms-msdt:" in low or (kind == "oleobject" and external and low.endswith("!")):
            f["ooxml.msdt_targets"] += 1
            out.add("OOXML_MSDT_LINK", target, where)
        if not external:
            return
        f["ooxml.external_rels"] += 1
        place = location(target)
        if place == "local":
            f["ooxml.local_targets"] += 1  # a template or linked file on the author's own disk
        if kind == "hyperlink":
            f["ooxml.hyperlinks"] += 1
        elif place == "local":
            pass
        elif kind == "attachedtemplate":
            f["ooxml.remote_templates"] += 1
            out.add("OOXML_REMOTE_TEMPLATE", target, where)
        elif kind == "oleobject":
            f["ooxml.external_oleobjects"] += 1
            out.add("OOXML_EXTERNAL_OLE", target, where)
        elif kind in ("frame", "subdocument", "afchunk"):
            f["ooxml.external_frames"] += 1
            out.add("OOXML_EXTERNAL_FRAME", f"{kind}: {target}", where)
        if kind != "hyperlink" and place == "unc":
            f["ooxml.unc_targets"] += 1
            out.add("OOXML_UNC_TARGET", target, where)
        urls = find_urls(target, namespaces=False)
        if not urls and "://" in target:
            urls = [target.split("mhtml:", 1)[-1].split("!", 1)[0]]
        f["ooxml.urls"] += len(urls)
        out.urls.extend(urls)

    def _parse(self, name: str, data: bytes, sample: Sample, out: ExtractorResult):
        if DTD_RE.search(data[:4096]):
            out.features["ooxml.xml_entities"] += 1
            out.add("OOXML_XML_ENTITY", name, sample.display_path)
        try:
            return DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as exc:
            out.flag(Flag.PARSE_ERROR, f"ooxml: an XML part refused ({type(exc).__name__})")
        except (ParseError, ValueError) as exc:
            out.flag(Flag.PARSE_ERROR, f"ooxml: an XML part is malformed ({type(exc).__name__})")
        return None

    # -- content parts: fields, DDE, ActiveX, customUI --------------------------------------------

    def _content(self, sample, package, ctx, out) -> None:
        f = out.features
        dde: list[str] = []
        remote: list[str] = []
        scanned = 0
        for name in package.infos:
            low = name.lower()
            if not low.endswith(".xml") or scanned >= MAX_PARTS_SCANNED:
                continue
            interesting = (low.startswith("word/") and not low.startswith("word/theme")) or \
                low.startswith(("xl/externallinks/", "customui/", "ppt/slides/")) or "/activex/" in low or \
                low.startswith("xl/activex")
            if not interesting:
                continue
            ctx.check()
            scanned += 1
            data = package.read(name, ctx, out, XML_PART_CAP)
            if not data:
                continue
            if DTD_RE.search(data[:4096]):
                f["ooxml.xml_entities"] += 1
                out.add("OOXML_XML_ENTITY", name, sample.display_path)
            if low.startswith("word/"):
                instr = "".join((a or b).decode("utf-8", "replace") for a, b in INSTR_RE.findall(data))
                for field in re.split(r"(?=\b(?:DDEAUTO|DDE|INCLUDEPICTURE|INCLUDETEXT|IMPORT|LINK)\b)", instr):
                    if DDE_FIELD_RE.match(field):
                        dde.append(field.strip()[:120])
                    elif REMOTE_FIELD_RE.match(field) and "://" in field:
                        remote.append(field.strip()[:120])
                        out.urls.extend(find_urls(field, namespaces=False))
            for service, topic in DDE_LINK_RE.findall(data):
                dde.append(f"{service.decode('utf-8', 'replace')}|{topic.decode('utf-8', 'replace')}")
            if "/activex/" in low or low.startswith("xl/activex"):
                f["ooxml.activex_controls"] += 1
            if low.startswith("customui/"):
                m = ONLOAD_RE.search(data)
                if m:
                    f["ooxml.customui_onload"] += 1
                    out.add("OOXML_CUSTOMUI_ONLOAD", m.group(1).decode("utf-8", "replace"),
                            f"{sample.display_path} > {name}")
        f["ooxml.dde_fields"] = float(len(dde))
        f["ooxml.remote_fields"] = float(len(remote))
        if dde:
            out.add("OFFICE_DDE", "; ".join(dde[:3]), sample.display_path)
        if f["ooxml.activex_controls"]:
            out.add("OOXML_ACTIVEX", f"{f['ooxml.activex_controls']:.0f} ActiveX controls", sample.display_path)

    # -- embedded files ---------------------------------------------------------------------------

    def _embeddings(self, sample, package, ctx, out) -> None:
        f = out.features
        embedded: list[str] = []
        for name in package.infos:
            low = name.lower()
            is_embedding = "/embeddings/" in low or low.startswith("embeddings/")
            odd = not low.endswith((".xml", ".rels", ".bin")) and not any(d in low for d in EMBED_DIRS) \
                and not low.startswith(("docprops/", "_xmlsignatures/", "customxml/"))
            if odd:
                f["ooxml.non_xml_parts"] += 1
            if not (is_embedding or risky_name(name)):
                continue
            ctx.check()
            data = package.read(name, ctx, out)
            if data and ctx.emit(out, sample, data, name, charge=False):  # read() charged the budget
                embedded.append(name)
        f["ooxml.embeddings"] = float(len(embedded))
        if embedded:
            out.add("OOXML_EMBEDDED_OBJECT", ", ".join(embedded[:5]), sample.display_path)
        for name in media_pictures(package.infos):  # pictures: QR-code lures are read from them
            ctx.check()
            picture = package.read(name, ctx, out)
            if picture:
                ctx.emit(out, sample, picture, name, charge=False)
