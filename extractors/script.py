"""Scripts as attachments (.js .jse .vbs .vbe .wsf .ps1 .bat .cmd): what they fetch, run and hide.

Windows runs these on a double click (wscript, cscript, cmd; PowerShell through a shortcut or a
batch line), so a mailed script is a first stage by construction; what separates a downloader
from an admin's logon script is what the text does. Each script language is its own file type,
recognised by the strong markers `_mail_sniff.script_kind` uses (its labels are the mail and
OneNote extractors' labels too); an HTA stays HTML (the HTML extractor reads its markup, ActiveX
and shell calls). Microsoft Script Encoder blocks (.vbe/.jse, `#@~^`) are decoded first, and
PowerShell -EncodedCommand arguments are decoded and read with the rest.

Features are counts of named constructs (download, save, execute, LOLBins, persistence, defence
evasion) and obfuscation measures (concatenation and Chr()/fromCharCode chains, long base64 and
hex literals, escapes, character entropy), left to the model; findings are raised for the
combinations a benign script rarely shows.
"""

from __future__ import annotations

import math
import re

from maldoc.extractor import Context, Extractor
from maldoc.extractors import _commands as cmds
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors import _script_decode as screnc
from maldoc.extractors.urls import find_urls
from maldoc.filetype import Probe, TypeSpec, is_html
from maldoc.stats import text_entropy
from maldoc.types import ExtractorResult, FileType, Sample

MAX_CHARS = 4 * 1024 * 1024  # of script bytes decoded
WINDOW = 512 * 1024  # characters analysed from each end of a longer script (droppers pad the middle)
MAX_URLS = 500
KINDS = ("js", "vbs", "ps1", "bat", "wsf")
TYPES = {kind: FileType(f"script_{kind}") for kind in KINDS}
_DESCRIPTIONS = {"js": "JScript / JavaScript file (.js, .jse)", "vbs": "VBScript file (.vbs, .vbe)",
                 "ps1": "PowerShell script", "bat": "batch file (.bat, .cmd)", "wsf": "Windows Script File"}

_WSF_START = re.compile(r"\A(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.{0,2000}?-->\s*)*<(?:job|package)[\s>]", re.I | re.S)
_CONCAT = re.compile(r"[\"']\s*(?:\+|&|\.\.)\s*(?:_\s*\r?\n\s*)?[\"']")  # "ab" + "cd", "ab" & _ \n "cd"
_CHR = re.compile(r"\bChrW?\s*\(\s*(?:&H)?[0-9a-f]{1,6}\s*[-+*/\\)]|String\.fromCharCode\s*\(|\[char\]\s*0?x?\d{1,6}|"
                  r"\[char\[\]\]|%\w{1,40}:~-?\d{1,4},-?\d{1,4}%", re.I)
_ESCAPE = re.compile(r"\bunescape\s*\(|\bescape\s*\(|\bdecodeURIComponent\s*\(|%u[0-9a-f]{4}|\\x[0-9a-f]{2}", re.I)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{100,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]{100,}")
_WORD_OR_SPACE = re.compile(r"[\w\s]+")
_TAMPER = re.compile(r"(?:Add|Set)-MpPreference|DisableRealtimeMonitoring|AmsiUtils|amsiInitFailed", re.I)
_STRING = re.compile(r"\"[^\"\n]{0,65536}\"|'[^'\n]{0,65536}'")
_REVERSE = re.compile(r"\bStrReverse\s*\(|\.reverse\s*\(\s*\)|\[array\]::Reverse|-join\s*\(?\s*\$\w+\[\s*-1", re.I)
_FROM_B64 = re.compile(r"FromBase64String|\batob\s*\(|base64\s*-d|certutil[^\n]{0,40}-decode|"
                       r"\.DataType\s*=\s*[\"']bin\.base64", re.I)
_REPLACE_CHAIN = re.compile(r"(?:\.replace\s*\([^()\n]{1,60}\)\s*){3,}|(?:\bReplace\s*\([^\n]{1,120}\)[^\n]{0,4}){3}",
                            re.I)

_WSH_EXEC = re.compile(r"WScript\.Shell|Shell\.Application|\bWMIC?\b[^\n]{0,40}process\s+call\s+create|"
                       r"Win32_Process", re.I)
_RUN_CALL = re.compile(r"\.(?:Run|Exec|ShellExecute|Create)\s*[(\s\"]", re.I)

