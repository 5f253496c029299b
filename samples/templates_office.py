"""Office templates: .doc/.xls with VBA or XLM, .docm/.xlsm, .docx tricks, and their hard negatives."""

from __future__ import annotations

import random

from maldoc.samples import crypt, oledoc, ooxml, ovba, text, vbagen
from maldoc.samples.registry import template

WORD_BASE = "1Normal.ThisDocument"
EXCEL_BASE = "0{00020819-0000-0000-C000-000000000046}"
SHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"


def _pid(rng: random.Random) -> str:
    return oledoc.project_id(rng.randbytes(16))


def _date(rng: random.Random) -> str:
    return f"20{rng.randint(19, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(7, 18):02d}:00:00Z"


def _word_modules(rng: random.Random, entry: str, code: str) -> list[ovba.Module]:
    """Document_Open lives in ThisDocument; AutoOpen in a standard module."""
    if entry == "Document_Open":
        return [ovba.Module("ThisDocument", code, document=True, base=WORD_BASE)]
    return [ovba.Module("ThisDocument", "", document=True, base=WORD_BASE),
            ovba.Module(rng.choice(("Module1", "NewMacros", text.ident(rng, 5, 9))), code)]


def _excel_modules(rng: random.Random, entry: str, code: str) -> list[ovba.Module]:
    sheet = ovba.Module("Sheet1", "", document=True, base=SHEET_BASE)
    if entry == "Workbook_Open":
        return [ovba.Module("ThisWorkbook", code, document=True, base=EXCEL_BASE), sheet]
    return [ovba.Module("ThisWorkbook", "", document=True, base=EXCEL_BASE), sheet,
            ovba.Module(rng.choice(("Module1", text.ident(rng, 5, 9))), code)]


def _lure_text(rng: random.Random) -> str:
    return "\n".join([text.lure(rng), *text.paragraphs(rng, rng.randint(0, 3))])


def _data_cells(rng: random.Random, rows: int) -> list[tuple[int, int, str | float]]:
    cells: list[tuple[int, int, str | float]] = [(0, 0, "Item"), (0, 1, "Qty"), (0, 2, "Amount")]
    for r in range(1, rows):
        cells += [(r, 0, f"SKU-{rng.randint(1000, 9999)}"), (r, 1, float(rng.randint(1, 50))),
                  (r, 2, round(rng.uniform(5, 900), 2))]
    return cells


def _a1(cells: list[tuple[int, int, str | float]]) -> list[tuple[str, str | float]]:
    return [(f"{chr(65 + c)}{r + 1}", v) for r, c, v in cells]


# --- malicious ---------------------------------------------------------------------------------

@template("doc_vba_dropper", "malicious", "doc", ("vba", "vba_autoexec", "vba_exec"))
def doc_vba_dropper(rng: random.Random) -> tuple[str, bytes]:
    entry, code, _style = vbagen.dropper(rng, host="word")
    return text.stem(rng), oledoc.doc(_lure_text(rng), _word_modules(rng, entry, code), _pid(rng))


@template("xls_vba_dropper", "malicious", "xls", ("vba", "vba_autoexec", "vba_exec"))
def xls_vba_dropper(rng: random.Random) -> tuple[str, bytes]:
    entry, code, _style = vbagen.dropper(rng, host="excel")
    sheets = [("Sheet1", 0, False, [(0, 0, text.lure(rng))])]
    return text.stem(rng), oledoc.xls(sheets, _excel_modules(rng, entry, code), _pid(rng))


@template("xls_xlm_hidden", "malicious", "xls", ("xlm", "xlm_hidden", "xlm_exec"),
          note="Excel 4.0 macro sheet, hidden or very hidden, EXEC formula")
def xls_xlm_hidden(rng: random.Random) -> tuple[str, bytes]:
    state = rng.choice((oledoc.SHEET_HIDDEN, oledoc.SHEET_VERY_HIDDEN))
    url = text.inert_url(rng, ext=".dat")
    cells = [(0, 0, "EXEC", [f"cmd /c rem {url}"]), (1, 0, "HALT", [])]
    sheets = [("Sheet1", 0, False, [(0, 0, text.lure(rng))]),
              (rng.choice(("Macro1", "Sheet2", text.ident(rng, 4, 8))), state, True, cells)]
    return text.stem(rng), oledoc.xls(sheets, None, "")


