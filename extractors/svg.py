"""SVG images: script, foreignObject HTML, javascript:/data: links, smuggling and redirects.

An SVG is XML that a browser renders as a page: it may hold <script>, on* event handlers,
a <foreignObject> with a whole HTML form, links whose target is `javascript:` (directly or set
by <animate>/<set>), and base64 blobs rebuilt into a download. Mailed SVGs became a common
phishing and smuggling carrier in 2024-2025 because mail filters treat them as pictures.

The markup is read by the HTML extractor's own analysis (stdlib html.parser: a bounded tokenizer
that never reads a DTD or expands an entity), so SVG pages get the same features and findings
as HTML pages, under the `svg.` prefix; the SVG-only constructs are counted here. An SVG is its
own file type (its first element is <svg>); an HTML page with an inline <svg> stays HTML, and
the HTML extractor hands active inline SVGs on as children.
"""

from __future__ import annotations

import re

from maldoc.extractor import Context, Extractor
from maldoc.extractors._web_embeds import is_svg_text
from maldoc.extractors.html import HtmlExtractor, _decode
from maldoc.filetype import Probe, TypeSpec
from maldoc.types import ExtractorResult, FileType, Sample

MAX_CHARS = 16 * 1024 * 1024
_FOREIGN = re.compile(r"<(?:\w{1,20}:)?foreignObject\b", re.I)
_FOREIGN_END = re.compile(r"</(?:\w{1,20}:)?foreignObject\s*>", re.I)
_HTML_CONTROL = re.compile(r"<(?:\w{1,20}:)?(?:form|input|iframe|embed|object|script|button|a)\b[^>]{0,200}", re.I)
MAX_FOREIGN = 16  # foreignObject blocks searched for HTML controls
FOREIGN_WINDOW = 256 * 1024
_JS_URI = re.compile(r"(?:href|src|action|formaction|values|to|from|by)\s*=\s*[\"']\s*(?:javascript|vbscript)\s*:",
                     re.I)
# Tags are cut out first (start, then the next '>', bounded) and their attributes read after, so a
# file of unclosed tags costs one bounded slice per tag, not a regex retry per character.
_ANIMATE_TAG = re.compile(r"<(?:\w{1,20}:)?(?:animate|set)\b", re.I)
_SCRIPT_TAG = re.compile(r"<(?:\w{1,20}:)?script\b", re.I)
_REF_TAG = re.compile(r"<(?:\w{1,20}:)?(?:use|image|feImage)\b", re.I)
_HREF_TARGET = re.compile(r"attributeName\s*=\s*[\"'](?:xlink:)?href[\"']", re.I)
_REMOTE_HREF = re.compile(r"href\s*=\s*[\"']\s*(?:https?:)?//", re.I)
_DATA_REF = re.compile(r"(?:href|src)\s*=\s*[\"']\s*data:(?!image/(?:png|jpe?g|gif|webp|bmp))", re.I)
MAX_TAGS = 512  # of each kind read
TAG_CHARS = 2048
_ENTITY = re.compile(r"<!ENTITY\b", re.I)
_ENTITY_VALUE = re.compile(r"<!ENTITY\s+%?\s*\S{1,80}\s+[\"']([^\"']{0,4000})", re.I)
_SCRIPTISH = re.compile(r"javascript:|<script|eval\s*\(|atob\s*\(|on\w{3,20}\s*=", re.I)


def is_svg(p: Probe) -> bool:
    if not p.low.startswith(b"<"):
        return False
    return b"svg" in p.low and is_svg_text(p.head.decode("latin-1"))


