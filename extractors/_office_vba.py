"""Static analysis of VBA source text: triggers, behaviour keywords, IOCs, obfuscation statistics.

Pure functions on strings, so they are testable without any document. Every pattern is compiled
once at import; olevba's own keyword scan runs hundreds of separate regexes seven times per file
(and an optional pyparsing deobfuscator), so here its keyword tables are folded into two compiled
alternations, and the categories that drive findings are our own, tighter lists.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from maldoc import olecompat
from maldoc.olecompat import quiet
from maldoc.stats import text_entropy

from ._office_common import EXE_NAME_RE, IPV4_RE
from .urls import find_urls

MAX_CODE_CHARS = 4 << 20  # source analysed per document; longer projects are cut (and flagged)


class LazyPattern:
    """A regex compiled on first use. Every extractor module is imported when maldoc starts, and
    most scans (and the start-up of a one-file scan) never meet VBA: they should not compile these."""

    __slots__ = ("_build", "_pattern")

    def __init__(self, build: Callable[[], re.Pattern[str]]) -> None:
        self._build = build
        self._pattern: re.Pattern[str] | None = None

    def __getattr__(self, name: str):  # finditer, findall, search, sub, ...: the compiled pattern's
        if self._pattern is None:
            self._pattern = self._build()
        return getattr(self._pattern, name)


def _lc(pattern: str, flags: str = "") -> LazyPattern:
    """`pattern` for lower-cased text: letters lowered (escapes kept), no IGNORECASE.

    Python's re cannot use literal prefixes under IGNORECASE; scanning `code.lower()` with
    lower-case patterns is about five times faster on large projects."""
    return LazyPattern(lambda: re.compile(flags + re.sub(r"(?<!\\)[A-Z]", lambda m: m.group().lower(), pattern)))


def _words(*names: str) -> str:
    """One alternation. Names starting with `\\.` are members (`obj.Run`): matched after any word,
    the rest only at a word start. No pattern may start with `\\w+`: that backtracks at every
    character of every identifier and made this scan quadratic on large projects."""
    plain = [n for n in names if not n.startswith("\\.")]
    member = [n for n in names if n.startswith("\\.")]
    body = r"(?<!\w)(?:" + "|".join(plain) + ")"
    if member:
        body += r"|(?<=\w)(?:" + "|".join(member) + ")"
    return body


# Behaviour categories: (feature name, rule id or "", pattern). Word boundaries on both sides.
CATEGORIES: tuple[tuple[str, str, LazyPattern], ...] = tuple(
    (name, rule, _lc(r"(?:" + pattern + r")(?:(?<!\w)|(?!\w))"))  # a boundary after a word character
    for name, rule, pattern in (
        ("shell", "VBA_SHELL", _words(
            r"Shell\s*\(", r"Shell\s+\S", r"ShellExecute(?:Ex)?[AW]?", r"WinExec", r"CreateProcess[AW]?",
            r"\.Run", r"\.Exec", r"\.ShellExecute", r"InvokeVerb(?:Ex)?", r"MacScript", r"AppleScriptTask",
            r"vbHide", r"vbMinimizedNoFocus", r"cmd(?:\.exe)?\s+/[ck]", r"Shell\.Application",
            r"WScript\.Shell", r"mshta", r"rundll32", r"regsvr32", r"wscript", r"cscript")),
        ("powershell", "VBA_POWERSHELL", _words(
            r"powershell(?:\.exe)?", r"pwsh", r"-e(?:nc|ncodedcommand)", r"-nop(?:rofile)?", r"-exec(?:utionpolicy)?",
            r"Invoke-Expression", r"IEX", r"DownloadString", r"Start-Process", r"FromBase64String",
            r"New-Object", r"Invoke-WebRequest", r"-w(?:indowstyle)?\s+hidden")),
        ("download", "VBA_DOWNLOAD", _words(
            r"URLDownloadToFile[AW]?", r"(?:MSXML2|Microsoft)\.(?:Server)?XMLHTTP(?:\.[\d.]+)?",
            r"WinHttp(?:\.WinHttpRequest(?:\.[\d.]+)?)?",
            r"WinHttpRequest", r"Net\.WebClient", r"DownloadFile", r"DownloadData", r"InternetOpen(?:Url)?[AW]?",
            r"InternetReadFile", r"HttpSendRequest[AW]?", r"bitsadmin", r"certutil", r"responseBody",
            r"Msxml2\.ServerXMLHTTP(?:\.[\d.]+)?", r"FollowHyperlink")),
        ("file_write", "VBA_FILE_WRITE", _words(
            r"SaveToFile", r"CreateTextFile", r"OpenTextFile", r"FileCopy", r"CopyFile", r"CopyHere",
            r"MoveFile", r"WriteText", r"Put\s*#", r"Print\s*#", r"Write\s*#", r"For\s+(?:Output|Binary|Append)",
            r"ADODB\.Stream", r"Kill", r"SaveAs", r"MkDir")),
        ("registry", "VBA_REGISTRY", _words(
            r"RegWrite", r"RegRead", r"RegDelete", r"RegOpenKey(?:Ex)?[AW]?", r"RegSetValue(?:Ex)?[AW]?",
            r"RegCreateKey(?:Ex)?[AW]?", r"RegQueryValue(?:Ex)?[AW]?", r"HKEY_(?:CURRENT_USER|LOCAL_MACHINE)",
            r"HKCU\\", r"HKLM\\", r"StdRegProv")),
        ("com_object", "VBA_COM_OBJECT", _words(
            r"WScript\.Shell", r"Shell\.Application", r"(?:MSXML2|Microsoft)\.(?:Server)?XMLHTTP(?:\.[\d.]+)?",
            r"ADODB\.Stream",
            r"Scripting\.FileSystemObject", r"Schedule\.Service", r"WScript\.Network",
            r"InternetExplorer\.Application", r"WinHttp\.WinHttpRequest(?:\.[\d.]+)?",
            r"MSXML2\.DOMDocument(?:\.[\d.]+)?",
            r"Microsoft\.XMLDOM", r"ScriptControl", r"MSScriptControl\.ScriptControl", r"Excel\.Application",
            r"new:[0-9A-F]{8}-[0-9A-F-]{27}", r"Outlook\.Application")),
        ("wmi", "VBA_WMI", _words(
            r"winmgmts:?", r"Win32_Process(?:Startup)?", r"WbemScripting\.SWbemLocator", r"SWbemLocator",
            r"ConnectServer", r"Win32_ScheduledJob")),
        ("anti_analysis", "VBA_ANTI_ANALYSIS", _words(
            r"RecentFiles\.Count", r"VMware", r"VirtualBox", r"VBOX\w*", r"vmtoolsd?", r"Sandboxie",
            r"SbieDll",
            r"IsDebuggerPresent", r"Win32_BIOS", r"Win32_ComputerSystem", r"Win32_DiskDrive",
            r"Win32_NetworkAdapter\w*",
            r"NumberOfProcessors", r"Wireshark", r"procmon", r"Application\.UserName\s*=\s*\"", r"QEMU", r"Xen",
            r"GetTickCount", r"Win32_PhysicalMemory", r"MaxClockSpeed")),
        ("injection", "VBA_INJECTION", _words(
            r"VirtualAlloc(?:Ex)?", r"VirtualProtect(?:Ex)?", r"RtlMoveMemory", r"RtlCopyMemory", r"CreateThread",
            r"CreateRemoteThread", r"WriteProcessMemory", r"QueueUserAPC", r"NtAllocateVirtualMemory",
            r"NtWriteVirtualMemory", r"EnumSystemLanguageGroups[AW]?", r"EnumDateFormats(?:Ex){0,2}[AW]?",
            r"CallWindowProc[AW]?", r"EnumWindows", r"HeapCreate", r"SetContextThread", r"ResumeThread")),
        ("self_modify", "VBA_SELF_MODIFY", _words(
            r"VBProject", r"VBComponents", r"CodeModule", r"AddFromString", r"AddFromFile", r"InsertLines",
            r"AccessVBOM", r"VBAWarnings", r"ProtectedView", r"DisableAttachementsInPV", r"DisableInternetFilesInPV")),
        ("environ", "", r"Environ\$?\s*\(|ExpandEnvironmentStrings|%(?:TEMP|APPDATA|USERPROFILE|PUBLIC)%"),
        ("hide", "", r"Application\.Visible\s*=\s*False|ShowWindow|SW_HIDE|DisplayAlerts\s*=\s*False"),
        ("callbyname", "", r"CallByName|ExecuteExcel4Macro|Application\.Run"),
    )
)
DECLARE_RE = _lc(r"^\s*(?:(?:Public|Private)\s+)?Declare\s+(?:PtrSafe\s+)?(?:Function|Sub)\s+\w+\s+Lib\b", "(?m)")

# Auto-exec triggers: named document/workbook events, and ActiveX events that fire without a click.
_OPEN = ("AutoOpen", "Auto_Open", "AutoExec", "Document_Open", "DocumentOpen", "Workbook_Open",
         "Workbook_Activate", "Auto_Ope")
_CLOSE = ("AutoClose", "Auto_Close", "AutoExit", "Document_Close", "DocumentBeforeClose", "Document_BeforeClose",
          "Workbook_Close", "Workbook_BeforeClose")
_OTHER = ("AutoNew", "Document_New", "NewDocument", "DocumentChange", "Worksheet_Calculate", "Worksheet_Activate",
          "Workbook_SheetActivate", "Workbook_WindowActivate")
_EVENT = (r"\w+_(?:Painted|Painting|GotFocus|LostFocus|MouseHover|Layout|Resize|BeforeNavigate2|"
          r"BeforeScriptExecute|DocumentComplete|DownloadBegin|DownloadComplete|FileDownload|NavigateComplete2|"
          r"NavigateError|ProgressChange|PropertyChange|SetSecureLockIcon|StatusTextChange|TitleChange|MouseMove|"
          r"MouseEnter|MouseLeave|OnConnecting|ContentControlOnEnter|Initialize)")
TRIGGERS = (
    ("open", _lc(r"\b(?:" + "|".join(_OPEN) + r")\b")),
    ("close", _lc(r"\b(?:" + "|".join(_CLOSE) + r")\b")),
    ("other", _lc(r"\b(?:" + "|".join(_OTHER) + r")\b")),
    ("event", _lc(r"^[ \t]*(?:(?:Public|Private)[ \t]+)?Sub[ \t]+(" + _EVENT + r")\b", "(?m)")),
)


def _olevba_alternation(table: str) -> LazyPattern:
    """olevba's keyword table `table` as one alternation (olevba loads when it is first compiled)."""

    def build() -> re.Pattern[str]:
        with quiet():
            tables = [getattr(olecompat.olevba, table)]
        words = sorted({k for t in tables for ks in t.values() for k in ks}, key=len, reverse=True)
        return re.compile(r"\b(?:" + "|".join(re.escape(w.lower()) for w in words) + r")\b")

    return LazyPattern(build)


