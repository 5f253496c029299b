"""Statistics over JavaScript found in a PDF: size, entropy, obfuscation and exploit-era APIs.

Reader JavaScript in benign files is form arithmetic (AFNumber_Format, field validation). The
exploit kits of 2008-2014 and today's droppers unpack themselves: eval of unescape'd or
fromCharCode-built strings, long hex or %u escape runs (heap-spray shellcode), delayed runs through
app.setTimeOut, and a short list of Reader APIs with known memory-corruption CVEs.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from maldoc.stats import text_entropy

MAX_JS_CHARS = 2 * 1024 * 1024  # per file; statistics on more than this say nothing new

_EVAL = re.compile(r"\beval\s*\(|\[\s*['\"]eval['\"]\s*\]")
_UNESCAPE = re.compile(r"\bunescape\s*\(")
_FROMCHARCODE = re.compile(r"fromCharCode")
_SETTIMEOUT = re.compile(r"app\s*\.\s*setTime(?:Out|Interval)", re.I)
_HEX_ESCAPE = re.compile(r"\\x[0-9A-Fa-f]{2}")
_UNICODE_ESCAPE = re.compile(r"%u[0-9A-Fa-f]{4}|\\u[0-9A-Fa-f]{4}")
MAX_STRING = 1048576  # characters inside one string literal; a longer one is not counted as one
_QUOTE = re.compile(r"[\"']")
_FREE_QUOTE = re.compile(r"(\\*)([\"'])")  # a quote and the backslashes right before it
# Reader APIs behind well-known exploits (CVE-2007-5659 collectEmailInfo, CVE-2008-2992 util.printf,
# CVE-2009-0927 getIcon, CVE-2009-4324 newPlayer, CVE-2009-1492 getAnnots, CVE-2009-1493
# customDictionaryOpen) and the call that launches an attached file.
EXPLOIT_APIS = (
    "Collab.collectEmailInfo", "util.printf", "Collab.getIcon", "media.newPlayer", "getAnnots",
    "spell.customDictionaryOpen", "syncAnnotScan",
)
_EXPLOIT = re.compile("|".join(re.escape(a).replace(r"\.", r"\s*\.\s*") for a in EXPLOIT_APIS))
_EXPORT_LAUNCH = re.compile(r"exportDataObject\s*\([^)]{0,400}nLaunch\s*:\s*[12]", re.S)
_SPRAY = re.compile(r"(?:%u0c0c|%u0a0a|%u9090|\\x0c\\x0c|\\x90\\x90)", re.I)
# Heap-spray shapes: a run of one repeated escape unit (NOP sled, 0x0c0c0c0c slide), a string doubled
# in a loop until it is huge, arrays filled in loops with large bounds.
_ESCAPE_UNIT = re.compile(r"%u[0-9A-Fa-f]{4}|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}")
_DOUBLING = re.compile(r"\b(\w{1,40})\s*(?:\+=\s*\1\b|=\s*\1\s*\+\s*\1\b)")
_NEW_ARRAY = re.compile(r"\bnew\s+Array\s*\(")
_LOOP_BOUND = re.compile(r"\b(?:for|while)\s*\([^)]{0,200}?<=?\s*(0x[0-9A-Fa-f]{1,8}|\d{1,10})\b")
LARGE_LOOP = 10_000
# Reader APIs that act outside the document: open or launch attachments, browse, post, open files.
ACTION_APIS = {
    "export_data": re.compile(r"\bexportDataObject\s*\("),
    "launch_url": re.compile(r"\blaunchURL\s*\(|\bgetURL\s*\("),
    "submit_form": re.compile(r"\bsubmitForm\s*\("),
    "open_doc": re.compile(r"\bopenDoc\s*\("),
    "mail": re.compile(r"\bmailDoc\s*\(|\bmailForm\s*\(|\bmailMsg\s*\("),
}
# Code kept out of the script and read back at run time: form fields, annotations, document metadata.
_STASH = re.compile(r"\bgetField\s*\(|\bgetAnnots?\s*\(|\bthis\s*\.\s*info\s*\.|\.subject\b|getPageNthWord\s*\(|"
                    r"\bdataObjects?\b|\bgetDataObjectContents\s*\(")


@dataclass(slots=True)
class JsStats:
    scripts: int = 0
    length: int = 0
    entropy: float = 0.0  # of all script text together
    eval: int = 0
    unescape: int = 0
    fromcharcode: int = 0
    settimeout: int = 0
    hex_escape_density: float = 0.0  # \xNN escapes per 1,000 characters
    unicode_escape_density: float = 0.0  # %uNNNN or \uNNNN per 1,000 characters
    longest_string: int = 0
    exploit_apis: tuple[str, ...] = ()
    export_launch: bool = False
    spray: int = 0
    escape_run: int = 0  # longest run of one repeated escape unit (%u0c0c%u0c0c...)
    doubling: int = 0  # `s += s` / `s = s + s`
    new_arrays: int = 0
    large_loops: int = 0  # for/while loops bounded by a constant of at least LARGE_LOOP
    actions: tuple[str, ...] = ()  # ACTION_APIS keys used
    stash_eval: bool = False  # eval fed by text kept elsewhere in the document

    @property
    def spray_shape(self) -> bool:
        """A heap spray's layout: a long run of one escape unit, or a doubled string or arrays in big loops."""
        return self.escape_run >= 32 or (self.large_loops > 0 and (self.doubling > 0 or self.new_arrays > 0))

    @property
    def obfuscated(self) -> bool:
        """Self-decoding code: an eval fed by an escape decoder, or escape runs a person never writes."""
        decoder = self.unescape or self.fromcharcode
        return bool((self.eval and decoder) or self.longest_string > 20000
                    or (self.length > 2000 and (self.hex_escape_density > 100 or self.unicode_escape_density > 50)))


