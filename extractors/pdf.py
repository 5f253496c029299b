"""PDF: pdfid-style keyword and structure figures, then a bounded object walk for what runs.

Two passes. The raw scan (`_pdf_raw`) counts the names an attack needs straight from the bytes
and survives any breakage. The object walk (`_pdf_objects`, pdfminer.six parsing each object)
then reads what those names point at: JavaScript from strings and streams (with statistics,
`_pdf_js`), /OpenAction and /AA triggers, /Launch targets, /URI and form targets (into
`out.urls`), XFA scripts, and embedded files, which are emitted as children. Nothing renders,
no text is extracted, and every decode is capped and charged to the file's inflate budget.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from pdfminer.pdftypes import PDFObjRef
from pdfminer.psparser import PSLiteral

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.extractors import _pdf_js, _pdf_raw
from maldoc.extractors._pdf_filters import CAPPED, name_of
from maldoc.extractors._pdf_images import pdf_images
from maldoc.extractors._pdf_objects import Stream, Walk, WalkStopped, stream_data, walk
from maldoc.extractors.urls import find_urls
from maldoc.filetype import TypeSpec, risky_name
from maldoc.stats import entropy
from maldoc.types import ExtractorResult, FileType, Flag, Sample

MAX_OBJECTS = 100_000
WALK_SECONDS = 10.0  # of the file's budget at most; the rest is left to its children
MAX_NODES = 200_000  # dicts and arrays visited inside objects, in total
MAX_JS_STREAM = 4 * 1024 * 1024
MAX_URLS = 500
AFTER_EOF_NOTABLE = 1024  # bytes: a few stray bytes after %%EOF are common in benign files
OPEN_TRIGGERS = frozenset({"O", "PO", "PV"})  # page or annotation opened/visible: runs without a click
LAUNCH_WORDS = ("cmd", "powershell", "mshta", "wscript", "cscript", "rundll32", "regsvr32", "bitsadmin",
                "certutil", "msiexec", "/c ", "start ")
ACTIONS = ("JavaScript", "Launch", "URI", "SubmitForm", "GoToR", "GoToE", "ImportData", "Rendition")
_XFA_SCRIPT_OPEN = re.compile(rb"<script\b([^>]{0,400})>", re.I)
_XFA_SCRIPT_CLOSE = re.compile(rb"</script\s*>", re.I)
# XFA data carrying a TIFF image: the libtiff overflow of CVE-2010-0188 and its many copies.
_XFA_TIFF = re.compile(rb"contentType\s*=\s*[\"']image/tiff?[\"']", re.I)
_XFA_MARK = re.compile(rb"<(?:[\w-]+:)?xdp\b|xfa\.org/schema", re.I)
MAX_XFA_STREAMS = 64  # streams decoded when looking for XFA packets the /XFA entry does not name
MIN_XFA_STREAM = 64
_KW_FEATURES = tuple(f"kw_{k.lower()}" for k in _pdf_raw.KEYWORDS)
# Link annotations and their rectangles, read from raw bytes (survives broken files, cheap).
_LINK = re.compile(rb"/Subtype\s*/Link(?![A-Za-z])")
_RECT = re.compile(rb"/Rect\s*\[\s*([-+\d.\s]{1,120}?)\s*\]")
_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-+\d.\s]{1,120}?)\s*\]")
LINK_WINDOW = 600  # bytes around /Subtype /Link searched for its /Rect
MAX_LINKS = 2000
LURE_AREA = 0.1  # a single link covering this share of a page: the "click to view" phishing lure
LETTER_AREA = 612.0 * 792.0


@dataclass(slots=True)
class Actions:
    """What the objects ask a reader to do, gathered in one traversal."""

    scripts: dict[Any, str] = field(default_factory=dict)  # key: object id of a JS stream, or id() of a string
    script_where: dict[Any, str] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    launches: list[tuple[str, str]] = field(default_factory=list)  # (target, location)
    uris: list[str] = field(default_factory=list)
    open_kinds: set[str] = field(default_factory=set)
    openactions: int = 0
    aa_triggers: int = 0
    auto_js: list[str] = field(default_factory=list)  # locations of JS run on open
    embedded: dict[int, str] = field(default_factory=dict)  # stream object id -> file name
    xfa: list[Any] = field(default_factory=list)
    gotoe: int = 0
    nodes: int = 0


class PdfExtractor(Extractor):
    name = "pdf"
    version = 6
    detects = (TypeSpec("pdf", filetype.is_pdf, 40, "pdf", "PDF document"),)
    file_types = frozenset({FileType.PDF})
    features = (
        "header_offset", "version", "eof_count", "bytes_after_eof", "objects", "endobj_diff", "streams",
        "endstream_diff", "xref_tables", "trailers", "startxref", "startxref_valid", "pages",
        *_KW_FEATURES, "hex_names", "hex_keywords",
        "objects_walked", "objstm_objects", "parse_failures", "truncated_streams",
        "stream_entropy_mean", "stream_entropy_max", "stream_bytes_ratio",
        "encrypted", "encrypted_unopened",
        "js_scripts", "js_length", "js_entropy", "js_eval", "js_unescape", "js_fromcharcode", "js_settimeout",
        "js_hex_escape_density", "js_unicode_escape_density", "js_longest_string", "js_exploit_apis",
        "js_spray", "openaction", "openaction_js", "auto_js", "aa_triggers", "launch_actions",
        "uri_actions", "submitform_actions", "goto_remote_actions", "embedded_files", "xfa_scripts",
        "walk_complete", "link_annots", "link_area_ratio", "xfa_tiff", *_pdf_js.FEATURES,
    )
    rules = (
        "PDF_JAVASCRIPT", "PDF_AUTO_JAVASCRIPT", "PDF_JS_OBFUSCATED", "PDF_JS_EXPLOIT_API", "PDF_JS_SHELLCODE",
        "PDF_LAUNCH", "PDF_LAUNCH_COMMAND", "PDF_EMBEDDED_FILE", "PDF_EMBEDDED_FILE_OPENED",
        "PDF_OBFUSCATED_NAME", "PDF_AUTO_URI", "PDF_SUBMITFORM", "PDF_GOTO_REMOTE", "PDF_RICHMEDIA",
        "PDF_JBIG2", "PDF_XFA_SCRIPT", "PDF_HEADER_OFFSET", "PDF_DATA_AFTER_EOF", "PDF_MALFORMED",
        "PDF_ENCRYPTED", "PDF_LINK_LURE", "PDF_XFA_TIFF", "PDF_AUTO_JS_EXPLOIT", "PDF_JS_HEAP_SPRAY",
    )

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        data = sample.data
        where = sample.display_path
        raw = _pdf_raw.scan(data)
        self._structure(raw, len(data), out, where)
        doc = self._walk(data, ctx, out)
        for blob in doc.objstm_data:  # names hidden inside compressed object streams count too
            ctx.check()
            n, escaped = _pdf_raw.count_keywords(blob, raw.counts)
            raw.hex_names += n
            raw.hex_keywords += escaped
        f = out.features
        for key, feature in zip(_pdf_raw.KEYWORDS, _KW_FEATURES, strict=True):
            f[f"pdf.{feature}"] = raw.counts[key]
        f["pdf.hex_names"] = raw.hex_names
        f["pdf.hex_keywords"] = len(raw.hex_keywords)
        if raw.hex_keywords:
            out.add("PDF_OBFUSCATED_NAME", ", ".join(sorted(set(raw.hex_keywords))), where)
        self._streams(doc, len(data), f)
        self._links([data, *doc.objstm_data], ctx, out, where)
        acts = self._actions(doc, ctx, out)
        self._report(acts, doc, raw, sample, ctx, out)
        if doc.stopped or doc.skipped or acts.nodes > MAX_NODES:
            self._raw_fallback(raw, [data, *doc.objstm_data], ctx, out, where)
        fired = {x.rule_id for x in out.findings}
        exploit = sorted(fired & {"PDF_JS_EXPLOIT_API", "PDF_JS_OBFUSCATED", "PDF_JS_SHELLCODE", "PDF_JS_HEAP_SPRAY"})
        if "PDF_AUTO_JAVASCRIPT" in fired and exploit:
            out.add("PDF_AUTO_JS_EXPLOIT", "JavaScript run on open with " + ", ".join(exploit), where)

    # --- raw structure -----------------------------------------------------------------------
    @staticmethod
    def _structure(raw: _pdf_raw.RawScan, size: int, out: ExtractorResult, where: str) -> None:
        f = out.features
        f["pdf.header_offset"] = raw.header_offset
        f["pdf.version"] = raw.version
        f["pdf.eof_count"] = raw.eof_count
        f["pdf.bytes_after_eof"] = raw.after_eof
        f["pdf.objects"] = raw.objs
        f["pdf.endobj_diff"] = raw.objs - raw.endobjs
        f["pdf.streams"] = raw.streams
        f["pdf.endstream_diff"] = raw.streams - raw.endstreams
        f["pdf.xref_tables"] = raw.xrefs
        f["pdf.trailers"] = raw.trailers
        f["pdf.startxref"] = raw.startxrefs
        f["pdf.startxref_valid"] = float(raw.startxref_valid)
        f["pdf.pages"] = raw.pages
        if raw.header_offset > 0:
            out.add("PDF_HEADER_OFFSET", f"%PDF- header at byte {raw.header_offset}", where)
        if raw.after_eof > AFTER_EOF_NOTABLE:
            out.add("PDF_DATA_AFTER_EOF", f"{raw.after_eof} bytes after the last %%EOF", where)
        problems = []
        if not raw.startxrefs:
            problems.append("no startxref")
        elif not raw.startxref_valid:
            problems.append("startxref points at no cross-reference")
        if raw.objs != raw.endobjs:
            problems.append(f"{raw.objs} obj vs {raw.endobjs} endobj")
        if raw.streams != raw.endstreams:
            problems.append(f"{raw.streams} stream vs {raw.endstreams} endstream")
        if problems:
            out.add("PDF_MALFORMED", "; ".join(problems), where)
        if not raw.eof_count:
            out.flag(Flag.TRUNCATED, "pdf: no %%EOF marker")

    # --- object walk -------------------------------------------------------------------------
    @staticmethod
    def _walk(data: bytes, ctx: Context, out: ExtractorResult) -> Walk:
        soft = time.monotonic() + min(WALK_SECONDS, ctx.budget.remaining_s())

        def check() -> None:
            ctx.check()
            if time.monotonic() > soft:
                raise WalkStopped(f"object walk stopped after {WALK_SECONDS:.0f} s")

        cap = max(0, min(ctx.limits.max_bytes, ctx.limits.max_decompressed_bytes - ctx.budget.inflated))
        doc = walk(data, check, MAX_OBJECTS, tuple(ctx.passwords), ctx.budget.allow_inflate, cap)
        f = out.features
        f["pdf.objects_walked"] = doc.top_objects + doc.objstm_objects
        f["pdf.objstm_objects"] = doc.objstm_objects
        f["pdf.parse_failures"] = doc.parse_failures
        f["pdf.truncated_streams"] = doc.truncated_streams
        f["pdf.walk_complete"] = float(not doc.stopped and not doc.skipped)
        f["pdf.encrypted"] = float(doc.encrypted)
        f["pdf.encrypted_unopened"] = float(bool(doc.decrypt_error))
        if doc.stopped:
            out.flag(Flag.LIMIT_EXCEEDED, f"pdf: {doc.stopped}")
        if doc.skipped:
            out.flag(Flag.LIMIT_EXCEEDED, f"pdf: {doc.skipped} object(s) too large or too deeply nested, skipped")
        if doc.truncated_streams:
            out.flag(Flag.TRUNCATED, f"pdf: {doc.truncated_streams} stream(s) without endstream")
        if doc.encrypted and doc.decrypt_error:
            out.flag(Flag.ENCRYPTED, f"pdf: encrypted, not opened ({doc.decrypt_error})")
        elif doc.encrypted:
            out.flags.add(Flag.DECRYPTED)
            out.add("PDF_ENCRYPTED", "encrypted; opened with the empty user password or a known one")
        if not doc.objects and not doc.stopped:
            out.flag(Flag.PARSE_ERROR, "pdf: no objects found")
        return doc

    @staticmethod
    def _raw_fallback(raw: _pdf_raw.RawScan, blobs: list[bytes], ctx: Context, out: ExtractorResult,
                      where: str) -> None:
        """The object walk stopped early: what the raw bytes say runs is reported all the same.

        Objects after the point where the walk stopped (or skipped) were never read, so the
        walk's JavaScript, trigger and action figures undercount. The raw keyword counts and the
        /JS strings read straight from the bytes stand in for them, so that a hostile object
        placed before an auto-run script cannot turn the file clean.
        """
        f = out.features
        found = {x.rule_id for x in out.findings}
        c = raw.counts
        texts = [] if f["pdf.js_length"] else [_pdf_js.text_of(b) for b in _pdf_raw.raw_scripts(blobs, MAX_JS_STREAM)]
        ctx.check()
        if texts:
            js = _pdf_js.analyse(texts)
            f.update({"pdf.js_scripts": max(f["pdf.js_scripts"], js.scripts), "pdf.js_length": js.length,
                      "pdf.js_entropy": js.entropy, "pdf.js_eval": js.eval, "pdf.js_unescape": js.unescape,
                      "pdf.js_fromcharcode": js.fromcharcode, "pdf.js_settimeout": js.settimeout,
                      "pdf.js_hex_escape_density": js.hex_escape_density,
                      "pdf.js_unicode_escape_density": js.unicode_escape_density,
                      "pdf.js_longest_string": js.longest_string, "pdf.js_exploit_apis": len(js.exploit_apis),
                      "pdf.js_spray": js.spray})
            f.update(_pdf_js.features(js))
            if js.spray_shape and "PDF_JS_HEAP_SPRAY" not in found:
                out.add("PDF_JS_HEAP_SPRAY", "raw scan: " + _spray_evidence(js), where)
            if js.obfuscated and "PDF_JS_OBFUSCATED" not in found:
                out.add("PDF_JS_OBFUSCATED", f"raw scan: eval={js.eval} unescape={js.unescape} "
                        f"fromCharCode={js.fromcharcode}", where)
            if js.exploit_apis and "PDF_JS_EXPLOIT_API" not in found:
                out.add("PDF_JS_EXPLOIT_API", "raw scan: " + ", ".join(js.exploit_apis), where)
            if js.spray and "PDF_JS_SHELLCODE" not in found:
                out.add("PDF_JS_SHELLCODE", f"raw scan: {js.spray} NOP-sled or heap-spray escapes", where)
        scripts = c["JS"] + c["JavaScript"]
        f["pdf.js_scripts"] = max(f["pdf.js_scripts"], float(bool(scripts)))
        if scripts and "PDF_JAVASCRIPT" not in found:
            out.add("PDF_JAVASCRIPT", f"raw scan: {c['JS']} /JS, {c['JavaScript']} /JavaScript (object walk "
                    "incomplete)", where)
        if scripts and (c["OpenAction"] or c["AA"]) and "PDF_AUTO_JAVASCRIPT" not in found:
            f["pdf.auto_js"] = max(f["pdf.auto_js"], 1.0)
            f["pdf.openaction_js"] = max(f["pdf.openaction_js"], float(bool(c["OpenAction"])))
            out.add("PDF_AUTO_JAVASCRIPT", "raw scan: JavaScript beside /OpenAction or /AA (object walk incomplete)",
                    where)
        f["pdf.openaction"] = max(f["pdf.openaction"], c["OpenAction"])
        f["pdf.aa_triggers"] = max(f["pdf.aa_triggers"], c["AA"])
        f["pdf.launch_actions"] = max(f["pdf.launch_actions"], c["Launch"])
        f["pdf.uri_actions"] = max(f["pdf.uri_actions"], c["URI"])
        f["pdf.submitform_actions"] = max(f["pdf.submitform_actions"], c["SubmitForm"])
        f["pdf.goto_remote_actions"] = max(f["pdf.goto_remote_actions"], c["GoToR"] + c["GoToE"])
        f["pdf.embedded_files"] = max(f["pdf.embedded_files"], c["EmbeddedFile"])
        if c["Launch"] and not found & {"PDF_LAUNCH", "PDF_LAUNCH_COMMAND"}:
            out.add("PDF_LAUNCH", f"raw scan: {c['Launch']} /Launch (object walk incomplete)", where)
        if c["EmbeddedFile"] and "PDF_EMBEDDED_FILE" not in found:
            out.add("PDF_EMBEDDED_FILE", f"raw scan: {c['EmbeddedFile']} /EmbeddedFile (object walk incomplete)",
                    where)

    @staticmethod
    def _links(blobs: list[bytes], ctx: Context, out: ExtractorResult, where: str) -> None:
        """Link annotations and the largest one's share of the page.

        Phishing PDFs are mostly one image with one link over it ("view the document"); benign
        documents link words and lines. The share of the page a single link covers tells them apart.
        """
        count, best, page = 0, 0.0, 0.0
        for blob in blobs:
            page = max([page, *(_area(b) for b in _MEDIABOX.findall(blob, 0, 1 << 24)[:MAX_LINKS])])
            for m in _LINK.finditer(blob):
                count += 1
                if count > MAX_LINKS:
                    break
                if count % 64 == 0:
                    ctx.check()
                window = blob[max(0, m.start() - LINK_WINDOW):m.end() + LINK_WINDOW]
                best = max([best, *(_area(r) for r in _RECT.findall(window))])
        ratio = min(best / (page or LETTER_AREA), 1.0)
        out.features["pdf.link_annots"] = count
        out.features["pdf.link_area_ratio"] = round(ratio, 4)
        if ratio >= LURE_AREA:
            out.add("PDF_LINK_LURE", f"one link covers {ratio:.0%} of a page ({count} links)", where)

    @staticmethod
    def _streams(doc: Walk, size: int, f: dict[str, float]) -> None:
        ents = [entropy(s.raw, 1 << 16) for s in doc.streams if s.raw]
        f["pdf.stream_entropy_mean"] = round(sum(ents) / len(ents), 4) if ents else 0.0
        f["pdf.stream_entropy_max"] = round(max(ents), 4) if ents else 0.0
        f["pdf.stream_bytes_ratio"] = round(sum(len(s.raw) for s in doc.streams) / size, 4) if size else 0.0

    def _actions(self, doc: Walk, ctx: Context, out: ExtractorResult) -> Actions:
        acts = Actions()
        for objid, value in list(doc.objects.items()):
            ctx.check()
            if acts.nodes > MAX_NODES:
                out.flag(Flag.LIMIT_EXCEEDED, f"pdf: more than {MAX_NODES} dictionaries, rest not read")
                break
            if isinstance(value, Stream):
                kind = name_of(value.attrs.get("Type"))
                if kind == "EmbeddedFile":
                    acts.embedded.setdefault(objid, "")
                self._visit(value.attrs, objid, doc, acts, ctx, 0)
            else:
                self._visit(value, objid, doc, acts, ctx, 0)
        return acts

    def _visit(self, value: Any, objid: int, doc: Walk, acts: Actions, ctx: Context, depth: int) -> None:
        """Depth-first over the dicts and arrays inline in one object (references are their own objects)."""
        stack = [(value, depth)]
        while stack:
            node, d = stack.pop()
            acts.nodes += 1
            if acts.nodes > MAX_NODES or d > 32:
                return
            if isinstance(node, list):
                stack.extend((v, d + 1) for v in node if isinstance(v, dict | list))
                continue
            if not isinstance(node, dict):
                continue
            self._dict(node, objid, doc, acts, ctx)
            stack.extend((v, d + 1) for v in node.values() if isinstance(v, dict | list))

    def _dict(self, d: dict, objid: int, doc: Walk, acts: Actions, ctx: Context) -> None:
        where = f"obj {objid}"
        sealed = doc.encrypted and doc.decipher is None  # strings are ciphertext: count, never read
        if "JS" in d:
            self._script(doc.resolve(d["JS"]), d["JS"], where, doc, acts, ctx)
        kind = name_of(d.get("S"))
        if kind in acts.kinds:
            acts.kinds[kind] += 1
            if kind == "Launch":
                acts.launches.append(("(encrypted)" if sealed else _launch_target(d, doc), where))
            elif sealed:
                pass
            elif kind == "URI":
                uri = _text(doc.resolve(d.get("URI")))
                if uri:
                    acts.uris.append(uri)
            elif kind in ("SubmitForm", "GoToR", "ImportData"):
                target = _filespec(doc.resolve(d.get("F")), doc)
                if "://" in target:
                    acts.uris.append(target)
        if "OpenAction" in d:
            acts.openactions += 1
            target = doc.resolve(d["OpenAction"])
            if isinstance(target, dict):
                acts.open_kinds.update(_chain(target, doc))
        if "AA" in d:
            triggers = doc.resolve(d["AA"])
            if isinstance(triggers, dict):
                for trigger, action in list(triggers.items())[:64]:
                    acts.aa_triggers += 1
                    action = doc.resolve(action)
                    if trigger in OPEN_TRIGGERS and isinstance(action, dict) and "JavaScript" in _chain(action, doc):
                        acts.auto_js.append(f"{where} /AA /{trigger}")
        if "EF" in d:
            ef = doc.resolve(d["EF"])
            if isinstance(ef, dict):
                name = "" if sealed else _text(doc.resolve(d.get("UF"))) or _filespec(doc.resolve(d.get("F")), doc)
                for ref in list(ef.values())[:8]:
                    if isinstance(ref, PDFObjRef) and isinstance(doc.objects.get(ref.objid), Stream):
                        acts.embedded[ref.objid] = name or acts.embedded.get(ref.objid, "")
        if "XFA" in d:
            xfa = doc.resolve(d["XFA"])
            parts = xfa if isinstance(xfa, list) else [xfa]
            acts.xfa.extend(doc.resolve(p) for p in parts[:64])

    @staticmethod
    def _script(value: Any, ref: Any, where: str, doc: Walk, acts: Actions, ctx: Context) -> None:
        if doc.encrypted and doc.decipher is None:
            key: Any = ("o", ref.objid) if isinstance(ref, PDFObjRef) else ("s", id(value))
            acts.scripts.setdefault(key, "")
            acts.script_where.setdefault(key, where)
            return
        if isinstance(value, bytes | str):
            key = ("s", id(value))
            text = _pdf_js.text_of(value)
        elif isinstance(value, Stream):
            key = ("o", ref.objid if isinstance(ref, PDFObjRef) else id(value))
            if key in acts.scripts:
                return
            blob, _ = stream_data(doc, value, MAX_JS_STREAM)
            if blob is None or not ctx.budget.allow_inflate(len(blob)):
                acts.scripts[key] = ""
                return
            text = _pdf_js.text_of(blob)
        else:
            return
        acts.scripts.setdefault(key, text)
        acts.script_where.setdefault(key, where)

    def _report(self, acts: Actions, doc: Walk, raw: _pdf_raw.RawScan, sample: Sample, ctx: Context,
                out: ExtractorResult) -> None:
        f = out.features
        where = sample.display_path
        scripts = [s for s in acts.scripts.values() if s]
        unreadable = len(acts.scripts) - len(scripts)
        xfa_scripts = self._xfa_scripts(acts, doc, ctx, f)
        if f["pdf.xfa_tiff"]:
            out.add("PDF_XFA_TIFF", f"{int(f['pdf.xfa_tiff'])} TIFF image(s) in XFA form data", where)
        scripts += xfa_scripts
        js = _pdf_js.analyse(scripts)
        f["pdf.js_scripts"] = js.scripts + unreadable
        f["pdf.js_length"] = js.length
        f["pdf.js_entropy"] = js.entropy
        f["pdf.js_eval"] = js.eval
        f["pdf.js_unescape"] = js.unescape
        f["pdf.js_fromcharcode"] = js.fromcharcode
        f["pdf.js_settimeout"] = js.settimeout
        f["pdf.js_hex_escape_density"] = js.hex_escape_density
        f["pdf.js_unicode_escape_density"] = js.unicode_escape_density
        f["pdf.js_longest_string"] = js.longest_string
        f["pdf.js_exploit_apis"] = len(js.exploit_apis)
        f["pdf.js_spray"] = js.spray
        f.update(_pdf_js.features(js))
        f["pdf.xfa_scripts"] = len(xfa_scripts)
        opens_js = "JavaScript" in acts.open_kinds
        f["pdf.openaction"] = acts.openactions
        f["pdf.openaction_js"] = float(opens_js)
        f["pdf.auto_js"] = len(acts.auto_js) + int(opens_js)
        f["pdf.aa_triggers"] = acts.aa_triggers
        f["pdf.launch_actions"] = acts.kinds["Launch"]
        f["pdf.uri_actions"] = acts.kinds["URI"]
        f["pdf.submitform_actions"] = acts.kinds["SubmitForm"]
        f["pdf.goto_remote_actions"] = acts.kinds["GoToR"] + acts.kinds["GoToE"]

        if acts.scripts or acts.kinds["JavaScript"] or xfa_scripts:
            first = next(iter(acts.script_where.values()), where)
            extra = f" (+{unreadable} not decodable)" if unreadable else ""
            out.add("PDF_JAVASCRIPT", f"{len(scripts)} script(s), {js.length} chars{extra}", first)
        if opens_js or acts.auto_js:
            out.add("PDF_AUTO_JAVASCRIPT", "/OpenAction runs JavaScript" if opens_js else acts.auto_js[0], where)
        if js.obfuscated:
            out.add("PDF_JS_OBFUSCATED", f"eval={js.eval} unescape={js.unescape} fromCharCode={js.fromcharcode} "
                    f"longest string={js.longest_string}", where)
        if js.exploit_apis:
            out.add("PDF_JS_EXPLOIT_API", ", ".join(js.exploit_apis), where)
        if js.spray:
            out.add("PDF_JS_SHELLCODE", f"{js.spray} NOP-sled or heap-spray escapes", where)
        if js.spray_shape:
            out.add("PDF_JS_HEAP_SPRAY", _spray_evidence(js), where)
        for target, loc in acts.launches[:5]:
            low = target.lower()
            if any(w in low for w in LAUNCH_WORDS) or risky_name(target.split(" ")[0]) or risky_name(target):
                out.add("PDF_LAUNCH_COMMAND", target, loc)
            else:
                out.add("PDF_LAUNCH", target or "(no target)", loc)
        if "Launch" in acts.open_kinds and not acts.launches:
            out.add("PDF_LAUNCH", "/OpenAction launches a file", where)
        if "URI" in acts.open_kinds:
            out.add("PDF_AUTO_URI", "/OpenAction opens a URL", where)
        if acts.kinds["SubmitForm"]:
            out.add("PDF_SUBMITFORM", f"{acts.kinds['SubmitForm']} form submission action(s)", where)
        if acts.kinds["GoToR"] or acts.kinds["GoToE"]:
            out.add("PDF_GOTO_REMOTE", f"GoToR={acts.kinds['GoToR']} GoToE={acts.kinds['GoToE']}", where)
        if raw.counts["RichMedia"]:
            out.add("PDF_RICHMEDIA", f"{raw.counts['RichMedia']} /RichMedia", where)
        if raw.counts["JBIG2Decode"]:
            out.add("PDF_JBIG2", f"{raw.counts['JBIG2Decode']} /JBIG2Decode", where)
        if xfa_scripts:
            out.add("PDF_XFA_SCRIPT", f"{len(xfa_scripts)} XFA script(s)", where)

        urls = list(dict.fromkeys(acts.uris))
        for text in scripts:
            if len(urls) >= MAX_URLS:
                break
            urls += find_urls(text, MAX_URLS - len(urls))
        out.urls.extend(urls[:MAX_URLS])
        self._children(acts, doc, js, sample, ctx, out)
        for name, picture in pdf_images(sample.data, ctx):  # pictures: QR-code lures are read from them
            ctx.emit(out, sample, picture, name)

    @staticmethod
    def _xfa_scripts(acts: Actions, doc: Walk, ctx: Context, f: dict[str, float]) -> list[str]:
        """Scripts of the XFA packets; also counts packets carrying TIFF images (`pdf.xfa_tiff`).

        Exploit kits often leave the packet out of /XFA or hide the reference, so when the file
        names XFA anywhere, other streams that decode to an XDP packet are read too (bounded).
        """
        found: list[str] = []
        parts = [p for p in acts.xfa if isinstance(p, Stream)]
        if f.get("pdf.kw_xfa"):
            parts += [s for s in doc.streams[:4096] if len(s.raw) >= MIN_XFA_STREAM
                      and name_of(s.attrs.get("Subtype")) != "Image"][:MAX_XFA_STREAMS]
        named = {id(p) for p in acts.xfa}
        seen: set[int] = set()
        tiffs = 0
        for part in parts:
            if id(part) in seen:
                continue
            seen.add(id(part))
            ctx.check()
            blob, _ = stream_data(doc, part, MAX_JS_STREAM)
            if not blob or (id(part) not in named and not _XFA_MARK.search(blob, 0, 4096)):
                continue
            if not ctx.budget.allow_inflate(len(blob)):
                continue
            tiffs += len(_XFA_TIFF.findall(blob))
            for attrs, body in _xfa_script_bodies(blob):
                if b"formcalc" not in attrs.lower() and body.strip():
                    found.append(body.decode("utf-8", "replace"))
        f["pdf.xfa_tiff"] = tiffs
        return found

    @staticmethod
    def _children(acts: Actions, doc: Walk, js: _pdf_js.JsStats, sample: Sample, ctx: Context,
                  out: ExtractorResult) -> None:
        f = out.features
        f["pdf.embedded_files"] = len(acts.embedded)
        if not acts.embedded:
            return
        names = [n or f"pdf-embedded-{oid}" for oid, n in acts.embedded.items()]
        out.add("PDF_EMBEDDED_FILE", ", ".join(names[:5]), sample.display_path)
        if js.export_launch or acts.kinds["GoToE"]:
            out.add("PDF_EMBEDDED_FILE_OPENED", "exportDataObject with nLaunch" if js.export_launch
                    else "/GoToE action into an embedded file", sample.display_path)
        for n, (oid, name) in enumerate(acts.embedded.items()):
            ctx.check()
            if n >= ctx.limits.max_children:
                out.flag(Flag.LIMIT_EXCEEDED, f"pdf: {len(acts.embedded)} embedded files, read {n}")
                break
            stream = doc.objects.get(oid)
            if not isinstance(stream, Stream):
                continue
            cap = max(0, min(ctx.limits.max_bytes, ctx.limits.max_decompressed_bytes - ctx.budget.inflated))
            blob, status = stream_data(doc, stream, cap)
            if blob is None:
                if status == "encrypted":  # already flagged: the file is encrypted and was not opened
                    continue
                out.flag(Flag.PARSE_ERROR, f"pdf: embedded file (object {oid}) could not be decoded ({status})")
                continue
            child_name = (name or f"pdf-embedded-{oid}")[:255]
            if status == CAPPED:
                ctx.overflow(out, sample, child_name, blob, "max_decompressed_bytes")
                break
            if not ctx.emit(out, sample, blob, child_name):
                break


def _spray_evidence(js: _pdf_js.JsStats) -> str:
    return (f"longest repeated escape run {js.escape_run}, {js.large_loops} large loop(s), "
            f"{js.doubling} string doubling(s), {js.new_arrays} array allocation(s)")


def _xfa_script_bodies(blob: bytes) -> list[tuple[bytes, bytes]]:
    """(attributes, text) of each <script> element, in one pass.

    The same elements as `<script\\b([^>]{0,400})>(.*?)</script\\s*>`, whose lazy body re-reads
    the rest of the packet from every unclosed `<script>` (quadratic); here the search for the
    closing tag resumes where the last one ended, and stops for good once there is none.
    """
    found: list[tuple[bytes, bytes]] = []
    pos = 0
    while True:
        opening = _XFA_SCRIPT_OPEN.search(blob, pos)
        if opening is None:
            return found
        closing = _XFA_SCRIPT_CLOSE.search(blob, opening.end())
        if closing is None:
            return found
        found.append((opening.group(1), blob[opening.end():closing.start()]))
        pos = closing.end()


def _text(value: Any) -> str:
    if isinstance(value, bytes | str):
        return _pdf_js.text_of(value).strip("\x00")[:2048]
    if isinstance(value, PSLiteral):
        return name_of(value)
    return ""


def _filespec(value: Any, doc: Walk) -> str:
    """A file specification: a string, or a dict with /UF, /F, /DOS, /Unix, /Mac."""
    if isinstance(value, dict):
        for key in ("UF", "F", "DOS", "Unix", "Mac"):
            text = _text(doc.resolve(value.get(key)))
            if text:
                return text
        return ""
    return _text(value)


def _launch_target(d: dict, doc: Walk) -> str:
    """What a /Launch action runs: /F, or the Windows-specific /Win << /F /P >> (file and parameters)."""
    win = doc.resolve(d.get("Win"))
    if isinstance(win, dict):
        target = _filespec(doc.resolve(win.get("F")), doc)
        params = _text(doc.resolve(win.get("P")))
        return f"{target} {params}".strip()
    return _filespec(doc.resolve(d.get("F")), doc)


def _chain(action: dict, doc: Walk, limit: int = 8) -> set[str]:
    """Action types of `action` and its /Next successors (bounded; /Next may loop)."""
    kinds: set[str] = set()
    queue: list[Any] = [action]
    seen: set[int] = set()
    while queue and len(seen) < limit:
        a = doc.resolve(queue.pop())
        if not isinstance(a, dict) or id(a) in seen:
            continue
        seen.add(id(a))
        kind = name_of(a.get("S"))
        if kind:
            kinds.add(kind)
        nxt = a.get("Next")
        queue.extend(nxt[:limit] if isinstance(nxt, list) else [nxt] if nxt is not None else [])
    return kinds


def _area(rect: bytes) -> float:
    try:
        x0, y0, x1, y1 = (float(v) for v in rect.split()[:4])
    except ValueError:
        return 0.0
    area = abs(x1 - x0) * abs(y1 - y0)
    return area if area < 1e9 else 0.0  # absurd boxes are malformed, not big