OLEVBA_SUSPICIOUS = _olevba_alternation("SUSPICIOUS_KEYWORDS")
OLEVBA_AUTOEXEC = _olevba_alternation("AUTOEXEC_KEYWORDS")

STRING_RE = re.compile(r'"((?:[^"\r\n]|"")*)"')
COMMENT_LINE_RE = _lc(r"^\s*(?:'|Rem\b)", "(?m)")
COMMENT_BODY_RE = _lc(r"^\s*(?:'|Rem\b).*$", "(?m)")
ATTRIBUTE_LINE_RE = re.compile(r"(?im)^\s*Attribute\s+VB_\w+.*$")
CHR_RE = _lc(r"\bChr[BW]?\$?\s*\(")
ASC_RE = _lc(r"\bAsc[BW]?\s*\(")
STRREVERSE_RE = _lc(r"\bStrReverse\s*\(")
REPLACE_RE = _lc(r"\bReplace\s*\(")
SPLIT_RE = _lc(r"\bSplit\s*\(")
MID_RE = _lc(r"\bMid[B]?\$?\s*\(")
HEX_LITERAL_RE = _lc(r"&H[0-9A-F]+\b")
CONCAT_RE = re.compile(r"&(?![HhOo][0-9A-Fa-f])|\+(?=\s*(?:\"|Chr))")
IDENT_RE = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b")
HEX_STRING_RE = re.compile(r"^(?:[0-9A-Fa-f]{2}){8,}$")
BASE64_STRING_RE = re.compile(r"^(?=[A-Za-z0-9+/]*[G-Zg-z])[A-Za-z0-9+/]{20,}={0,2}$")
LINE_CONT_RE = re.compile(r"[ \t]_\r?\n")

