"""Word 6.0 / Word 95 documents and their WordBasic macros (before VBA, so olevba sees none).

A Word 6/95 file is an OLE file whose `WordDocument` stream starts with a FIB of wIdent 0xA5DC and
nFib 101-105 (Word 97 and later write wIdent 0xA5EC, nFib 0x00C1 or above). Its flags word (+0x0A)
holds fDot (a template) and fEncrypted; WordBasic macros live in the command table that the FIB's
fcCmds/lcbCmds pair (+0x118/+0x11C: the 25th fc/lcb pair, which starts at +0x58 in this FIB
version) points to, with the macro names stored as plain strings. Macro text is tokenised (and
often XOR-encrypted), so the names are what is read: auto macros and built-in command overrides
are what the Concept-era viruses used.
"""

from __future__ import annotations

import re

from maldoc.extractor import Context, Extractor
from maldoc.extractors._office_common import open_ole
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

WIDENT_WORD6 = 0xA5DC
NFIB_WORD97 = 0x00C1
FC_CMDS, LCB_CMDS = 0x118, 0x11C
CMDS_CAP = 4 << 20
MAX_NAMES = 500
AUTO_MACROS = frozenset(("autoopen", "autoexec", "autoclose", "autonew", "autoexit"))
COMMAND_OVERRIDES = frozenset(("filesaveas", "filesave", "fileopen", "fileclose", "toolsmacro", "filetemplates",
                               "fileprint", "filenew", "fileexit", "toolscustomize", "viewvbcode", "formatstyle"))
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_]{2,39}")


def fib(stream: bytes) -> dict[str, int] | None:
    """The FIB fields this extractor reads, or None when the stream is too short."""
    if len(stream) < LCB_CMDS + 4:
        return None
    def u(offset: int, size: int) -> int:
        return int.from_bytes(stream[offset:offset + size], "little")

    return {"wident": u(0, 2), "nfib": u(2, 2), "flags": u(10, 2), "fc_cmds": u(FC_CMDS, 4),
            "lcb_cmds": u(LCB_CMDS, 4)}


class Word6Extractor(Extractor):
    name = "word6"
    version = 1
    file_types = frozenset({FileType.OLE})
    features = ("legacy", "nfib", "template", "encrypted", "macro_table_log2", "macro_names", "auto_macros",
                "command_overrides")
    rules = ("WORD6_LEGACY_DOCUMENT", "WORD6_MACROS", "WORD6_AUTO_MACRO", "WORD6_TEMPLATE_AS_DOCUMENT")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            ole = open_ole(sample.data, sample)
            if not ole.exists("WordDocument"):
                return
            size = ole.get_size("WordDocument")
            if size > ctx.limits.max_bytes:
                return
            stream = ole.openstream("WordDocument").read(size)
        except Exception:  # the OLE extractor reports a broken file
            return
        header = fib(stream)
        if header is None or header["wident"] != WIDENT_WORD6 or not 0 < header["nfib"] < NFIB_WORD97:
            return
        f = out.features
        where = sample.display_path
        template = bool(header["flags"] & 0x0001)
        encrypted = bool(header["flags"] & 0x0100)
        f.update({"word6.legacy": 1.0, "word6.nfib": float(header["nfib"]), "word6.template": float(template),
                  "word6.encrypted": float(encrypted)})
        out.add("WORD6_LEGACY_DOCUMENT", f"nFib {header['nfib']:#06x}", where)
        if template and sample.name.lower().rstrip(". ").endswith(".doc"):
            out.add("WORD6_TEMPLATE_AS_DOCUMENT", sample.name, where)
        if encrypted:
            out.flag(Flag.ENCRYPTED, "word6: the document is password-protected")
        start, length = header["fc_cmds"], header["lcb_cmds"]
        f["word6.macro_table_log2"] = log2_size(length)
        names = self._names(stream, start, length, ctx, out)
        f["word6.macro_names"] = float(len(names))
        auto = [n for n in names if n.lower() in AUTO_MACROS]
        overrides = [n for n in names if n.lower() in COMMAND_OVERRIDES]
        f["word6.auto_macros"] = float(len(auto))
        f["word6.command_overrides"] = float(len(overrides))
        if length and names:
            out.add("WORD6_MACROS", f"command table of {length} bytes, names: {', '.join(names[:5])}", where)
        if auto or overrides:
            out.add("WORD6_AUTO_MACRO", ", ".join((auto + overrides)[:5]), where)

    @staticmethod
    def _names(stream: bytes, start: int, length: int, ctx: Context, out: ExtractorResult) -> list[str]:
        if not length:
            return []
        if start + length > len(stream):
            out.flag(Flag.TRUNCATED, "word6: the command table extends past the stream")
        table = stream[start:start + min(length, CMDS_CAP)]
        names: dict[str, None] = {}
        for i, m in enumerate(_NAME.finditer(table)):
            if i % 1024 == 0:
                ctx.check()
            names[m.group(0).decode("ascii")] = None
            if len(names) >= MAX_NAMES:
                break
        return list(names)