# Lines only batch files start with (the sniffer's markers, minus C's `goto label;`).
_BATCH_LINE = re.compile(r"\s*(?:@?echo\s+(?:off|on)\b|@?echo[\s.]|::|@?rem(?:\s|$)|@?set\s+/?\w*\s*\w+=|@?setlocal\b|"
                         r"@?start\s+(?:/\w+\s+)*\S|@?goto\s+:?\w+\s*$|:\w+\s*$|@?call\s+\S|@?if\s+(?:not\s+)?(?:exist|"
                         r"errorlevel|defined|\S+==)|@?for\s+/[fdlr]\b|@?cd\s+/d\b|@?(?:cmd|powershell|mshta|curl|"
                         r"rundll32|regsvr32|certutil|bitsadmin|robocopy|xcopy|copy|del|mkdir|timeout)(?:\.exe)?\s)",
                         re.I)

cmds.NEEDLES.update({
    _CHR: ("chr", "fromcharcode", "[char", "%"), _ESCAPE: ("escape", "decodeuri", "%u", "\\x"),
    _REVERSE: ("strreverse", "reverse"), _FROM_B64: ("frombase64", "atob", "base64", "-decode"),
    _REPLACE_CHAIN: ("replace",), _WSH_EXEC: ("wscript.shell", "shell.application", "wmi", "win32_process"),
    _RUN_CALL: (".run", ".exec", "shellexecute", ".create"),
})

_memo: tuple[bytes | None, str | None] = (None, None)


def script_type(p: Probe) -> str | None:
    """The script kind of the probed bytes, or None; computed once per probe (five types ask)."""
    global _memo
    head = p.head
    cached = _memo  # one read: another thread may replace it
    if cached[0] is head:  # the same bytes object: the same answer (bytes are immutable)
        return cached[1]
    kind = _kind(p)
    _memo = (head, kind)
    return kind


def _kind(p: Probe) -> str | None:
    text = sniff.text_head(p.data)
    if text is None:
        return None
    if screnc.is_encoded(text):
        plain, _ = screnc.decode(text)
        kind = sniff.script_kind(plain)
        return kind if kind in ("js", "vbs") else "vbs"  # screnc encodes only VBScript and JScript
    kind = sniff.script_kind(text)
    if kind is None or kind == "hta":
        return None
    if kind == "wsf":
        return kind if _WSF_START.match(text.lstrip("\ufeff \t\r\n")) else None
    if text.lstrip("\ufeff \t\r\n").startswith("<") or is_html(p):
        return None  # markup belongs to the HTML extractor
    if kind == "bat" and not _batch_like(text):
        return None
    return kind


def _batch_like(text: str) -> bool:
    """A batch file, not prose or C that happens to hold one batch-looking line (`goto out;`)."""
    lines = [ln for ln in text.splitlines()[:400] if ln.strip()]
    if lines and _BATCH_LINE.match(lines[0]):
        return True
    return sum(1 for ln in lines if _BATCH_LINE.match(ln) and not ln.rstrip().endswith((";", "{", "}"))) >= 2


def _window(text: str) -> str:
    return text if len(text) <= 2 * WINDOW else text[:WINDOW] + "\n" + text[-WINDOW:]


def _matcher(kind: str):
    return lambda p: script_type(p) == kind