# Literal pieces in source order: string literals and Chr(number) calls, so that "WScr" & "ipt.Shell"
# and Chr(87) & Chr(83) & ... read as the text they build (no evaluation: only constants are joined).
PIECE_RE = _lc(r'"((?:[^"\r\n]|"")*)"|\bchr[bw]?\$?\s*\(\s*(\d{1,5})\s*\)')
CONCAT_GAP_RE = re.compile(r"^\s*[&+]\s*$")
MAX_PIECES = 200_000
REPLACE_NEST_RE = _lc(r"(?:\breplace\s*\(\s*){2,}")
DYNAMIC_OBJECT_RE = _lc(r"\b(?:CreateObject|GetObject)\s*\(\s*(?![\s\"])")
WMI_CREATE_RE = _lc(r"\.create\b|\.exec(?:method|query)?\b|\.spawninstance_")
# Process start, tighter than mraptor's execute table (which counts every `Call` and `CreateObject`, so
# benign macros match it): Shell in all its spellings (VBA.Shell, Shell#, [Shell]), `.Run` with a hidden
# window, the Win32/COM launchers, interpreters by name.
EXEC_RE = _lc(r"(?<!\w)\[?shell\]?[#%$&!@]?\s*(?:\(|[ \t]+(?!as\b)[\"\w(&])|"
              r"\.run\b[^\n]{0,300}?,\s*(?:0|vbhide)\b|\bshellexecute(?:ex)?[aw]?\b|\bwinexec\b|"
              r"\bcreateprocess[aw]?\b|\bcmd(?:\.exe)?\s*/[ck]\b|\bmshta\b|\brundll32\b|\bregsvr32\b|"
              r"\bwscript\.exe\b|\bcscript\b|\bpowershell\b|\binvokeverb(?:ex)?\b|\bmacscript\b")
