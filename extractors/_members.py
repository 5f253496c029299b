"""What an archive or disk image holds, counted the same way for every container format.

The archive and disk-image extractors describe their members as `maldoc.archive.Member`s; a
`Census` wraps each member's `read` so that what was actually read is sniffed once (a Windows
binary, a shortcut, a script) without a second pass, and counts the names that lures use: a
shortcut or script as the only visible file, a double extension (`invoice.pdf.exe`), a nested
archive, a hidden file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from maldoc.archive import Member
from maldoc.extractors import _mail_sniff as sniff
from maldoc.filetype import RISKY_EXTENSIONS, risky_name

ARCHIVE_EXTENSIONS = (".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".cab", ".iso", ".img", ".vhd", ".vhdx",
                      ".xz", ".bz2", ".ace", ".arj", ".z", ".lzh")
DOCUMENT_EXTENSIONS = frozenset((".pdf", ".doc", ".docx", ".xls", ".xlsx", ".txt", ".jpg", ".jpeg", ".png",
                                 ".rtf", ".ppt", ".pptx", ".odt", ".csv", ".htm", ".html", ".gif"))
SCRIPT_LABELS = sniff.SCRIPT_KINDS
RUNNABLE_LABELS = frozenset({"exe", "elf", "lnk"})


def base_name(name: str) -> str:
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def double_extension(name: str) -> bool:
    """`invoice.pdf.exe`, `scan.jpg .lnk`: a document extension right before a runnable one."""
    base = base_name(name).strip().lower().rstrip(". ")
    stem, ext = os.path.splitext(base)
    return ext in RISKY_EXTENSIONS and os.path.splitext(stem.rstrip(" ."))[1] in DOCUMENT_EXTENSIONS


def is_lnk_name(name: str) -> bool:
    return base_name(name).strip().lower().rstrip(". ").endswith(".lnk")


@dataclass(slots=True)
class Entry:
    name: str
    hidden: bool = False
    kind: str = ""  # sniffed label of the content read, "" when not read


@dataclass
class Census:
    """Counts over the members of one container; `watch()` wraps members so content is sniffed."""

    entries: list[Entry] = field(default_factory=list)
    dirs: int = 0
    links: int = 0

    def watch(self, member: Member, *, hidden: bool = False) -> Member:
        entry = Entry(member.name, hidden)
        self.entries.append(entry)
        inner = member.read

        def read(password: bytes | None, cap: int) -> bytes:
            data = inner(password, cap)
            entry.kind = sniff.kind(data[:65536]) if data else "empty"
            return data

        member.read = read
        return member

    # -- the counts (feature values) --------------------------------------------------------------
    def runnable(self, e: Entry) -> bool:
        return e.kind in RUNNABLE_LABELS or e.kind in SCRIPT_LABELS or risky_name(e.name)

    @property
    def visible(self) -> list[Entry]:
        return [e for e in self.entries if not e.hidden]

    def counts(self) -> dict[str, float]:
        es = self.entries
        return {
            "members": len(es),
            "hidden_members": sum(e.hidden for e in es),
            "risky_names": sum(risky_name(e.name) for e in es),
            "executables": sum(e.kind in ("exe", "elf") for e in es),
            "lnk_members": sum(e.kind == "lnk" or is_lnk_name(e.name) for e in es),
            "script_members": sum(e.kind in SCRIPT_LABELS for e in es),
            "nested_archives": sum(base_name(e.name).lower().endswith(ARCHIVE_EXTENSIONS)
                                   or e.kind in sniff.ARCHIVE_KINDS for e in es),
            "double_extensions": sum(double_extension(e.name) for e in es),
            "dirs": self.dirs,
        }

    def lure_shape(self) -> Entry | None:
        """The runnable file when it is the only visible one (beside at most one decoy document)."""
        visible = self.visible
        runnable = [e for e in visible if self.runnable(e)]
        if len(runnable) != 1 or len(visible) > 2:
            return None
        return runnable[0]