@template("docm_vba_dropper", "malicious", "docm", ("vba", "vba_autoexec", "vba_exec"))
def docm_vba_dropper(rng: random.Random) -> tuple[str, bytes]:
    entry, code, _style = vbagen.dropper(rng, host="word")
    project = oledoc.vba_project_bin(_word_modules(rng, entry, code), _pid(rng), ovba.HOST_WORD)
    doc = ooxml.WordDoc(paragraphs=_lure_text(rng).split("\n"), vba_project=project, title=text.stem(rng),
                        creator=rng.choice(text.PEOPLE), date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("xlsm_vba_dropper", "malicious", "xlsm", ("vba", "vba_autoexec", "vba_exec"))
def xlsm_vba_dropper(rng: random.Random) -> tuple[str, bytes]:
    entry, code, _style = vbagen.dropper(rng, host="excel")
    project = oledoc.vba_project_bin(_excel_modules(rng, entry, code), _pid(rng), ovba.HOST_EXCEL)
    sheets = [ooxml.Sheet("Sheet1", [("A1", text.lure(rng))])]
    return text.stem(rng), ooxml.excel(sheets, vba_project=project, creator=rng.choice(text.PEOPLE),
                                       date=_date(rng))


@template("xlsm_xlm_auto_open", "malicious", "xlsm", ("xlm", "xlm_auto_open", "xlm_exec"),
          note="macro sheet (hidden or very hidden) run by _xlnm.Auto_Open")
def xlsm_xlm_auto_open(rng: random.Random) -> tuple[str, bytes]:
    cells = vbagen.xlm_formulas(rng, obfuscate=rng.random() < 0.5)
    name = rng.choice(("Macro1", "Sheet2", text.ident(rng, 4, 8)))
    state = rng.choice(("hidden", "veryHidden"))
    sheets = [ooxml.Sheet("Sheet1", [("A1", text.lure(rng))]), ooxml.Sheet(name, cells, macro=True, state=state)]
    first = cells[0][0]
    ref = f"{name}!${first[0]}${first[1:]}"
    return text.stem(rng), ooxml.excel(sheets, auto_open=ref, creator=rng.choice(text.PEOPLE), date=_date(rng))


@template("docx_remote_template", "malicious", "docx", ("remote_template", "urls"),
          note="settings.xml.rels attachedTemplate, TargetMode External")
def docx_remote_template(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".dotm", ".dot", ".docx", "")))
    if rng.random() < 0.3:  # the UNC-less WebDAV form some campaigns use
        url = url.replace("https://", "http://")
    doc = ooxml.WordDoc(paragraphs=_lure_text(rng).split("\n"), template_url=url, creator=rng.choice(text.PEOPLE),
                        date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("docx_dde", "malicious", "docx", ("dde",), note="DDEAUTO field starting cmd (runs only a comment)")
def docx_dde(rng: random.Random) -> tuple[str, bytes]:
    keyword = rng.choice(("DDEAUTO", "DDE"))
    cmd, _url = vbagen.command(rng, rng.choice((0, 2)))
    instr = f'{keyword} c:\\\\Windows\\\\System32\\\\cmd.exe "/k {cmd}"'
    doc = ooxml.WordDoc(paragraphs=text.paragraphs(rng, rng.randint(1, 4)), fields=[instr],
                        creator=rng.choice(text.PEOPLE), date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("docx_ole_link", "malicious", "docx", ("ole_link_external", "urls"),
          note="external oleObject relationship (CVE-2017-0199 / Follina shape)")
def docx_ole_link(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".rtf", ".hta", ".html", ".doc")))
    if rng.random() < 0.4:
        url = f"mhtml:{url}!x-usc:{url}"
    doc = ooxml.WordDoc(paragraphs=_lure_text(rng).split("\n"), ole_links=[url], creator=rng.choice(text.PEOPLE),
                        date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


# --- benign (hard negatives) -------------------------------------------------------------------

@template("doc_vba_formatting", "benign", "doc", ("vba",), note="formatting macro, sometimes AutoOpen")
def doc_vba_formatting(rng: random.Random) -> tuple[str, bytes]:
    _entry, code = vbagen.benign_word(rng)
    mods = [ovba.Module("ThisDocument", "", document=True, base=WORD_BASE), ovba.Module("HouseStyle", code)]
    return text.stem(rng), oledoc.doc("\n".join(text.paragraphs(rng, rng.randint(2, 8))), mods, _pid(rng))


@template("xls_vba_report", "benign", "xls", ("vba",), note="report macro summing a column")
def xls_vba_report(rng: random.Random) -> tuple[str, bytes]:
    _entry, code = vbagen.benign_excel(rng)
    sheets = [("Data", 0, False, _data_cells(rng, rng.randint(5, 40))), ("Summary", 0, False, [(0, 0, "Total")])]
    mods = [ovba.Module("ThisWorkbook", "", document=True, base=EXCEL_BASE), ovba.Module("Report", code)]
    return text.stem(rng), oledoc.xls(sheets, mods, _pid(rng))


@template("docm_vba_formatting", "benign", "docm", ("vba",))
def docm_vba_formatting(rng: random.Random) -> tuple[str, bytes]:
    _entry, code = vbagen.benign_word(rng)
    mods = [ovba.Module("ThisDocument", "", document=True, base=WORD_BASE), ovba.Module("HouseStyle", code)]
    doc = ooxml.WordDoc(paragraphs=text.paragraphs(rng, rng.randint(2, 10)),
                        vba_project=oledoc.vba_project_bin(mods, _pid(rng)), creator=rng.choice(text.PEOPLE),
                        date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("xlsm_vba_report", "benign", "xlsm", ("vba",))
def xlsm_vba_report(rng: random.Random) -> tuple[str, bytes]:
    _entry, code = vbagen.benign_excel(rng)
    mods = [ovba.Module("ThisWorkbook", "", document=True, base=EXCEL_BASE), ovba.Module("Report", code)]
    sheets = [ooxml.Sheet("Data", _a1(_data_cells(rng, rng.randint(5, 60)))),
              ooxml.Sheet("Summary", [("A1", "Total")])]
    return text.stem(rng), ooxml.excel(sheets, vba_project=oledoc.vba_project_bin(mods, _pid(rng), ovba.HOST_EXCEL),
                                       creator=rng.choice(text.PEOPLE), date=_date(rng))


@template("doc_plain", "benign", "doc")
def doc_plain(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), oledoc.doc("\n".join(text.paragraphs(rng, rng.randint(1, 12))), None, "")


@template("xls_plain", "benign", "xls")
def xls_plain(rng: random.Random) -> tuple[str, bytes]:
    sheets = [("Data", 0, False, _data_cells(rng, rng.randint(3, 80)))]
    if rng.random() < 0.5:  # a hidden lookup sheet: ordinary in budgets, not a macro sheet
        sheets.append(("Lookup", oledoc.SHEET_HIDDEN, False, [(0, 0, "Rate"), (0, 1, 0.2)]))
    return text.stem(rng), oledoc.xls(sheets, None, "")


@template("docx_links", "benign", "docx", ("urls",), note="ordinary document full of links")
def docx_links(rng: random.Random) -> tuple[str, bytes]:
    links = [(f"Reference {i + 1}", text.inert_url(rng, bad=False)) for i in range(rng.randint(5, 40))]
    doc = ooxml.WordDoc(paragraphs=text.paragraphs(rng, rng.randint(1, 6)), links=links,
                        creator=rng.choice(text.PEOPLE), date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("docx_plain", "benign", "docx")
def docx_plain(rng: random.Random) -> tuple[str, bytes]:
    doc = ooxml.WordDoc(paragraphs=text.paragraphs(rng, rng.randint(1, 30)), title=text.stem(rng),
                        creator=rng.choice(text.PEOPLE), date=_date(rng))
    return text.stem(rng), ooxml.word(doc)


@template("xlsx_hidden_sheet", "benign", "xlsx", note="plain workbook, sometimes with a hidden worksheet")
def xlsx_hidden_sheet(rng: random.Random) -> tuple[str, bytes]:
    sheets = [ooxml.Sheet("Data", _a1(_data_cells(rng, rng.randint(3, 80))))]
    if rng.random() < 0.6:
        sheets.append(ooxml.Sheet("Rates", [("A1", "VAT"), ("B1", 0.2)], state="hidden"))
    return text.stem(rng), ooxml.excel(sheets, creator=rng.choice(text.PEOPLE), date=_date(rng))


@template("docx_encrypted", "benign", "docx", ("office_encrypted",),
          note="password-protected ordinary document (ECMA-376 agile encryption)")
def docx_encrypted(rng: random.Random) -> tuple[str, bytes]:
    paragraphs = text.paragraphs(rng, rng.randint(1, 20))
    data = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, creator=rng.choice(text.PEOPLE), date=_date(rng)))
    password = text.ident(rng, 8, 14)
    return text.stem(rng), crypt.encrypt_ooxml(data, password, rng)