# Win32_Process.Create(command, folder, startup, pid) on a moniker's object: four plain arguments, often with
# the moniker and class names built elsewhere (`X(Y("a:b")).Create(c, d, e, f)`).
WMI_CREATE4_RE = _lc(r"\)\s*\.create\s*\((?:\s*[\w.]+\s*,){3}\s*[\w.]+\s*\)")
# CallByName with a method name built from pieces ("She" & "llExe" & Chr(n) & "ute"): a hidden call.
HIDDEN_METHOD_RE = _lc(r"\bshell|\bexec|\brun\b|\bcreate\b")
# Triggers that fire when a document opens or closes; a class or form's own Initialize does not.
NOT_DOCUMENT_TRIGGERS = ("class_initialize", "userform_initialize")
# The COM objects and monikers droppers start, named one by one: each its own feature.
# (name, substrings one of which must be present, pattern): the substring test skips the regex pass.
OBJECTS: tuple[tuple[str, tuple[str, ...], LazyPattern], ...] = (
    ("wscript_shell", ("wscript.shell",), _lc(r"\bwscript\.shell\b")),
    ("shell_application", ("shell.application",), _lc(r"\bshell\.application\b")),
    ("xmlhttp", ("xmlhttp", "winhttp"),
     _lc(r"\b(?:msxml2\.(?:server)?xmlhttp|microsoft\.xmlhttp|winhttp\.winhttprequest)")),
    ("adodb_stream", ("adodb.stream",), _lc(r"\badodb\.stream\b")),
    ("wmi", ("winmgmts", "swbemlocator", "win32_process"),
     _lc(r"\bwinmgmts\b|\bwbemscripting\.swbemlocator\b|\bwin32_process\b")),
    ("filesystem", ("filesystemobject",), _lc(r"\bscripting\.filesystemobject\b")),
)
# Words a macro hides when it builds strings: found only in the joined pieces, never in the source text.
HIDDEN_WORDS = _lc(r"\b(?:wscript\.shell|shell\.application|msxml2|xmlhttp|adodb\.stream|winmgmts|win32_process|"
                   r"powershell|cmd(?:\.exe)?|mshta|rundll32|regsvr32|certutil|bitsadmin|urldownloadtofile|"
                   r"https?://|\.exe\b|\.dll\b|\.hta\b|\.vbs\b|\.ps1\b)")
