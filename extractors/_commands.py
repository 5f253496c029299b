"""Command lines and script text that download or run something: the markers LNK and script share.

A shortcut's target and arguments and a .bat/.ps1/.vbs/.js attachment end in the same handful of
moves: start an interpreter or a signed Windows binary that runs code for the attacker (LOLBins),
fetch a second stage, write it to disk, run it, hide the window. Each pattern names one construct
and is bounded (no nested quantifiers), so it costs linear time on hostile text.
"""

from __future__ import annotations

import base64
import binascii
import re

# Programs a shortcut or script starts that run arbitrary code (interpreters and LOLBins).
INTERPRETERS = ("powershell", "pwsh", "cmd", "mshta", "wscript", "cscript", "rundll32", "regsvr32", "curl",
                "certutil", "bitsadmin", "msiexec", "conhost", "forfiles", "wmic", "schtasks", "bash", "wsl",
                "msbuild", "installutil", "regasm", "regsvcs", "odbcconf", "cmstp", "hh", "pcalua", "explorer",
                "finger", "tar", "expand", "esentutl", "scriptrunner", "syncappvpublishingserver")
_PROGRAM = re.compile(r"(?:^|[\\/\s\"'(=&|;,])(" + "|".join(INTERPRETERS) + r")(?:\.exe|\.com)?(?=[\s\"',;|&)]|$)",
                      re.I)
LOLBINS = frozenset(("mshta", "rundll32", "regsvr32", "certutil", "bitsadmin", "msiexec", "forfiles", "wmic",
                     "msbuild", "installutil", "regasm", "regsvcs", "odbcconf", "cmstp", "hh", "pcalua",
                     "finger", "esentutl", "scriptrunner", "syncappvpublishingserver", "conhost"))

DOWNLOAD = re.compile(
    r"\bInvoke-WebRequest\b|\biwr\s|\bInvoke-RestMethod\b|\birm\s|\bDownload(?:String|File|Data)(?:Async)?\b|"
    r"\bNet\.WebClient\b|\bStart-BitsTransfer\b|\bbitsadmin(?:\.exe)?\s+/(?:transfer|addfile)|"
    r"\bcertutil(?:\.exe)?\s[^\n]{0,80}?-urlcache|\bcurl(?:\.exe)?\s[^\n]{0,200}?(?:-o\b|--output|-O\b|\|)|"
    r"\bwget(?:\.exe)?\s|MSXML2\.(?:Server)?XMLHTTP|Microsoft\.XMLHTTP|WinHttp\.WinHttpRequest|"
    r"\bXMLHttpRequest\b|\bNet\.Http\.HttpClient\b|\bfinger(?:\.exe)?\s+\S+@|\\\\[\w.-]{1,80}@SSL\\|"
    r"\\\\[\w.-]{1,80}@\d{2,5}\\|\bdavwwwroot\b", re.I)
SAVE = re.compile(
    r"\bADODB\.Stream\b|\.SaveToFile\b|\.CreateTextFile\b|\.OpenTextFile\s*\([^)]{0,200},\s*[28]\b|"
    r"\bOut-File\b|\bSet-Content\b|\bAdd-Content\b|\[(?:System\.)?IO\.File\]::Write|\s-OutFile\b|"
    r"\bcertutil(?:\.exe)?\s[^\n]{0,80}?-decode|\bcopy\s+/b\b|>\s*\"?%(?:temp|appdata|public|programdata)%",
    re.I)
EXECUTE = re.compile(
    r"\.(?:Run|Exec|ShellExecute)\s*[(\s\"]|\bStart-Process\b|\bInvoke-Item\b|\bsaps\s|"
    r"\bInvoke-Expression\b|\bIEX\b|\|\s*iex\b|\beval\s*\(|\bExecute(?:Global)?\s*[(\s\"]|"
    r"\bnew\s+Function\s*\(|\bcmd(?:\.exe)?\s+/[ckr]\b|\bstart\s+(?:/\w+\s+){0,4}\"?[\w%\\.:-]{1,200}\.(?:exe|dll|"
    r"js|vbs|hta|bat|cmd|ps1|scr|msi)\b|\bcall\s+:?\w|\[System\.Reflection\.Assembly\]::Load|"
    r"\bAssembly\]::Load\b", re.I)
