"""PowerPoint OOXML (.pptx .pptm .ppsx .ppsm): slide action settings that run programs or macros.

A shape's click or mouse-over action is an `a:hlinkClick` / `a:hlinkMouseOver` element whose
`action` is `ppaction://program` (run a program), `ppaction://macro?name=...` (run a macro), or a
hyperlink whose relationship target is the file to open. A .ppsx/.ppsm opens straight into slide
show, so a mouse-over action there needs no click at all (2017-2018 malspam used exactly that to
start PowerShell). Relationship targets in general are the OOXML extractor's business (external
OLE objects, remote templates); this reads only the slides' actions and the targets they name.
Macros themselves (ppt/vbaProject.bin in .pptm/.ppsm) are read by the VBA extractor.
"""

from __future__ import annotations

import html
import re
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from maldoc.extractor import Context, Extractor
from maldoc.extractors._office_common import open_package
from maldoc.filetype import risky_name
from maldoc.types import ExtractorResult, FileType, Flag, Sample

MAX_SLIDES = 500
MAX_FINDINGS_PER_PART = 10
MAX_ACTIONS = 20000
_HLINK = re.compile(rb"<(?:[\w.-]{1,32}:)?(hlinkClick|hlinkMouseOver)\b([^>]{0,4096})>")
_ACTION = re.compile(rb"""\saction\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RID = re.compile(rb"""\s[\w.-]{1,32}:id\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attr(attrs: bytes, pattern: re.Pattern[bytes]) -> str:
    m = pattern.search(attrs)
    if m is None:
        return ""
    return html.unescape((m.group(1) if m.group(1) is not None else m.group(2)).decode("utf-8", "replace")).strip()
PART_CAP = 8 << 20
_SLIDE_DIRS = ("ppt/slides/", "ppt/slidelayouts/", "ppt/slidemasters/")
_SLIDESHOW_TYPES = ("presentationml.slideshow", "slideshow.macroenabled")


def _rels(package, part: str, ctx: Context, out: ExtractorResult) -> dict[str, tuple[str, bool]]:
    """rId -> (target, external) of one part's relationships."""
    folder, _, base = part.rpartition("/")
    name = package.find(f"{folder}/_rels/{base}.rels")
    if name is None:
        return {}
    data = package.read(name, ctx, out, PART_CAP)
    if not data:
        return {}
    try:
        root = DET.fromstring(data)
    except (ParseError, DefusedXmlException, ValueError):
        out.flag(Flag.PARSE_ERROR, "pptx: unreadable slide relationships")
        return {}
    return {el.get("Id", ""): (el.get("Target", ""), el.get("TargetMode", "").lower() == "external")
            for el in root if el.tag.endswith("Relationship")}


def _external_count(package, part: str, ctx: Context, out: ExtractorResult) -> int:
    """External relationships of a part without parsing its XML (the count is all that is needed)."""
    folder, _, base = part.rpartition("/")
    name = package.find(f"{folder}/_rels/{base}.rels")
    data = package.read(name, ctx, out, PART_CAP) if name else None
    return data.count(b'TargetMode="External"') if data else 0


class PptxExtractor(Extractor):
    name = "pptx"
    version = 1
    file_types = frozenset({FileType.OOXML})
    features = ("slides", "actions", "program_actions", "macro_actions", "hover_actions", "risky_link_targets",
                "external_slide_rels", "slideshow", "macro_enabled")
    rules = ("PPT_ACTION_RUN_PROGRAM", "PPT_ACTION_MACRO", "PPT_HOVER_ACTION", "PPT_LINK_TO_PROGRAM")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            package = open_package(sample.data, sample)
        except Exception:  # the OOXML extractor reports a broken package
            return
        if package.find("ppt/presentation.xml") is None:
            return
        counts = dict.fromkeys(self.features, 0.0)
        types = package.read(package.find("[Content_Types].xml") or "", ctx, out, PART_CAP) or b""
        low_types = types.lower()
        counts["slideshow"] = float(any(t.encode() in low_types for t in _SLIDESHOW_TYPES))
        counts["macro_enabled"] = float(b"macroenabled" in low_types or package.find("ppt/vbaProject.bin") is not None)
        parts = sorted(n for n in package.infos if n.lower().startswith(_SLIDE_DIRS) and n.lower().endswith(".xml"))
        counts["slides"] = float(sum(n.lower().startswith("ppt/slides/") for n in parts))
        for part in parts[:MAX_SLIDES]:
            ctx.check()
            self._part(sample, package, part, ctx, out, counts)
        out.features.update({f"pptx.{k}": v for k, v in counts.items()})

    def _part(self, sample: Sample, package, part: str, ctx: Context, out: ExtractorResult, counts: dict) -> None:
        data = package.read(part, ctx, out, PART_CAP)
        if not data or (b"hlink" not in data and b"ppaction" not in data):
            counts["external_slide_rels"] += _external_count(package, part, ctx, out)  # no action to resolve
            return
        rels = _rels(package, part, ctx, out)
        counts["external_slide_rels"] += sum(ext for _, ext in rels.values())
        where = f"{sample.display_path} > {part}"
        found: dict[tuple[str, str], None] = {}  # distinct (rule, evidence), in order
        # The action elements are empty elements with two attributes of interest; reading them with a
        # bounded pattern is ~50x faster than parsing slides full of text runs (same answers).
        for i, m in enumerate(_HLINK.finditer(data)):
            if i % 1024 == 0:
                ctx.check()
            if i >= MAX_ACTIONS:
                out.flag(Flag.LIMIT_EXCEEDED, f"pptx: more than {MAX_ACTIONS} actions in {part}")
                break
            tag, attrs = m.group(1).decode(), m.group(2)
            counts["actions"] += 1
            hover = tag == "hlinkMouseOver"
            action = _attr(attrs, _ACTION)
            target, _external = rels.get(_attr(attrs, _RID), ("", False))
            low = action.lower()
            rule = ""
            if low.startswith("ppaction://program"):
                counts["program_actions"] += 1
                rule, evidence = "PPT_ACTION_RUN_PROGRAM", f"{tag}: {target or action}"
            elif low.startswith("ppaction://macro"):
                counts["macro_actions"] += 1
                rule, evidence = "PPT_ACTION_MACRO", f"{tag}: {action}"
            elif target and risky_name(target.split("?", 1)[0].split("#", 1)[0]):
                counts["risky_link_targets"] += 1
                rule, evidence = "PPT_LINK_TO_PROGRAM", f"{tag}: {target}"
            if not rule:
                continue
            found[(rule, evidence)] = None
            if hover:
                counts["hover_actions"] += 1
                found[("PPT_HOVER_ACTION", f"{action or 'hyperlink'}: {target}")] = None
        for rule, evidence in list(found)[:MAX_FINDINGS_PER_PART]:
            out.add(rule, evidence, where)