class SvgExtractor(Extractor):
    name = "svg"
    version = 2
    detects = (TypeSpec("svg", is_svg, 65, "svg", "SVG image (XML with an <svg> root)"),)
    file_types = frozenset({FileType("svg")})
    features = (
        *HtmlExtractor.features, "foreign_objects", "foreign_html", "javascript_uris", "animated_hrefs",
        "data_refs", "external_script_refs", "external_refs", "entities", "scriptish_entities",
    )
    rules = (*HtmlExtractor.rules, "SVG_SCRIPT", "SVG_FOREIGN_HTML", "SVG_JAVASCRIPT_URI", "SVG_ENTITY_SCRIPT")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        where = sample.display_path
        # The HTML analysis, run into its own result so its features can be renamed.
        page = ExtractorResult()
        HtmlExtractor().extract(sample, ctx, page)
        out.findings.extend(page.findings)
        out.children.extend(page.children)
        out.urls.extend(page.urls)
        out.flags |= page.flags
        out.errors.extend(page.errors)
        f = out.features
        for key, value in page.features.items():
            f["svg." + key.removeprefix("html.") if key.startswith("html.") else key] = value

        text = _decode(sample.data[:MAX_CHARS])
        low = text.lower()

        def has(*needles: str) -> bool:  # a substring test first: each regex below then runs rarely
            return any(n in low for n in needles)

        ctx.check()
        counts = {
            "foreign_objects": len(_FOREIGN.findall(text)) if has("foreignobject") else 0,
            "javascript_uris": len(_JS_URI.findall(text)) if has("javascript:", "vbscript:") else 0,
            "animated_hrefs": _tags(text, _ANIMATE_TAG, _HREF_TARGET) if has("<animate", "<set", ":animate",
                                                                             ":set") else 0,
            "data_refs": len(_DATA_REF.findall(text)) if has("data:") else 0,
            "external_script_refs": _tags(text, _SCRIPT_TAG, _REMOTE_HREF) if has("script") else 0,
            "external_refs": _tags(text, _REF_TAG, _REMOTE_HREF) if has("<use", "<image", "feimage", ":use",
                                                                        ":image") else 0,
            "entities": len(_ENTITY.findall(text)) if has("<!entity") else 0,
        }
        ctx.check()
        foreign_html = _foreign_html(text) if counts["foreign_objects"] else None
        counts["foreign_html"] = int(foreign_html is not None)
        counts["scriptish_entities"] = sum(1 for i, m in enumerate(_ENTITY_VALUE.finditer(text))
                                           if i < MAX_TAGS and _SCRIPTISH.search(m.group(1))) \
            if counts["entities"] else 0
        f.update({f"svg.{k}": float(v) for k, v in counts.items()})

        scripts = f.get("svg.scripts", 0.0) + counts["external_script_refs"]
        handlers = f.get("svg.event_handlers", 0.0)
        if scripts or handlers:  # a picture needs no code
            out.add("SVG_SCRIPT", f"{int(scripts)} script element(s), {int(handlers)} event handler(s)", where)
        if foreign_html:
            out.add("SVG_FOREIGN_HTML", " ".join(foreign_html.split())[:120], where)
        if counts["javascript_uris"] or counts["animated_hrefs"] or counts["data_refs"]:
            out.add("SVG_JAVASCRIPT_URI", f"{counts['javascript_uris']} javascript: link(s), "
                    f"{counts['animated_hrefs']} animated href(s), {counts['data_refs']} data: document link(s)", where)
        if counts["scriptish_entities"]:
            out.add("SVG_ENTITY_SCRIPT", f"{counts['scriptish_entities']} DTD entity(ies) holding script", where)
        for key in self.feature_names():
            f[key] = float(f.get(key, 0.0))


def _foreign_html(text: str) -> str | None:
    """The first HTML control (form, input, iframe, script, ...) inside a <foreignObject>, or None."""
    for i, m in enumerate(_FOREIGN.finditer(text)):
        if i >= MAX_FOREIGN:
            break
        end = _FOREIGN_END.search(text, m.end(), m.end() + FOREIGN_WINDOW)
        control = _HTML_CONTROL.search(text, m.end(), end.start() if end else m.end() + FOREIGN_WINDOW)
        if control:
            return control.group(0)
    return None


def _tags(text: str, tag: re.Pattern[str], attribute: re.Pattern[str]) -> int:
    """How many of the first MAX_TAGS `tag` start tags carry `attribute`."""
    found = 0
    for i, m in enumerate(tag.finditer(text)):
        if i >= MAX_TAGS:
            break
        end = text.find(">", m.end(), m.end() + TAG_CHARS)
        found += attribute.search(text, m.end(), end if end != -1 else m.end() + TAG_CHARS) is not None
    return found