def text_of(value: bytes | str) -> str:
    """A PDF text string: UTF-16 with a BOM, or PDFDocEncoding (read as Latin-1)."""
    if isinstance(value, str):
        return value
    if value[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return value.decode("utf-16", "replace")
    if value[:3] == b"\xef\xbb\xbf":
        return value[3:].decode("utf-8", "replace")
    return value.decode("latin-1")


def longest_string(code: str) -> int:
    """Length of the longest one-line '...' or "..." literal (backslash escapes allowed), in O(n log n).

    The same answer as scanning with the regex `"(?:[^"\\\n]|\\.)*"` (either quote), which
    backtracks: each unclosed literal is re-read from every quote inside it, 21 s on 39 KiB of
    `"\"\"\"...`. Here a literal opening at `s` ends at the first quote of its kind after `s`
    preceded by an even run of backslashes (a "free" quote), if no newline comes first; every
    quote is a candidate start, as the regex scan tries them left to right.
    """
    free: dict[str, list[int]] = {'"': [], "'": []}
    for m in _FREE_QUOTE.finditer(code):
        if not len(m.group(1)) % 2:
            free[m.group(2)].append(m.end() - 1)
    newlines = [m.start() for m in re.finditer("\n", code)]
    best = 0
    pos = 0
    for m in _QUOTE.finditer(code):
        start = m.start()
        if start < pos:
            continue  # inside the literal matched last
        ends = free[m.group(0)]
        k = bisect.bisect_right(ends, start)
        if k == len(ends):
            continue
        end = ends[k]
        line_break = bisect.bisect_right(newlines, start)
        if (line_break < len(newlines) and newlines[line_break] < end) or end - start - 1 > MAX_STRING:
            continue
        best = max(best, end - start - 1)
        pos = end + 1
    return best


def analyse(scripts: list[str]) -> JsStats:
    s = JsStats(scripts=len(scripts))
    code = "\n".join(scripts)[:MAX_JS_CHARS]
    s.length = sum(len(x) for x in scripts)
    if not code:
        return s
    s.entropy = round(text_entropy(code), 4)
    s.eval = len(_EVAL.findall(code))
    s.unescape = len(_UNESCAPE.findall(code))
    s.fromcharcode = len(_FROMCHARCODE.findall(code))
    s.settimeout = len(_SETTIMEOUT.findall(code))
    per_k = 1000 / len(code)
    s.hex_escape_density = round(len(_HEX_ESCAPE.findall(code)) * per_k, 3)
    s.unicode_escape_density = round(len(_UNICODE_ESCAPE.findall(code)) * per_k, 3)
    s.longest_string = longest_string(code)
    s.exploit_apis = tuple(sorted({re.sub(r"\s+", "", m.group(0)) for m in _EXPLOIT.finditer(code)}))
    s.export_launch = bool(_EXPORT_LAUNCH.search(code))
    s.spray = len(_SPRAY.findall(code))
    s.escape_run = _escape_run(code)
    s.doubling = len(_DOUBLING.findall(code))
    s.new_arrays = len(_NEW_ARRAY.findall(code))
    s.large_loops = sum(_number(m.group(1)) >= LARGE_LOOP for m in _LOOP_BOUND.finditer(code))
    s.actions = tuple(name for name, pattern in ACTION_APIS.items() if pattern.search(code))
    s.stash_eval = bool(s.eval and _STASH.search(code))
    return s


def _number(text: str) -> int:
    return int(text, 16) if text[:2].lower() == "0x" else int(text)


def _escape_run(code: str) -> int:
    """Longest run of one escape unit repeated back to back, in one pass over the escapes."""
    best = run = 0
    last_end, last = -1, ""
    for m in _ESCAPE_UNIT.finditer(code):
        unit = m.group().lower()
        run = run + 1 if m.start() == last_end and unit == last else 1
        best = max(best, run)
        last_end, last = m.end(), unit
    return best


# Features these statistics add, without the `pdf.` prefix; the pdf extractor writes `features(js)`.
FEATURES = ("js_escape_run", "js_doubling", "js_new_arrays", "js_large_loops", "js_spray_shape",
            *(f"js_{name}" for name in ACTION_APIS), "js_stash_eval")


def features(s: JsStats) -> dict[str, float]:
    """The statistics above as `pdf.` features (0 when there is no script)."""
    out = {"pdf.js_escape_run": float(s.escape_run), "pdf.js_doubling": float(s.doubling),
           "pdf.js_new_arrays": float(s.new_arrays), "pdf.js_large_loops": float(s.large_loops),
           "pdf.js_spray_shape": float(s.spray_shape), "pdf.js_stash_eval": float(s.stash_eval)}
    out.update({f"pdf.js_{name}": float(name in s.actions) for name in ACTION_APIS})
    return out
