"""Excel 4.0 (XLM) macros: macro sheets, their visibility, formulas, dangerous functions, Auto_Open.

.xls: the BIFF8 Workbook stream is walked record by record (BOUNDSHEET for sheet type and
visibility, LBL for Auto_Open names, FORMULA records of macro sheets with their parsed tokens
decoded just far enough to name the functions called). That is a few milliseconds where
olevba's plugin_biff renders every cell as text. .xlsm/.xlsx: workbook.xml, its relationships and
the macrosheet parts, scanned with bounded regexes.
"""

from __future__ import annotations

import html
import re
import struct

from maldoc.extractor import Context, Extractor
from maldoc.types import ExtractorResult, FileType, Flag, MacroSource, Sample, Sealing

from ._office_common import open_ole, open_package

# Function numbers (Ftab / Cetab | 0x8000) of XLM functions worth naming, from [MS-XLS] 2.5.198.17/.18.
FUNCTIONS = {
    0x6E: "EXEC", 0x96: "CALL", 0x95: "REGISTER", 0x10B: "REGISTER.ID", 0xC9: "UNREGISTER",
    0x8060: "FORMULA", 0x8061: "FORMULA.FILL", 0x8062: "FORMULA.ARRAY", 0x6C: "SET.VALUE", 0x58: "SET.NAME",
    0xBA: "GET.WORKSPACE", 0xBC: "GET.DOCUMENT", 0xBB: "GET.WINDOW", 0x84: "FOPEN", 0x8A: "FWRITE",
    0x89: "FWRITELN", 0x8006: "FILE.DELETE", 0x8011: "RUN", 0x8094: "ON.TIME", 0x8083: "SEND.KEYS",
    0x817F: "WORKBOOK.HIDE", 0x36: "HALT", 0x35: "GOTO", 0x6F: "CHAR", 0x101: "EVALUATE", 0xA6: "FILES",
    0x7B: "DIRECTORY", 0x8076: "ALERT", 0x8095: "WAIT", 0x80AD: "APP.MAXIMIZE",
}
DANGEROUS = frozenset({"EXEC", "CALL", "REGISTER", "REGISTER.ID", "FORMULA.FILL", "FWRITE", "FWRITELN",
                       "FILE.DELETE", "RUN", "ON.TIME", "SEND.KEYS", "WORKBOOK.HIDE"})
STRING_IOC_RE = re.compile(rb"(?i)URLDownloadToFile[AW]?|urlmon|ShellExecute[AW]?|kernel32|shell32|"
                           rb"VirtualAlloc|WriteProcessMemory|CreateThread|rundll32|regsvr32|mshta|powershell")
XML_FUNC_RE = re.compile(r"(?i)(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(
    {*FUNCTIONS.values(), "URLDOWNLOADTOFILEA"}, key=len, reverse=True)) + r")\s*\(")
FORMULA_XML_RE = re.compile(rb"<(?:\w+:)?f\b[^>]*>([^<]{0,32768})</(?:\w+:)?f>")
SHEET_XML_RE = re.compile(rb"<(?:\w+:)?sheet\b([^>]{0,2000})/?>")
ATTR_RE = re.compile(rb"([\w:]+)=\"([^\"]{0,500})\"")
NAME_XML_RE = re.compile(rb"<(?:\w+:)?definedName\b[^>]*name=\"([^\"]{0,255})\"")
AUTO_NAMES = ("auto_open", "auto_close", "_xlnm.auto_open", "_xlnm.auto_close", "auto_activate", "auto_deactivate")
DOWNLOAD_IOC_RE = re.compile(r"(?i)URLDownloadToFile|urlmon")
EXEC_IOC_RE = re.compile(r"(?i)ShellExecute|rundll32|regsvr32|mshta|powershell")
MAX_RECORDS = 2_000_000
MACRO_TEXT_CAP = 256 * 1024

# Size in bytes of each BIFF8 ptg's payload, by base ptg id (class bits folded, 0x20..0x7F -> 0x20..0x3F).
_PTG_SIZE = {
    0x01: 4, 0x02: 4, 0x1C: 1, 0x1D: 1, 0x1E: 2, 0x1F: 8, 0x20: 7, 0x21: 2, 0x22: 3, 0x23: 4, 0x24: 4,
    0x25: 8, 0x26: 6, 0x27: 6, 0x28: 6, 0x29: 2, 0x2A: 4, 0x2B: 8, 0x2C: 4, 0x2D: 8, 0x39: 6, 0x3A: 6,
    0x3B: 10, 0x3C: 6, 0x3D: 10,
}