def decode_text(data: bytes) -> str:
    """Script bytes as text: UTF-16 with or without a mark, else UTF-8, else cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data[:MAX_CHARS * 2].decode("utf-16", "replace")
    if len(data) > 8 and data[1:8:2] == b"\x00\x00\x00\x00":
        return data[:MAX_CHARS * 2].decode("utf-16-le", "replace")
    head = data[:MAX_CHARS].removeprefix(b"\xef\xbb\xbf")
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError:
        return head.decode("cp1252", "replace")


class ScriptExtractor(Extractor):
    name = "script"
    version = 1
    detects = tuple(TypeSpec(t.value, _matcher(k), 68, k, _DESCRIPTIONS[k]) for k, t in TYPES.items())
    file_types = frozenset(TYPES.values())
    features = (
        "chars_log2", "lines_log2", "encoded", "encoded_commands", "downloads", "saves", "executes",
        "lolbins", "programs", "persistence", "evasion", "hidden_window", "concat_ops", "chr_calls",
        "escapes", "reversals", "replace_chains", "base64_max_log2", "hex_max_log2", "longest_string_log2",
        "from_base64", "char_entropy", "symbol_ratio", "urls",
    )
    rules = ("SCRIPT_DOWNLOAD_EXECUTE", "SCRIPT_DOWNLOADER", "SCRIPT_LOLBIN", "SCRIPT_ENCODED_COMMAND",
             "SCRIPT_ENCODED_SCRIPT", "SCRIPT_OBFUSCATED", "SCRIPT_SHELL_EXEC", "SCRIPT_PERSISTENCE",
             "SCRIPT_DEFENDER_TAMPER")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        where = sample.display_path
        f = out.features
        text = decode_text(sample.data)
        encoded = 0
        if screnc.is_encoded(text):
            text, encoded = screnc.decode(text)
            out.add("SCRIPT_ENCODED_SCRIPT", f"{encoded} Microsoft Script Encoder block(s) decoded", where)
        commands = cmds.decode_encoded_command(text)
        if commands:
            out.add("SCRIPT_ENCODED_COMMAND", cmds.first(cmds.ENCODED_COMMAND, text, 20), where)
        body = _window("\n".join([text, *commands]))
        low = body.lower()

        def count(pattern: re.Pattern[str]) -> int:
            ctx.check()
            return cmds.count(pattern, body, low)

        downloads, saves, executes = count(cmds.DOWNLOAD), count(cmds.SAVE), count(cmds.EXECUTE)
        programs = cmds.programs(body)
        lolbins = [p for p in programs if p in cmds.LOLBINS]
        persistence, evasion = count(cmds.PERSISTENCE), count(cmds.EVASION)
        f.update({"script.encoded": float(encoded), "script.encoded_commands": float(len(commands)),
                  "script.downloads": downloads, "script.saves": saves, "script.executes": executes,
                  "script.programs": len(programs), "script.lolbins": len(lolbins),
                  "script.persistence": persistence, "script.evasion": evasion,
                  "script.hidden_window": float(bool(cmds.HIDDEN.search(body)))})
        if downloads and (executes or saves or lolbins):
            out.add("SCRIPT_DOWNLOAD_EXECUTE", cmds.first(cmds.DOWNLOAD, body), where)
        elif downloads:
            out.add("SCRIPT_DOWNLOADER", cmds.first(cmds.DOWNLOAD, body), where)
        if count(_WSH_EXEC) and count(_RUN_CALL):
            out.add("SCRIPT_SHELL_EXEC", cmds.first(_RUN_CALL, body), where)
        if lolbins:
            out.add("SCRIPT_LOLBIN", ", ".join(lolbins[:5]), where)
        if persistence:
            out.add("SCRIPT_PERSISTENCE", cmds.first(cmds.PERSISTENCE, body), where)
        if evasion and _TAMPER.search(body):
            out.add("SCRIPT_DEFENDER_TAMPER", cmds.first(cmds.EVASION, body), where)

        # Obfuscation: text built at run time instead of written down.
        concat, chars, escapes = count(_CONCAT), count(_CHR), count(_ESCAPE)
        reversals, replaces, from_b64 = count(_REVERSE), count(_REPLACE_CHAIN), count(_FROM_B64)
        base64_max = max((m.end() - m.start() for m in _BASE64.finditer(body)), default=0)
        hex_max = max((m.end() - m.start() for m in _HEX.finditer(body)), default=0)
        ctx.check()
        longest = max((m.end() - m.start() for m in _STRING.finditer(body)), default=0)
        symbols = len(_WORD_OR_SPACE.sub("", body[:1 << 20]))
        f.update({"script.concat_ops": concat, "script.chr_calls": chars, "script.escapes": escapes,
                  "script.reversals": reversals, "script.replace_chains": replaces,
                  "script.from_base64": from_b64, "script.base64_max_log2": math.log2(base64_max + 1),
                  "script.hex_max_log2": math.log2(hex_max + 1), "script.longest_string_log2": math.log2(longest + 1),
                  "script.char_entropy": round(text_entropy(body[:1 << 20]), 4),
                  "script.symbol_ratio": round(symbols / max(1, min(len(body), 1 << 20)), 4)})
        why = _obfuscation(concat, chars, escapes, reversals, replaces, from_b64, base64_max, hex_max,
                           executes + downloads)
        if why:
            out.add("SCRIPT_OBFUSCATED", why, where)

        # Web URLs only: UNC paths (\\server\share) are how admin scripts reach file servers; WebDAV
        # tricks (\\host@SSL\) are counted as downloads above.
        urls = [u for u in find_urls(body, MAX_URLS) if not u.startswith("\\")]
        out.urls.extend(urls)
        f.update({"script.urls": len(urls), "script.chars_log2": math.log2(len(text) + 1),
                  "script.lines_log2": math.log2(text.count("\n") + 1)})
        for key in self.feature_names():
            f[key] = float(f.get(key, 0.0))


def _obfuscation(concat: int, chars: int, escapes: int, reversals: int, replaces: int, from_b64: int,
                 base64_max: int, hex_max: int, acts: int) -> str:
    """Why the script hides its text, or '' (each alone is common; these thresholds are not)."""
    if chars >= 20:
        return f"{chars} Chr()/fromCharCode/[char] calls"
    if concat >= 30:
        return f"{concat} string concatenations"
    if (base64_max >= 1000 or hex_max >= 1000) and (from_b64 or acts):
        return f"{max(base64_max, hex_max)}-character encoded literal decoded at run time"
    if (reversals or replaces) and acts and (concat >= 5 or chars >= 5 or base64_max >= 200):
        return "string reversal or replace chains building the command"
    if escapes >= 50 and acts:
        return f"{escapes} escape sequences"
    return ""
