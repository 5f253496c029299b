"""What an embedded payload really is, from its bytes: a short extension-like label.

Shared by the mail extractor (declared-vs-real attachment type) and the OneNote extractor (naming
embedded objects, flagging scripts). `maldoc.filetype.detect` knows the declared formats (and their labels); this adds
what it deliberately does not: executables, shortcuts, images, and plain-text scripts (.bat, .vbs,
.js, .ps1, .hta, .wsf), which have no magic bytes and are recognised by a few strong markers only,
so that ordinary text is never called a script.
"""

from __future__ import annotations

import re

from maldoc.filetype import detect, is_executable, label_of
from maldoc.types import FileType

LNK_MAGIC = b"L\x00\x00\x00\x01\x14\x02\x00"
SCRIPT_KINDS = frozenset({"bat", "vbs", "js", "ps1", "hta", "wsf"})
BINARY_RISKY_KINDS = frozenset({"exe", "lnk", "elf"})
IMAGE_KINDS = frozenset({"png", "jpg", "gif", "bmp", "emf", "wmf", "tif"})
ARCHIVE_KINDS = frozenset({"zip", "rar", "7z", "iso", "cab", "gz"})

_IMAGE_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"\xd7\xcd\xc6\x9a", "wmf"), (b"II*\x00", "tif"), (b"MM\x00*", "tif"),
)
_ARCHIVE_MAGICS = ((b"Rar!\x1a\x07", "rar"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"MSCF\x00\x00\x00\x00", "cab"),
                   (b"\x1f\x8b\x08", "gz"))
HEAD = 16384  # script markers sit near the top; reading more only costs time

# Each pattern is specific enough that prose or ordinary HTML does not match it.
_HTA = re.compile(r"<hta:application", re.I)
_WSF = re.compile(r"<job[\s>][\s\S]{0,2000}<script", re.I)
_ACTIVEX = re.compile(r"new\s+ActiveXObject\s*\(", re.I)
_WSH = re.compile(r"\bWScript\.\w+", re.I)
_JS_SYNTAX = re.compile(r"\bvar\s+\w+\s*=|\bfunction\s*\w*\s*\(|\)\s*;\s*$", re.M)
_VBS = re.compile(r"^\s*(?:Dim\s+\w|On\s+Error\s+Resume\s+Next|Set\s+\w+\s*=\s*(?:WScript\.)?CreateObject\s*\(|"
                  r"(?:Private\s+|Public\s+)?Sub\s+\w+\s*\(|End\s+Sub\b|Execute(?:Global)?\s)", re.I | re.M)
_PS1 = re.compile(r"\bInvoke-(?:Expression|WebRequest|RestMethod)\b|\bIEX\s*\(|New-Object\s+(?:System\.)?Net\."
                  r"WebClient|\[(?:System\.)?Convert\]::FromBase64String|\bStart-Process\b|^\s*\$\w+\s*=", re.I | re.M)
_BAT = re.compile(r"^\s*(?:@?echo\s+off\b|::|rem\s|set\s+/?\w*\s*\w+=|start\s+(?:/\w+\s+)*\S|goto\s+:?\w+\s*$|"
                  r"(?:cmd(?:\.exe)?\s+/[ck]|powershell(?:\.exe)?\b|mshta(?:\.exe)?\s|curl(?:\.exe)?\s|"
                  r"rundll32(?:\.exe)?\s|regsvr32(?:\.exe)?\s|certutil(?:\.exe)?\s|bitsadmin(?:\.exe)?\s))|"
                  r"%\w+:~-?\d+,\d+%", re.I | re.M)


def text_head(data: bytes, size: int = HEAD) -> str | None:
    """The start of `data` as text, or None when it is not text (binary, or mostly unprintable)."""
    head = data[:size]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 8 and head[1:8:2] == b"\x00\x00\x00\x00"):
        text = head.decode("utf-16", "replace") if head[:2] in (b"\xff\xfe", b"\xfe\xff") \
            else head.decode("utf-16-le", "replace")
    else:
        if b"\x00" in head[:1024]:
            return None
        text = head.decode("utf-8", "replace")
    if not text:
        return None
    printable = sum(c.isprintable() or c in "\r\n\t" for c in text[:4096])
    return text if printable / min(len(text), 4096) > 0.85 else None


def script_kind(text: str) -> str | None:
    """The script language `text` is written in, when it carries that language's strong markers."""
    first = next((ln for ln in text.splitlines()[:50] if ln.strip()), "")
    if _BAT.match(first):  # a .cmd starting "powershell -c $x=..." is a batch file that runs PowerShell
        return "bat"
    if _HTA.search(text):
        return "hta"
    if _WSF.search(text):
        return "wsf"
    if _ACTIVEX.search(text):
        return "js"
    if _VBS.search(text):
        return "vbs"
    if _WSH.search(text) and _JS_SYNTAX.search(text):
        return "js"
    if _PS1.search(text):
        return "ps1"
    if _BAT.search(text):
        return "bat"
    return None


def kind(data: bytes) -> str:
    """An extension-like label for `data`: exe, lnk, pdf, docx, zip, png, bat, vbs, txt, bin, ..."""
    if is_executable(data):
        return "elf" if data.startswith(b"\x7fELF") else "exe"
    if data.startswith(LNK_MAGIC):
        return "lnk"
    if data.startswith(b"MZ") and len(data) >= 64:
        return "exe"  # truncated or odd PE: still a Windows binary to the user's double click
    file_type = detect(data)
    if file_type is FileType.HTML:
        return "hta" if _HTA.search(data[:HEAD].decode("latin-1")) else "html"
    label = label_of(file_type)  # every declared type has one (its extractor's TypeSpec)
    if label:
        return label
    for magic, label in _ARCHIVE_MAGICS:
        if data.startswith(magic):
            return label
    if data[0x8001:0x8006] == b"CD001":
        return "iso"
    for magic, label in _IMAGE_MAGICS:
        if data.startswith(magic):
            return label
    if data.startswith(b"\x01\x00\x00\x00") and data[40:44] == b" EMF":
        return "emf"
    if data.startswith(b"BM") and data[6:10] == b"\x00\x00\x00\x00" and len(data) > 26:
        return "bmp"
    text = text_head(data)
    if text is None:
        return "bin"
    return script_kind(text) or "txt"
