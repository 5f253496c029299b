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
    return s