VOWELS = frozenset("aeiouyAEIOUY")

# Words too common in VBA to tell anything about naming (keywords, common API).
_KEYWORD_TEXT = (
    "attribute function private public option explicit integer string boolean variant object double single "
    "false true then else elseif select case next each while wend loop until exit with dim const byval byref "
    "optional paramarray property sub end call set call long byte date currency nothing empty null redim "
    "preserve error resume goto static global declare ptrsafe alias this thisdocument thisworkbook "
    "application activedocument activeworkbook worksheets sheets range cells value text name count item "
    "document workbook base begin version multiuse predeclaredid exposed creatable vb_name vb_base "
    "vb_globalnamespace vb_creatable vb_predeclaredid vb_exposed vb_templatederived vb_customizable"
)
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())


@dataclass
class Analysis:
    """What one document's VBA source says; `features` use the vba extractor's names."""

    features: dict[str, float] = field(default_factory=dict)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (rule id, evidence)
    urls: list[str] = field(default_factory=list)


def _random_name(name: str) -> bool:
    """A machine-made identifier: long, and vowel-starved or vowel-stuffed or with consonant runs."""
    if len(name) < 8:
        return False
    letters = [c for c in name if c.isalpha()]
    if not letters:
        return True
    ratio = sum(c in VOWELS for c in letters) / len(letters)
    run = longest = 0
    for c in name.lower():
        run = run + 1 if c.isalpha() and c not in VOWELS else 0
        longest = max(longest, run)
    return ratio < 0.2 or ratio > 0.7 or longest >= 5


def _decoded_strings(strings: list[str], reverse: bool) -> str:
    """Hex and base64 literals decoded (and reversed literals, when StrReverse is used)."""
    parts: list[str] = []
    for s in strings[:5000]:
        if HEX_STRING_RE.match(s):
            parts.append(binascii.unhexlify(s).decode("latin-1"))
        elif len(s) >= 20 and BASE64_STRING_RE.match(s) and len(s) % 4 == 0:
            with contextlib.suppress(binascii.Error, ValueError):
                parts.append(base64.b64decode(s, validate=True).decode("latin-1"))
        if reverse and len(s) >= 4:
            parts.append(s[::-1])
    return "\n".join(parts)


def _pieces(body: str, lbody: str) -> tuple[str, int]:
    """(the text that literals and Chr() calls joined by & or + build, one line per expression, in source
    order; the longest Chr() chain)."""
    out: list[str] = []
    chain = longest = 0
    last_end = -1
    for i, m in enumerate(PIECE_RE.finditer(lbody)):
        if i >= MAX_PIECES:
            break
        joined = last_end >= 0 and CONCAT_GAP_RE.match(lbody[last_end:m.start()]) is not None
        if not joined:
            out.append("\n")  # pieces of different expressions stay apart
        if m.group(2) is not None:
            code = int(m.group(2))
            out.append(chr(code) if code < 0x110000 else "")
            chain = chain + 1 if joined and chain else 1
            longest = max(longest, chain)
        else:
            out.append(body[m.start(1):m.end(1)].replace('""', '"') if len(body) == len(lbody) else m.group(1))
            chain = 0
        last_end = m.end()
    return "".join(out), longest