def _functions(rgce: bytes) -> tuple[list[int], list[bytes]]:
    """Function numbers called and string constants in one parsed formula (BIFF8 rgce)."""
    funcs: list[int] = []
    strings: list[bytes] = []
    i, n = 0, len(rgce)
    while i < n:
        ptg = rgce[i]
        i += 1
        base = ptg if ptg < 0x20 else 0x20 + (ptg & 0x1F)
        if 0x03 <= ptg <= 0x16:
            continue
        if ptg == 0x17:  # PtgStr: cch, flags, chars
            if i + 2 > n:
                break
            cch, high = rgce[i], rgce[i + 1] & 1
            length = cch * (2 if high else 1)
            strings.append(rgce[i + 2:i + 2 + length])
            i += 2 + length
        elif ptg == 0x19:  # PtgAttr: tAttrChoose carries a jump table
            if i + 3 > n:
                break
            kind, count = rgce[i], struct.unpack_from("<H", rgce, i + 1)[0]
            i += 3 + (2 * (count + 1) if kind & 0x04 else 0)
        elif ptg == 0x18:  # PtgExtend (elf/sxname): fixed 4-byte payload in cell formulas
            i += 5
        elif base == 0x21 and i + 2 <= n:
            funcs.append(struct.unpack_from("<H", rgce, i)[0])
            i += 2
        elif base == 0x22 and i + 3 <= n:
            tab = struct.unpack_from("<H", rgce, i + 1)[0]
            funcs.append(tab & 0x7FFF | (0x8000 if tab & 0x8000 else 0))
            i += 3
        elif base in _PTG_SIZE:
            i += _PTG_SIZE[base]
        else:
            break  # unknown token: stop rather than misread the rest
    return funcs, strings


class XlmResult:
    def __init__(self) -> None:
        self.sheets = 0
        self.macro_sheets: list[tuple[str, int]] = []  # (name, visibility 0/1/2)
        self.formulas = 0
        self.functions: dict[str, int] = {}
        self.auto_names: list[str] = []
        self.string_iocs: set[str] = set()
        self.text: list[str] = []
        self.encrypted = False