# PowerShell accepts any prefix of -EncodedCommand (-e, -ec, -enc, ...), with - or /.
ENCODED_COMMAND = re.compile(r"(?:^|\s)[-/]e(?:c|n\w{0,13})?\s+[\"']?([A-Za-z0-9+/]{16,}={0,2})", re.I)
HIDDEN = re.compile(r"(?:^|\s)[-/]w\w{0,10}\s+(?:h\w{0,5}|1)\b|\bvbHide\b|\.Run\b[^\n]{0,300}?,\s*0\b|"
                    r"-NonInteractive\b|\bstart\s+/(?:min|b)\b", re.I)
EVASION = re.compile(
    r"\b(?:Add|Set)-MpPreference\b|-ExclusionPath\b|DisableRealtimeMonitoring|\s-ep?\s+bypass\b|"
    r"-ExecutionPolicy\s+(?:Bypass|Unrestricted)|\bAmsiUtils\b|amsiInitFailed|\bSet-ExecutionPolicy\b|"
    r"\bbcdedit\b|\bvssadmin\s+delete\b|\bwevtutil\s+cl\b|\bnetsh\s+advfirewall\b", re.I)
PERSISTENCE = re.compile(
    r"\bschtasks(?:\.exe)?\s+/create\b|\bRegister-ScheduledTask\b|CurrentVersion\\Run(?:Once)?\b|"
    r"\\Start Menu\\Programs\\Startup\b|shell:startup|\breg(?:\.exe)?\s+add\b|\bNew-Service\b|\bsc\s+create\b",
    re.I)

# Substrings (lower case) without one of which a pattern cannot match: checked first, as Python's
# re scans alternations of words about a hundred times slower than `in` finds a literal.
NEEDLES: dict[re.Pattern[str], tuple[str, ...]] = {
    DOWNLOAD: ("invoke-", "iwr", "irm", "download", "webclient", "bits", "certutil", "curl", "wget", "xmlhttp",
               "winhttp", "httpclient", "finger", "\\\\", "davwwwroot"),
    SAVE: ("adodb", "savetofile", "createtextfile", "opentextfile", "out-file", "-content", "io.file", "-outfile",
           "certutil", "copy", ">"),
    EXECUTE: (".run", ".exec", "shellexecute", "start", "invoke-", "iex", "saps", "eval", "execute", "function",
              "cmd", "call", "assembly"),
    ENCODED_COMMAND: ("-e", "/e"),
    HIDDEN: ("-w", "/w", "vbhide", ".run", "noninteractive", "start"),
    EVASION: ("mppreference", "exclusionpath", "disablerealtime", "bypass", "unrestricted", "amsi", "executionpolicy",
              "bcdedit", "vssadmin", "wevtutil", "netsh"),
    PERSISTENCE: ("schtasks", "scheduledtask", "currentversion", "startup", "reg", "new-service", "sc "),
}


def count(pattern: re.Pattern[str], text: str, low: str) -> int:
    """Matches of `pattern` in `text` (`low` is text.lower()), skipped when no needle occurs."""
    needles = NEEDLES.get(pattern)
    if needles and not any(n in low for n in needles):
        return 0
    return sum(1 for _ in pattern.finditer(text))


def programs(text: str) -> list[str]:
    """Interpreters and LOLBins named in `text`, lower case, in order, without repeats."""
    seen: dict[str, None] = {}
    low = text.lower()
    if not any(name in low for name in INTERPRETERS):
        return []
    for m in _PROGRAM.finditer(text):
        seen.setdefault(m.group(1).lower())
        if len(seen) >= 16:
            break
    return list(seen)


def decode_encoded_command(text: str, limit: int = 4) -> list[str]:
    """The text of PowerShell -EncodedCommand arguments (base64 of UTF-16LE), at most `limit`."""
    out: list[str] = []
    for m in ENCODED_COMMAND.finditer(text):
        blob = m.group(1)
        try:
            raw = base64.b64decode(blob[: len(blob) - len(blob) % 4], validate=True)
        except (binascii.Error, ValueError):
            continue
        out.append(raw.decode("utf-16-le", "replace"))
        if len(out) >= limit:
            break
    return out


def first(pattern: re.Pattern[str], text: str, around: int = 40) -> str:
    """The first match of `pattern` with a little context, on one line (evidence)."""
    m = pattern.search(text)
    if not m:
        return ""
    return " ".join(text[max(0, m.start() - around):m.end() + around].split())