def _semantic(f: dict[str, float], result: Analysis, body: str, lbody: str, lscanned: str, raptor,
              kb: float, strings: list[str], triggers: list[str]) -> None:
    """What the macro does, as 0/1 features and their combinations (mraptor's A/W/X, split by kind),
    read from the source, its decoded literals and the text its string pieces build."""
    joined, chr_chain = _pieces(body, lbody)
    ljoined = joined.lower()
    for name, keys, pattern in OBJECTS:
        present = any(k in lscanned or k in ljoined for k in keys)
        f[f"obj_{name}"] = float(present and bool(pattern.search(lscanned) or pattern.search(ljoined)))
    # A word is hidden when the pieces build it and the source never spells it (a substring test).
    hidden = {m.group() for m in HIDDEN_WORDS.finditer(ljoined)}
    hidden = {w for w in hidden if w not in lbody}
    f["hidden_keywords"] = float(len(hidden))
    auto = any(t.lower() not in NOT_DOCUMENT_TRIGGERS for t in triggers)
    code_only = COMMENT_BODY_RE.sub("", lscanned) if "'" in lscanned or "rem" in lscanned else lscanned
    wmi_exec = (bool(f["obj_wmi"]) and bool(WMI_CREATE_RE.search(code_only))) or \
        (".create" in code_only and bool(WMI_CREATE4_RE.search(code_only)))
    hidden_call = "callbyname" in code_only and bool(HIDDEN_METHOD_RE.search(ljoined))
    downloads = bool(f["kw_download"] or f["obj_xmlhttp"])
    executes = bool(EXEC_RE.search(code_only) or EXEC_RE.search(ljoined) or wmi_exec or hidden_call
                    or f["obj_wscript_shell"] or f["obj_shell_application"])
    # mraptor's write table (oletools) over the source and over the text the string pieces build.
    writes = bool(raptor.write or f["obj_adodb_stream"] or olecompat.mraptor.re_write.search(ljoined))
    f["downloads"] = float(downloads)
    f["executes"] = float(executes)
    f["writes"] = float(writes)
    f["wmi_exec"] = float(wmi_exec)
    f["autoexec_and_download"] = float(auto and downloads)
    f["autoexec_and_exec"] = float(auto and executes)
    f["autoexec_and_write"] = float(auto and writes)
    f["autoexec_and_wmi"] = float(auto and bool(f["obj_wmi"]))
    f["autoexec_and_shell_object"] = float(auto and bool(f["obj_wscript_shell"] or f["obj_shell_application"]))
    f["download_and_exec"] = float(downloads and (executes or writes))
    f["autoexec_download_exec"] = float(auto and downloads and (executes or writes))
    # String obfuscation, by code size (a raw count would only say how long the project is).
    decoders = (f["chr_calls"] + f["strreverse_calls"] + f["replace_calls"] + f["mid_calls"] + f["split_calls"]
                + f["asc_calls"] + f["kw_callbyname"])
    f["decoder_calls_per_kb"] = decoders / kb
    f["strreverse_per_kb"] = f["strreverse_calls"] / kb
    f["replace_per_kb"] = f["replace_calls"] / kb
    f["chr_chain_max"] = float(chr_chain)
    nests = REPLACE_NEST_RE.finditer(lbody) if f["replace_calls"] >= 2 else ()
    f["replace_nesting"] = float(max((m.group().count("(") for m in nests), default=0))
    encoded = [s for s in strings if HEX_STRING_RE.match(s) or (len(s) >= 20 and BASE64_STRING_RE.match(s))]
    f["encoded_literal_max"] = float(max(map(len, encoded), default=0))
    total = sum(map(len, strings))
    f["encoded_literal_ratio"] = sum(map(len, encoded)) / total if total else 0.0
    f["dynamic_objects"] = float(len(DYNAMIC_OBJECT_RE.findall(lbody))) if "object" in lbody else 0.0
    f["environ_per_kb"] = f["kw_environ"] / kb
    if auto and executes:
        result.findings.append(("VBA_AUTOEXEC_EXECUTE", "document open/close trigger and a process start"
                                + (" (WMI)" if wmi_exec else " (CallByName)" if hidden_call else "")))
    if auto and downloads and (executes or writes):
        result.findings.append(("VBA_AUTOEXEC_DOWNLOAD_EXECUTE", "auto-exec trigger, download, and "
                                + ("execution" if executes else "file write")))
    if hidden:
        result.findings.append(("VBA_HIDDEN_STRINGS", "built from pieces: " + ", ".join(sorted(hidden)[:8])))


