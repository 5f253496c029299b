"""HTML and HTA attachments: phishing forms, HTML smuggling, redirects, obfuscated script, HTA/ActiveX.

HTML attachments are the commonest phishing carrier: a local page with a fake login form posting to
the attacker, a page that redirects to one, or an "HTML smuggling" page that rebuilds a ZIP or ISO
from a base64 string in the browser (Blob + createObjectURL + a download link) so the payload never
crosses the mail gateway as a file. HTAs are HTML that Windows runs with full rights (mshta).

Structure comes from the stdlib `html.parser` (tolerant, linear, fed in chunks so the time budget
is checked); script text is then matched with bounded regular expressions. Large base64 blobs are
decoded and, when they hold a file (an archive, an executable, a document), emitted as children so
the smuggled payload is analysed like an attachment.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from html.parser import HTMLParser

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.extractors import _html_guard
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors._mail_text import html_text
from maldoc.extractors._scam import is_support_scam, scam_signals
from maldoc.extractors._web_embeds import emit_inline
from maldoc.extractors.urls import find_urls
from maldoc.filetype import TypeSpec
from maldoc.types import ExtractorResult, FileType, Flag, Sample

CHUNK = 64 * 1024
MAX_SCRIPT_CHARS = 8 * 1024 * 1024  # script text kept for the regexes; smuggling pages run to a few MB
MAX_URLS = 500
MAX_BLOBS = 4  # largest encoded blobs decoded per page
MIN_BLOB = 1024  # characters of base64 worth decoding
LARGE_BLOB = 64 * 1024

_CHARSET = re.compile(rb"charset\s*=\s*[\"']?([\w.:-]{1,40})", re.I)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";\s>]+)", re.I)

# Script patterns: each names a construct, not a style, so minified benign code rarely matches.
_DECODERS = re.compile(r"\batob\s*\(|\bunescape\s*\(|String\.fromCharCode\s*\(|\bdecodeURI(?:Component)?\s*\(")
_EVALS = re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|\bexecScript\s*\(|\bsetTimeout\s*\(\s*[\"']")
_DOC_WRITES = re.compile(r"document\s*\.\s*write(?:ln)?\s*\(")
_DECODE_EXEC = re.compile(
    r"(?:\beval|document\s*\.\s*write(?:ln)?|\bFunction|\bexecScript)\s*\(\s*(?:window\s*\.\s*)?"
    r"(?:atob|unescape|decodeURI(?:Component)?|String\.fromCharCode)\s*\(")
# Hand-rolled decoders (XOR / RC4 over charCodeAt, hex pairs through parseInt) and script injection.
_CUSTOM_DECODE = re.compile(r"charCodeAt\s*\([^()]{0,60}\)\s*\^|\^\s*[\w.]{1,40}\.charCodeAt\s*\(|"
                            r"fromCharCode\s*\(\s*parseInt\s*\((?:[^()]|\([^()]{0,40}\)){0,80}?,\s*16\s*\)")
_INJECT = re.compile(r"\.\s*(?:appendChild|insertBefore|insertAdjacentHTML)\s*\(|\.\s*(?:inner|outer)HTML\s*=(?!=)")
_DECODER_NEEDLES = ("atob", "unescape", "fromcharcode", "decodeuri")
_ESCAPES = re.compile(r"%u[0-9a-fA-F]{4}|%[0-9a-fA-F]{2}|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}")
_LONG_STRING = re.compile(r"\"[^\"\n]{256,}\"|'[^'\n]{256,}'|`[^`]{256,}`")
_BLOB_API = re.compile(r"\bnew\s+Blob\s*\(|URL\s*\.\s*createObjectURL\s*\(|\bmsSaveOrOpenBlob\b|\bmsSaveBlob\b|"
                       r"\bnew\s+File\s*\(\s*\[")
_MS_SAVE = re.compile(r"\bmsSaveOrOpenBlob\b|\bmsSaveBlob\b")
_DOWNLOAD_PROP = re.compile(r"\.\s*download\s*=|setAttribute\s*\(\s*[\"']download[\"']")
_LOCATION = re.compile(
    r"\b(?:window|document|top|self|parent)\s*\.\s*location(?:\s*\.\s*href)?\s*=(?!=)|"
    r"(?<![\w.])location(?:\s*\.\s*href)?\s*=(?!=)|\blocation\s*\.\s*(?:replace|assign)\s*\(")
_ACTIVEX = re.compile(
    r"new\s+ActiveXObject\s*\(|\bCreateObject\s*\(|\bGetObject\s*\(|WScript\.Shell|Shell\.Application|"
    r"Scripting\.FileSystemObject|ADODB\.Stream|MSXML2\.(?:Server)?XMLHTTP|WinHttp\.WinHttpRequest", re.I)
_SHELL = re.compile(
    r"\.(?:Run|Exec|ShellExecute)\s*\(|\b(?:powershell|mshta|rundll32|regsvr32|certutil|bitsadmin|cscript|wscript)"
    r"(?:\.exe)?\b|\bcmd(?:\.exe)?\s+/[ck]\b", re.I)
_POSTS = re.compile(r"\bXMLHttpRequest\b|\bfetch\s*\(|\$\s*\.\s*(?:ajax|post)\s*\(|navigator\s*\.\s*sendBeacon|"
                    r"api\.telegram\.org|\.submit\s*\(\s*\)")
_BASE64 = re.compile(rf"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{{{MIN_BLOB},}}={{0,2}}")  # anchored: linear time
_BLOB_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{256,}={0,2}")
_DATA_URI = re.compile(r"data:([\w.+-]{1,40}/[\w.+-]{1,80})?((?:;[\w.+-]{1,40}(?:=[\w.+-]{1,80})?){0,4}),", re.I)
_IMAGE_PREFIX = re.compile(r"data:image/[\w.+-]{1,40};base64,\s*$", re.I)

_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "data", "background", "poster", "codebase"})


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    m = _CHARSET.search(data[:4096])
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"), "replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _external(url: str) -> bool:
    """A target outside the page: a local attachment has no host of its own, so any remote one is."""
    u = url.strip().lower()
    return u.startswith(("http://", "https://", "//", "ftp://", "mailto:"))


class _Collector(HTMLParser):
    """One pass over the markup, keeping only what the features need (bounded lists)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.script_chars = 0
        self.script_count = 0
        self.external_scripts = 0
        self.vbscript = 0
        self.in_script = False
        self.handlers: list[str] = []
        self.forms: list[str] = []
        self.password_inputs = 0
        self.refresh: list[str] = []
        self.hta = 0
        self.objects = 0
        self.iframes = 0
        self.hidden_iframes = 0
        self.download_attrs = 0
        self.links: list[str] = []

    def _keep_script(self, text: str) -> None:
        if self.script_chars < MAX_SCRIPT_CHARS:
            text = text[: MAX_SCRIPT_CHARS - self.script_chars]
            self.scripts.append(text)
            self.script_chars += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        for key, value in a.items():
            if key in _URL_ATTRS and value and len(self.links) < MAX_URLS:
                self.links.append(value.strip())
            elif key.startswith("on") and value:
                self._keep_script(value)
                self.handlers.append(key)
        if tag == "script":
            self.script_count += 1
            self.in_script = True
            if a.get("src"):
                self.external_scripts += 1
            if "vbscript" in (a.get("language", "") + a.get("type", "")).lower():
                self.vbscript += 1
        elif tag == "form":
            self.forms.append(a.get("action", ""))
        elif tag == "input" and a.get("type", "").lower() == "password":
            self.password_inputs += 1
        elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            m = _REFRESH_URL.search(a.get("content", ""))
            self.refresh.append(m.group(1) if m else "")
        elif tag == "hta:application":
            self.hta += 1
        elif (tag == "object" and (a.get("classid") or a.get("codebase"))) or tag == "embed":
            self.objects += 1
        elif tag in ("iframe", "frame"):
            self.iframes += 1
            style = a.get("style", "").replace(" ", "").lower()
            if a.get("width") in ("0", "1") or a.get("height") in ("0", "1") or "display:none" in style \
                    or "visibility:hidden" in style or "hidden" in a:
                self.hidden_iframes += 1
        elif tag == "a" and "download" in a:
            self.download_attrs += 1
        href = a.get("href", "").strip().lower()
        if href.startswith(("javascript:", "vbscript:")):
            self._keep_script(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self._keep_script(data)


def _parse(text: str, ctx: Context, out: ExtractorResult) -> _Collector:
    """Feed the markup in chunks (the time budget is checked between them), in linear time.

    Constructs that never end are defused first (`_html_guard`). A construct still open at the end
    of a chunk (a tag with a megabyte of `data:` URI) is re-read by the parser on every feed until
    it ends, so the chunk doubles each time the parser is left waiting: the re-reading stays linear.
    """
    text, defused = _html_guard.defuse(text)
    if defused:
        out.flag(Flag.LIMIT_EXCEEDED, f"html: {defused} unterminated markup constructs read as text")
    parser = _Collector()
    try:
        start, chunk = 0, CHUNK
        while start < len(text):
            ctx.check()
            parser.feed(text[start:start + chunk])
            start += chunk
            if len(parser.rawdata) > chunk // 2:
                chunk *= 2
        parser.close()
    except (AssertionError, ValueError, IndexError) as exc:  # html.parser has a few internal asserts
        # Never the message: html.parser quotes the markup it stopped at.
        out.flag(Flag.PARSE_ERROR, f"html: markup parser stopped ({type(exc).__name__})")
    return parser


def _blobs(text: str, ctx: Context) -> tuple[list[tuple[int, str]], int, int, int]:
    """Encoded blobs worth decoding, the longest non-image base64 run, data: URI counts."""
    runs: list[tuple[int, str]] = []
    longest = 0
    for i, m in enumerate(_BASE64.finditer(text)):
        if i % 64 == 0:
            ctx.check()
        if _IMAGE_PREFIX.search(text[max(0, m.start() - 80):m.start()]):
            continue
        longest = max(longest, m.end() - m.start())
        runs.append((m.end() - m.start(), m.group(0)))
    runs.sort(key=lambda r: -r[0])
    data_uris = 0
    nonimage = 0
    for i, m in enumerate(_DATA_URI.finditer(text)):
        if i % 256 == 0:
            ctx.check()
        data_uris += 1
        mime = (m.group(1) or "text/plain").lower()
        if not mime.startswith(("image/", "text/css", "font/", "application/font", "application/x-font")):
            nonimage += 1
    return runs[:MAX_BLOBS], longest, data_uris, nonimage


class HtmlExtractor(Extractor):
    name = "html"
    version = 3
    detects = (TypeSpec("html", filetype.is_html, 70, "html", "HTML and HTA"),)
    file_types = frozenset({FileType.HTML})
    features = (
        "scripts", "script_bytes_log2", "external_scripts", "vbscript", "event_handlers", "forms",
        "external_forms", "password_inputs", "script_posts", "meta_refresh", "location_redirects", "hta",
        "activex", "shell_commands", "objects", "iframes", "hidden_iframes", "decoders", "evals",
        "document_writes", "decode_exec", "injections", "visible_text_log2", "escape_density",
        "longest_string_log2", "base64_max_log2", "data_uris", "data_uris_nonimage", "blob_api", "downloads",
        "encoded_payloads", "urls", "fullscreen", "dialogs", "navigation_traps", "alarm_audio", "support_phones",
        "alarm_words",
    )
    rules = (
        "HTML_HTA_APPLICATION", "HTML_ACTIVEX", "HTML_SHELL_COMMAND", "HTML_VBSCRIPT", "HTML_SMUGGLING",
        "HTML_ENCODED_PAYLOAD", "HTML_LARGE_ENCODED_BLOB", "HTML_CREDENTIAL_FORM", "HTML_PASSWORD_INPUT",
        "HTML_EXTERNAL_FORM", "HTML_REDIRECT", "HTML_OBFUSCATED_SCRIPT", "HTML_SUPPORT_SCAM",
    )

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        text = _decode(sample.data)
        page = _parse(text, ctx, out)
        raw_script = "\n".join(page.scripts)
        # Long base64 runs are measured apart (_blobs); without them every regex below runs 10-100x less text.
        script = _BLOB_RUN.sub("B64", raw_script)
        where = sample.display_path
        f = out.features

        low = script.lower()

        def count(pattern: re.Pattern[str], *needles: str) -> int:
            """Matches of `pattern`; substring needles first, as alternations defeat re's literal scan."""
            ctx.check()
            if needles and not any(n in low for n in needles):
                return 0
            return sum(1 for _ in pattern.finditer(script))

        # HTA and ActiveX: code that runs with the user's rights, outside any browser sandbox.
        activex = count(_ACTIVEX, "activex", "createobject", "getobject", "wscript", "shell.application",
                        "filesystemobject", "adodb", "xmlhttp", "winhttp")
        shell = count(_SHELL, ".run", ".exec", "shellexecute", "powershell", "mshta", "rundll32", "regsvr32",
                      "certutil", "bitsadmin", "cscript", "wscript", "cmd")
        f.update({"html.hta": page.hta, "html.activex": activex + page.objects, "html.shell_commands": shell,
                  "html.vbscript": page.vbscript, "html.objects": page.objects})
        if page.hta:
            out.add("HTML_HTA_APPLICATION", "<hta:application> tag", where)
        if activex:
            out.add("HTML_ACTIVEX", _first(_ACTIVEX, script), where)
        if shell and (activex or page.hta or page.vbscript):
            out.add("HTML_SHELL_COMMAND", _first(_SHELL, script), where)
        if page.vbscript:
            out.add("HTML_VBSCRIPT", f"{page.vbscript} VBScript block(s)", where)

        # Credential phishing: a password field whose value leaves the page.
        external_forms = [a for a in page.forms if _external(a)]
        posts = count(_POSTS, "xmlhttprequest", "fetch", "ajax", "post", "sendbeacon", "telegram", "submit")
        f.update({"html.forms": len(page.forms), "html.external_forms": len(external_forms),
                  "html.password_inputs": page.password_inputs, "html.script_posts": posts})
        if page.password_inputs and (external_forms or posts):
            target = external_forms[0] if external_forms else _first(_POSTS, script)
            out.add("HTML_CREDENTIAL_FORM", f"password field sent to {target}", where)
        elif page.password_inputs:
            out.add("HTML_PASSWORD_INPUT", f"{page.password_inputs} password field(s)", where)
        elif external_forms:
            out.add("HTML_EXTERNAL_FORM", f"form posts to {external_forms[0]}", where)

        # Redirects: the attachment only exists to send the reader to a remote page.
        locations = count(_LOCATION, "location")
        refresh = [u for u in page.refresh if _external(u)]
        f.update({"html.meta_refresh": len(page.refresh), "html.location_redirects": locations})
        if refresh or locations:
            out.add("HTML_REDIRECT", f"meta refresh to {refresh[0]}" if refresh else _first(_LOCATION, script),
                    where)

        # Obfuscation: decoding then executing or writing the decoded text.
        decode_exec = count(_DECODE_EXEC, *_DECODER_NEEDLES)
        escapes = count(_ESCAPES, "%", "\\")
        density = escapes / max(len(script), 1)
        longest_string = max((len(m.group(0)) for m in _LONG_STRING.finditer(raw_script)), default=0)
        decoders = count(_DECODERS, *_DECODER_NEEDLES)
        evals = count(_EVALS, "eval", "function", "execscript", "settimeout")
        writes = count(_DOC_WRITES, "write")
        custom = count(_CUSTOM_DECODE, "charcodeat", "fromcharcode")
        injects = count(_INJECT, "insert", "append", "html")
        f.update({"html.decoders": decoders + custom, "html.evals": evals, "html.document_writes": writes,
                  "html.decode_exec": decode_exec, "html.escape_density": round(density, 4),
                  "html.longest_string_log2": math.log2(longest_string + 1), "html.injections": injects})
        if decode_exec:
            out.add("HTML_OBFUSCATED_SCRIPT", _first(_DECODE_EXEC, script), where)
        elif custom and (injects or evals or writes):
            out.add("HTML_OBFUSCATED_SCRIPT", "hand-rolled decoder feeding " + _first(_INJECT, script)
                    if injects else _first(_CUSTOM_DECODE, script), where)
        elif (len(script) > 1024 and density > 0.2 and (evals or decoders)) \
                or (evals and decoders and longest_string > 1000):
            out.add("HTML_OBFUSCATED_SCRIPT", f"escape density {density:.2f}, longest string {longest_string}", where)

        # Smuggling: a file rebuilt in the browser and handed to the user as a download.
        blob_api = count(_BLOB_API, "blob", "objecturl", "file")
        downloads = page.download_attrs + count(_DOWNLOAD_PROP, "download") + count(_MS_SAVE, "mssave")
        runs, longest, data_uris, nonimage = _blobs(text, ctx)
        f.update({"html.blob_api": blob_api, "html.downloads": downloads, "html.data_uris": data_uris,
                  "html.data_uris_nonimage": nonimage, "html.base64_max_log2": math.log2(longest + 1)})
        if blob_api and downloads:
            out.add("HTML_SMUGGLING", _first(_BLOB_API, script), where)
        payloads = self._payloads(sample, runs, ctx, out)
        f["html.encoded_payloads"] = payloads
        emit_inline(sample, text, ctx, out)  # active inline <svg> and data: pictures (QR codes), as children
        if not payloads and longest >= LARGE_BLOB:
            out.add("HTML_LARGE_ENCODED_BLOB", f"{longest} characters of base64", where)

        visible = html_text(text[:MAX_SCRIPT_CHARS])
        f["html.visible_text_log2"] = math.log2(len(visible.split()) + 1)  # words
        # Fake alerts and tech-support scams: pressure plus alarm wording (extractors/_scam.py).
        ctx.check()
        scam = scam_signals(raw_script, text, visible)
        f.update({f"html.{k}": float(v) for k, v in scam.items()})
        if is_support_scam(scam):
            out.add("HTML_SUPPORT_SCAM", f"{scam['alarm_words']} alarm phrases, {scam['support_phones']} support "
                    f"number(s), fullscreen {scam['fullscreen']}, navigation traps {scam['navigation_traps']}", where)
        f.update({"html.scripts": page.script_count, "html.script_bytes_log2": math.log2(len(script) + 1),
                  "html.external_scripts": page.external_scripts, "html.event_handlers": len(page.handlers),
                  "html.iframes": page.iframes, "html.hidden_iframes": page.hidden_iframes})
        urls = [u for u in [*page.links, *refresh, *external_forms] if u.lower().startswith(("http", "ftp", "//"))]
        urls += find_urls(_BLOB_RUN.sub(" ", text), MAX_URLS)
        seen = dict.fromkeys(("http:" + u if u.startswith("//") else u) for u in urls)
        out.urls.extend(list(seen)[:MAX_URLS])
        f["html.urls"] = len(seen)
        for key in self.feature_names():
            f[key] = float(f.get(key, 0.0))

    @staticmethod
    def _payloads(sample: Sample, runs: list[tuple[int, str]], ctx: Context, out: ExtractorResult) -> int:
        """Decode the largest base64 blobs; emit those that are files (not pictures) as children."""
        emitted = 0
        for index, (_, blob) in enumerate(runs, 1):
            ctx.check()
            try:
                data = base64.b64decode(blob[: len(blob) - len(blob) % 4] or b"", validate=False)
            except (binascii.Error, ValueError):
                continue
            kind = sniff.kind(data)
            if kind in ("bin", "txt") or kind in sniff.IMAGE_KINDS:
                continue
            name = f"smuggled-{index}.{kind}"
            out.add("HTML_ENCODED_PAYLOAD", f"{len(blob)} base64 characters decode to a {kind} file",
                    f"{sample.display_path} > {name}")
            if not ctx.emit(out, sample, data, name):
                break
            emitted += 1
        return emitted


def _first(pattern: re.Pattern[str], text: str) -> str:
    m = pattern.search(text)
    if not m:
        return ""
    return text[max(0, m.start() - 40):m.end() + 60].replace("\n", " ").strip()