class XlmExtractor(Extractor):
    name = "xlm"
    version = 2
    file_types = frozenset({FileType.OLE, FileType.OOXML})
    features = ("sheets", "macro_sheets", "hidden_sheets", "very_hidden_sheets", "formulas", "functions",
                "dangerous_functions", "exec", "call_register", "formula_fill", "file_io", "get_workspace",
                "char_calls", "auto_open", "string_iocs", "url_download", "exec_strings", "auto_open_exec",
                "auto_open_download", "formula_char", "char_per_formula")
    rules = ("XLM_MACRO_SHEET", "XLM_HIDDEN_SHEET", "XLM_VERY_HIDDEN_SHEET", "XLM_AUTO_OPEN", "XLM_DANGEROUS_FUNCTION")
    order = 30

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        if sample.sealed is Sealing.OPENED:
            return  # the decrypted child is analysed instead
        packaged = sample.data.startswith(b"PK")
        result = self._ooxml(sample, ctx, out) if packaged else self._biff(sample, ctx, out)
        if result is None or result.encrypted:
            return
        self._report(sample, ctx, out, result)

    # -- BIFF8 (.xls) ---------------------------------------------------------------------------

    def _biff(self, sample: Sample, ctx: Context, out: ExtractorResult) -> XlmResult | None:
        try:
            ole = open_ole(sample.data, sample)
        except Exception:
            return None
        stream = "Workbook" if ole.exists("Workbook") else "Book" if ole.exists("Book") else None
        if stream is None:
            return None
        try:
            with ole.openstream(stream) as s:
                data = s.read()
        except OSError as exc:
            out.flag(Flag.TRUNCATED, f"xlm: a workbook stream is cut short ({type(exc).__name__})")
            return None
        result = XlmResult()
        bof_types: dict[int, int] = {}
        sheets: list[tuple[int, int, int, str]] = []  # (offset, visibility, type, name)
        pos, records = 0, 0
        macro_ranges: list[tuple[int, str]] = []
        current: str | None = None
        while pos + 4 <= len(data):
            records += 1
            if records % 4096 == 0:
                ctx.check()
            if records > MAX_RECORDS:
                out.flag(Flag.LIMIT_EXCEEDED, f"xlm: more than {MAX_RECORDS} BIFF records")
                break
            rtype, size = struct.unpack_from("<HH", data, pos)
            body = data[pos + 4:pos + 4 + size]
            if rtype == 0x0809 and len(body) >= 4:  # BOF
                bof_types[pos] = struct.unpack_from("<H", body, 2)[0]
                current = next((name for off, name in macro_ranges if off == pos), None)
            elif rtype == 0x000A:  # EOF
                current = None
            elif rtype == 0x002F and not sheets:  # FILEPASS in the globals: the rest is encrypted
                result.encrypted = True
                return result
            elif rtype == 0x0085 and len(body) >= 8:  # BOUNDSHEET8
                offset, state, kind = struct.unpack_from("<IBB", body)
                name = _short_string(body[6:])
                sheets.append((offset, state & 0x3, kind, name))
                if kind == 1:
                    macro_ranges.append((offset, name))
            elif rtype == 0x0018 and len(body) >= 15:  # LBL (defined name)
                grbit, cch = struct.unpack_from("<H", body)[0], body[3]
                high = body[14] & 1
                raw = body[15:15 + cch * (2 if high else 1)]
                text = raw.decode("utf-16-le" if high else "latin-1", "replace")
                if grbit & 0x20 and text[:1] in ("\x01", "\x02"):
                    result.auto_names.append("Auto_Open" if text[:1] == "\x01" else "Auto_Close")
                elif text.lower().startswith(AUTO_NAMES):
                    result.auto_names.append(text)
            elif rtype == 0x0006 and current is not None and len(body) >= 22:  # FORMULA in a macro sheet
                result.formulas += 1
                cce = struct.unpack_from("<H", body, 20)[0]
                funcs, strings = _functions(body[22:22 + cce])
                for fn in funcs:
                    label = FUNCTIONS.get(fn)
                    if label:
                        result.functions[label] = result.functions.get(label, 0) + 1
                for s in strings:
                    for m in STRING_IOC_RE.finditer(s.replace(b"\x00", b"")):
                        result.string_iocs.add(m.group().decode("latin-1"))
                if len(result.text) < 10000:
                    result.text.append(f"{current}: {' '.join(FUNCTIONS.get(fn, hex(fn)) for fn in funcs)} "
                                       + " ".join(repr(s.replace(b'\x00', b'').decode('latin-1')) for s in strings))
            pos += 4 + size
        result.sheets = len(sheets)
        for offset, state, kind, name in sheets:
            # BOUNDSHEET says macro sheet (1), or the sheet's own BOF says so (dt 0x40): both count.
            if kind == 1 or bof_types.get(offset) == 0x0040:
                result.macro_sheets.append((name, state))
        if result.macro_sheets:
            for m in STRING_IOC_RE.finditer(data):
                result.string_iocs.add(m.group().decode("latin-1"))
        return result

    # -- OOXML (.xlsm / .xlsx) ------------------------------------------------------------------

    def _ooxml(self, sample: Sample, ctx: Context, out: ExtractorResult) -> XlmResult | None:
        try:
            package = open_package(sample.data, sample)
        except Exception:
            return None
        book = package.find("xl/workbook.xml")
        if book is None:
            return None
        data = package.read(book, ctx, out) or b""
        result = XlmResult()
        rels = package.read(package.find("xl/_rels/workbook.xml.rels") or "", ctx, out) or b""
        macro_ids = {m.group(1) for m in re.finditer(
            rb"<Relationship\b[^>]*?Id=\"([^\"]+)\"[^>]*?Type=\"[^\"]*(?:macrosheet|xlIntlMacrosheet)\"", rels, re.I)}
        macro_ids |= {m.group(1) for m in re.finditer(
            rb"<Relationship\b[^>]*?Type=\"[^\"]*(?:macrosheet|xlIntlMacrosheet)\"[^>]*?Id=\"([^\"]+)\"", rels, re.I)}
        for m in SHEET_XML_RE.finditer(data):
            attrs = {k.split(b":")[-1].lower(): v for k, v in ATTR_RE.findall(m.group(1))}
            result.sheets += 1
            if attrs.get(b"id") in macro_ids:
                state = attrs.get(b"state", b"visible").lower()
                result.macro_sheets.append((html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace")),
                                            2 if state == b"veryhidden" else 1 if state == b"hidden" else 0))
        for m in NAME_XML_RE.finditer(data):
            text = html.unescape(m.group(1).decode("utf-8", "replace"))
            if text.lower().startswith(AUTO_NAMES):
                result.auto_names.append(text)
        for name in package.infos:
            low = name.lower()
            if not low.startswith("xl/macrosheets/"):
                continue
            if not result.macro_sheets:
                result.macro_sheets.append((name, 0))
            ctx.check()
            part = package.read(name, ctx, out) or b""
            for fm in FORMULA_XML_RE.finditer(part):
                result.formulas += 1
                text = html.unescape(fm.group(1).decode("utf-8", "replace"))
                for fn in XML_FUNC_RE.findall(text):
                    label = fn.upper()
                    result.functions[label] = result.functions.get(label, 0) + 1
                if len(result.text) < 10000:
                    result.text.append(text)
            for m in STRING_IOC_RE.finditer(part):
                result.string_iocs.add(m.group().decode("latin-1"))
        return result

    # -- features and findings --------------------------------------------------------------------

    def _report(self, sample: Sample, ctx: Context, out: ExtractorResult, r: XlmResult) -> None:
        f = out.features
        fn = r.functions
        f["xlm.sheets"] = float(r.sheets)
        f["xlm.macro_sheets"] = float(len(r.macro_sheets))
        hidden = [n for n, s in r.macro_sheets if s == 1]
        very = [n for n, s in r.macro_sheets if s == 2]
        f["xlm.hidden_sheets"] = float(len(hidden))
        f["xlm.very_hidden_sheets"] = float(len(very))
        f["xlm.formulas"] = float(r.formulas)
        f["xlm.functions"] = float(sum(fn.values()))
        dangerous = sorted(n for n in fn if n in DANGEROUS)
        if "URLDOWNLOADTOFILEA" in fn:
            dangerous.append("URLDownloadToFileA")
        f["xlm.dangerous_functions"] = float(len(dangerous))
        f["xlm.exec"] = float(fn.get("EXEC", 0) + fn.get("RUN", 0))
        f["xlm.call_register"] = float(fn.get("CALL", 0) + fn.get("REGISTER", 0) + fn.get("REGISTER.ID", 0))
        f["xlm.formula_fill"] = float(fn.get("FORMULA", 0) + fn.get("FORMULA.FILL", 0) + fn.get("FORMULA.ARRAY", 0))
        f["xlm.file_io"] = float(fn.get("FOPEN", 0) + fn.get("FWRITE", 0) + fn.get("FWRITELN", 0)
                                 + fn.get("FILE.DELETE", 0))
        f["xlm.get_workspace"] = float(fn.get("GET.WORKSPACE", 0) + fn.get("GET.DOCUMENT", 0) + fn.get("GET.WINDOW", 0))
        f["xlm.char_calls"] = float(fn.get("CHAR", 0))
        f["xlm.string_iocs"] = float(len(r.string_iocs))
        auto = bool(r.auto_names) and bool(r.macro_sheets)
        f["xlm.auto_open"] = float(auto)
        # What the macro does, as 0/1 features and their combination with an auto-run name.
        download = "URLDOWNLOADTOFILEA" in fn or any(DOWNLOAD_IOC_RE.search(s) for s in r.string_iocs)
        execs = bool(f["xlm.exec"]) or any(EXEC_IOC_RE.search(s) for s in r.string_iocs)
        f["xlm.url_download"] = float(download)
        f["xlm.exec_strings"] = float(sum(bool(EXEC_IOC_RE.search(s)) for s in r.string_iocs))
        f["xlm.auto_open_exec"] = float(auto and (execs or bool(f["xlm.call_register"])))
        f["xlm.auto_open_download"] = float(auto and download)
        # Self-writing macros assemble their formulas from CHAR() codes and write them with FORMULA(.FILL).
        f["xlm.formula_char"] = float(bool(f["xlm.formula_fill"]) and bool(f["xlm.char_calls"]))
        f["xlm.char_per_formula"] = f["xlm.char_calls"] / r.formulas if r.formulas else 0.0
        if not r.macro_sheets:
            return
        where = sample.display_path
        names = ", ".join(n for n, _ in r.macro_sheets[:5])
        out.add("XLM_MACRO_SHEET", f"{len(r.macro_sheets)} macro sheets: {names}; {r.formulas} formulas", where)
        if hidden:
            out.add("XLM_HIDDEN_SHEET", ", ".join(hidden[:5]), where)
        if very:
            out.add("XLM_VERY_HIDDEN_SHEET", ", ".join(very[:5]), where)
        if auto:
            out.add("XLM_AUTO_OPEN", ", ".join(r.auto_names[:3]), where)
        if dangerous or r.string_iocs:
            out.add("XLM_DANGEROUS_FUNCTION", ", ".join([*dangerous, *sorted(r.string_iocs)][:10]), where)
        if ctx.options.keep_macros and r.text:
            out.macros.append(MacroSource(kind="xlm", name=names, code="\n".join(r.text)[:MACRO_TEXT_CAP]))


def _short_string(body: bytes) -> str:
    """ShortXLUnicodeString: cch (1 byte), fHighByte (1 byte), characters."""
    if len(body) < 2:
        return ""
    cch, high = body[0], body[1] & 1
    raw = body[2:2 + cch * (2 if high else 1)]
    return raw.decode("utf-16-le" if high else "latin-1", "replace")