def analyze(code: str) -> Analysis:
    """Analyse the concatenated source of every module of one document."""
    result = Analysis()
    f = result.features
    code = LINE_CONT_RE.sub(" ", code[:MAX_CODE_CHARS])
    body = ATTRIBUTE_LINE_RE.sub("", code)
    lines = [ln for ln in body.splitlines() if ln.strip()]
    n_lines = max(len(lines), 1)
    kb = max(len(body) / 1024, 1.0)

    strings = [m.group(1).replace('""', '"') for m in STRING_RE.finditer(body)]
    lbody = body.lower()  # most patterns are compiled lower-case (see _lc)
    reverse = bool(STRREVERSE_RE.search(lbody))
    decoded = _decoded_strings(strings, reverse)
    scanned = body + "\n" + decoded  # keywords hidden in encoded strings count too
    lscanned = scanned.lower()
    # Evidence is cut from the original text where lower() kept every offset (ASCII, nearly always).
    obody = body if len(body) == len(lbody) else lbody
    oscanned = scanned if len(scanned) == len(lscanned) else lscanned

    # Triggers
    triggers: list[str] = []
    for name, pattern in TRIGGERS:
        hits = {obody[m.start(m.lastindex or 0):m.end(m.lastindex or 0)] for m in pattern.finditer(lbody)}
        f[f"autoexec_{name}"] = float(len(hits))
        triggers.extend(sorted(hits))
    f["autoexec"] = float(len(triggers))
    if triggers:
        result.findings.append(("VBA_AUTOEXEC", ", ".join(triggers)))

    # Behaviour keywords by category
    for name, rule, pattern in CATEGORIES:
        hits = Counter(oscanned[m.start():m.end()].strip() for m in pattern.finditer(lscanned))
        f[f"kw_{name}"] = float(sum(hits.values()))
        if hits and rule:
            result.findings.append((rule, ", ".join(sorted(hits, key=str.lower)[:12])))
    declares = DECLARE_RE.findall(lbody)
    f["declares"] = float(len(declares))
    if declares:
        result.findings.append(("VBA_WIN32_API", f"{len(declares)} Declare ... Lib statements"))
    f["olevba_suspicious"] = float(len({m.group().lower() for m in OLEVBA_SUSPICIOUS.finditer(lscanned)}))
    f["olevba_autoexec"] = float(len({m.group().lower() for m in OLEVBA_AUTOEXEC.finditer(lbody)}))

    # IOCs
    urls = find_urls(scanned, namespaces=False)
    result.urls = urls
    ips = sorted({m.group() for m in IPV4_RE.finditer(scanned)} - {"0.0.0.0", "127.0.0.1", "255.255.255.255"})
    exes = sorted({m.group().lower() for m in EXE_NAME_RE.finditer(scanned)})
    f["urls"] = float(len(urls))
    f["ips"] = float(len(ips))
    f["exe_names"] = float(len(exes))
    if urls:
        result.findings.append(("VBA_URL", ", ".join(urls[:5])))
    if ips:
        result.findings.append(("VBA_IP_ADDRESS", ", ".join(ips[:5])))
    if exes:
        result.findings.append(("VBA_EXECUTABLE_NAME", ", ".join(exes[:8])))

    # Obfuscation statistics
    chr_calls = len(CHR_RE.findall(lbody))
    concat = len(CONCAT_RE.findall(STRING_RE.sub('""', body)))
    f["chr_calls"] = float(chr_calls)
    f["chr_per_kb"] = chr_calls / kb
    f["asc_calls"] = float(len(ASC_RE.findall(lbody)))
    f["concat_per_kb"] = concat / kb
    f["concat_per_line"] = concat / n_lines
    f["strreverse_calls"] = float(len(STRREVERSE_RE.findall(lbody)))
    f["replace_calls"] = float(len(REPLACE_RE.findall(lbody)))
    f["split_calls"] = float(len(SPLIT_RE.findall(lbody)))
    f["mid_calls"] = float(len(MID_RE.findall(lbody)))
    f["hex_literals"] = float(len(HEX_LITERAL_RE.findall(lbody)))
    hex_strings = sum(bool(HEX_STRING_RE.match(s)) for s in strings)
    b64_strings = sum(bool(len(s) >= 20 and BASE64_STRING_RE.match(s)) for s in strings)
    f["hex_strings"] = float(hex_strings)
    f["base64_strings"] = float(b64_strings)
    if hex_strings or b64_strings:
        result.findings.append(("VBA_ENCODED_STRINGS", f"{hex_strings} hex, {b64_strings} base64 literals"))
    f["strings"] = float(len(strings))
    f["longest_string"] = float(max((len(s) for s in strings), default=0))
    f["string_entropy"] = text_entropy("".join(strings)[: 1 << 20])
    idents = {w for w in IDENT_RE.findall(STRING_RE.sub('""', body)) if w.lower() not in _KEYWORDS}
    f["identifiers"] = float(len(idents))
    f["identifier_mean_len"] = sum(map(len, idents)) / len(idents) if idents else 0.0
    f["identifier_entropy"] = sum(text_entropy(w) for w in idents) / len(idents) if idents else 0.0
    f["random_identifiers"] = sum(map(_random_name, idents)) / len(idents) if idents else 0.0
    f["comment_ratio"] = len(COMMENT_LINE_RE.findall(lbody)) / n_lines
    f["lines"] = float(len(lines))
    f["max_line_len"] = float(max((len(ln) for ln in lines), default=0))

    obfuscated = [
        reason for reason, hit in (
            (f"{chr_calls} Chr() calls", chr_calls >= 20 and chr_calls / kb >= 4),
            (f"string literal of {f['longest_string']:.0f} chars", f["longest_string"] >= 1000),
            ("StrReverse", f["strreverse_calls"] > 0),
            (f"{concat / n_lines:.1f} concatenations per line", concat >= 50 and concat / n_lines >= 1.5),
            (f"{f['random_identifiers']:.0%} random-looking identifiers",
             len(idents) >= 10 and f["random_identifiers"] >= 0.5),
            (f"{f['max_line_len']:.0f}-char line", f["max_line_len"] >= 2000),
        ) if hit
    ]
    if obfuscated:
        result.findings.append(("VBA_OBFUSCATION", "; ".join(obfuscated)))

    # mraptor: A (auto-exec), W (write), X (execute)
    raptor = olecompat.mraptor.MacroRaptor(code)
    with quiet():
        raptor.scan()
    f["mraptor_autoexec"] = float(raptor.autoexec)
    f["mraptor_write"] = float(raptor.write)
    f["mraptor_execute"] = float(raptor.execute)
    f["mraptor_suspicious"] = float(raptor.suspicious)
    if raptor.suspicious:
        result.findings.append(("VBA_MRAPTOR", f"flags {raptor.get_flags()}: " + ", ".join(raptor.matches[:3])))
    _semantic(f, result, body, lbody, lscanned, raptor, kb, strings, triggers)
    return result


