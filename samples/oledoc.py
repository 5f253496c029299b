"""Legacy Office files (.doc, .xls) and vbaProject.bin as CFB containers.

Only as much of the Word and Excel binary formats as identification needs: a Word FIB (so
oleid/msoffcrypto see a Word document and its `WordDocument`/`1Table` streams) with the text
after it, and a BIFF8 `Workbook` stream with sheets (worksheets, or Excel 4.0 macro sheets with
FORMULA records, visible, hidden or very hidden) that oledump's BIFF plugin (used by olevba's
XLM detection) walks. VBA projects are real (see `ovba`).
"""

from __future__ import annotations

import struct
import uuid

from maldoc.samples import cfb, ovba

CLSID_WORD = "{00020906-0000-0000-C000-000000000046}"
CLSID_EXCEL = "{00020820-0000-0000-C000-000000000046}"


def project_id(seed_bytes: bytes) -> str:
    return "{" + str(uuid.UUID(bytes=seed_bytes[:16].ljust(16, b"\0"))).upper() + "}"


def vba_project_bin(modules: list[ovba.Module], pid: str, host: str = ovba.HOST_WORD) -> bytes:
    """The vbaProject.bin part of a .docm/.xlsm: the VBA project storage at the root."""
    return cfb.write(ovba.project_tree(modules, project_id=pid, host=host))


def _fib(text_len: int, encrypted: bool = False) -> bytes:
    flags = 0x1200 | (0x0100 if encrypted else 0)  # fWhichTblStm (1Table) | fExtChar
    base = struct.pack("<HHHHHHHIBBHHII", 0xA5EC, 0x00C1, 0, 0x0409, 0, flags, 0x00BF, 0, 0, 0, 0, 0, 0, 0)
    rgw = struct.pack("<H", 14) + b"\0" * 28
    rglw = struct.pack("<H", 22) + struct.pack("<IIII", 0x600 + text_len, 0, 0, text_len) + b"\0" * 72
    blob = struct.pack("<H", 0x5D) + b"\0" * (0x5D * 8) + struct.pack("<H", 0)
    return (base + rgw + rglw + blob).ljust(0x600, b"\0")


def doc(text: str, modules: list[ovba.Module] | None, pid: str, extra: dict | None = None) -> bytes:
    """A Word 97-2003 document; with `modules`, a VBA project under Macros/."""
    body = text.replace("\n", "\r").encode("cp1252", "replace")
    tree: dict[str, object] = {"WordDocument": _fib(len(body)) + body + b"\r",
                               "1Table": b"\0" * 1024}
    if modules:
        tree["Macros"] = ovba.project_tree(modules, project_id=pid, host=ovba.HOST_WORD)
    tree.update(extra or {})
    return cfb.write(tree, root_clsid=CLSID_WORD)


# --- BIFF8 -----------------------------------------------------------------------------------

def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HH", rid, len(payload)) + payload


def _bof(dt: int) -> bytes:
    return _rec(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0x000080C9, 0x00000206))


def _short_str(s: str) -> bytes:
    raw = s.encode("latin-1")
    return struct.pack("<BB", len(raw), 0) + raw


def _label(row: int, col: int, s: str) -> bytes:
    raw = s.encode("latin-1", "replace")[:255]
    return _rec(0x0204, struct.pack("<HHHHB", row, col, 0x0F, len(raw), 0) + raw)


def _number(row: int, col: int, v: float) -> bytes:
    return _rec(0x0203, struct.pack("<HHHd", row, col, 0x0F, v))


# Function numbers of the Excel 4.0 macro functions the templates use ([MS-XLS] Ftab).
FUNCS = {"EXEC": (0x6E, True), "HALT": (0x36, True), "CALL": (0x96, True), "RETURN": (0x37, True),
         "ALERT": (0x76, True), "CHAR": (0x6F, False)}


def _formula(row: int, col: int, func: str, args: list[str]) -> bytes:
    """FORMULA record for =FUNC("arg", ...) with string-literal arguments."""
    rgce = b"".join(b"\x17" + _short_str(a) for a in args)
    fid, variadic = FUNCS[func]
    rgce += struct.pack("<BBH", 0x42, len(args), fid) if variadic else struct.pack("<BH", 0x41, fid)
    return _rec(0x0006, struct.pack("<HHHdHIH", row, col, 0x0F, 0.0, 0x0002, 0, len(rgce)) + rgce)


SHEET_VISIBLE, SHEET_HIDDEN, SHEET_VERY_HIDDEN = 0, 1, 2


def workbook_stream(sheets: list[tuple[str, int, bool, list]]) -> bytes:
    """BIFF8 Workbook: sheets as (name, visibility, is_macro_sheet, cells).

    Worksheet cells are (row, col, str | float); macro-sheet cells are (row, col, FUNC, [args]).
    """
    substreams = []
    for _name, _vis, macro, cells in sheets:
        body = _bof(0x0040 if macro else 0x0010)
        for cell in cells:
            if macro:
                body += _formula(cell[0], cell[1], cell[2], list(cell[3]))
            elif isinstance(cell[2], str):
                body += _label(*cell)
            else:
                body += _number(*cell)
        substreams.append(body + _rec(0x000A, b""))
    head = _bof(0x0005) + _rec(0x0042, struct.pack("<H", 1252))
    bound_len = sum(4 + 6 + 2 + len(n.encode("latin-1")) for n, *_ in sheets)
    offset = len(head) + bound_len + 4  # + the globals' EOF record
    bounds = b""
    for (name, vis, macro, _), sub in zip(sheets, substreams, strict=True):
        bounds += _rec(0x0085, struct.pack("<IBB", offset, vis, 1 if macro else 0) + _short_str(name))
        offset += len(sub)
    return head + bounds + _rec(0x000A, b"") + b"".join(substreams)


def xls(sheets: list[tuple[str, int, bool, list]], modules: list[ovba.Module] | None, pid: str) -> bytes:
    """An Excel 97-2003 workbook; with `modules`, a VBA project under _VBA_PROJECT_CUR/."""
    tree: dict[str, object] = {"Workbook": workbook_stream(sheets)}
    if modules:
        tree["_VBA_PROJECT_CUR"] = ovba.project_tree(modules, project_id=pid, host=ovba.HOST_EXCEL)
    return cfb.write(tree, root_clsid=CLSID_EXCEL)