FEATURES = (
    "autoexec", "autoexec_open", "autoexec_close", "autoexec_other", "autoexec_event",
    *(f"kw_{name}" for name, _, _ in CATEGORIES), "declares", "olevba_suspicious", "olevba_autoexec",
    "urls", "ips", "exe_names",
    "chr_calls", "chr_per_kb", "asc_calls", "concat_per_kb", "concat_per_line", "strreverse_calls",
    "replace_calls", "split_calls", "mid_calls", "hex_literals", "hex_strings", "base64_strings", "strings",
    "longest_string", "string_entropy", "identifiers", "identifier_mean_len", "identifier_entropy",
    "random_identifiers", "comment_ratio", "lines", "max_line_len",
    "mraptor_autoexec", "mraptor_write", "mraptor_execute", "mraptor_suspicious",
    *(f"obj_{name}" for name, _, _ in OBJECTS), "hidden_keywords", "downloads", "executes", "writes", "wmi_exec",
    "autoexec_and_download", "autoexec_and_exec", "autoexec_and_write", "autoexec_and_wmi",
    "autoexec_and_shell_object", "download_and_exec", "autoexec_download_exec",
    "decoder_calls_per_kb", "strreverse_per_kb", "replace_per_kb", "chr_chain_max", "replace_nesting",
    "encoded_literal_max", "encoded_literal_ratio", "dynamic_objects", "environ_per_kb",
)
RULES = (
    "VBA_AUTOEXEC", "VBA_WIN32_API", "VBA_URL", "VBA_IP_ADDRESS", "VBA_EXECUTABLE_NAME", "VBA_ENCODED_STRINGS",
    "VBA_OBFUSCATION", "VBA_MRAPTOR", "VBA_AUTOEXEC_DOWNLOAD_EXECUTE", "VBA_HIDDEN_STRINGS",
    "VBA_AUTOEXEC_EXECUTE", *(rule for _, rule, _ in CATEGORIES if rule),
)
