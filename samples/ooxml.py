"""OOXML packages (.docx/.docm/.xlsx/.xlsm) written part by part, byte-identical for one input.

`Package` keeps parts, content types and relationships; `zip_bytes` writes every member with a
fixed timestamp, attributes and order, so the same seed gives the same archive. `word()` and
`excel()` assemble the parts the templates vary: paragraphs, hyperlinks, fields (DDE), external
OLE links, an attached (remote) template, a VBA project, worksheets and XLM macro sheets.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_DOC = f"{R}/officeDocument"
REL_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
REL_SETTINGS = f"{R}/settings"
REL_TEMPLATE = f"{R}/attachedTemplate"
REL_LINK = f"{R}/hyperlink"
REL_OLE = f"{R}/oleObject"
REL_SHEET = f"{R}/worksheet"
REL_VBA = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
REL_MACROSHEET = "http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet"

CT_RELS = "application/vnd.openxmlformats-package.relationships+xml"
CT_CORE = "application/vnd.openxmlformats-package.core-properties+xml"
CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
CT_DOCM = "application/vnd.ms-word.document.macroEnabled.main+xml"
CT_SETTINGS = "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"
CT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_XLSM = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_MACROSHEET = "application/vnd.ms-excel.macrosheet+xml"
CT_VBA = "application/vnd.ms-office.vbaProject"

XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def zip_bytes(members: list[tuple[str, bytes]], *, fixed_time: tuple = FIXED_TIME) -> bytes:
    """A deflated ZIP with fixed metadata: same members, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=fixed_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            zf.writestr(info, data, compresslevel=6)
    return buf.getvalue()


@dataclass
class Package:
    parts: dict[str, bytes] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=lambda: {"rels": CT_RELS, "xml": "application/xml"})
    rels: dict[str, list[tuple[str, str, str, bool]]] = field(default_factory=dict)

    def add(self, name: str, data: bytes | str, content_type: str | None = None) -> None:
        self.parts[name] = data.encode("utf-8") if isinstance(data, str) else data
        if content_type:
            self.overrides[name] = content_type

    def relate(self, source: str, rel_type: str, target: str, *, external: bool = False) -> str:
        """Add a relationship from `source` ('' = the package) and return its id."""
        items = self.rels.setdefault(source, [])
        rid = f"rId{len(items) + 1}"
        items.append((rid, rel_type, target, external))
        return rid

    def _rels_xml(self, items: list[tuple[str, str, str, bool]]) -> str:
        body = "".join(
            f'<Relationship Id="{rid}" Type="{t}" Target={quoteattr(target)}'
            + (' TargetMode="External"' if ext else "") + "/>"
            for rid, t, target, ext in items)
        return f'{XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>'

    def to_bytes(self) -> bytes:
        ct = "".join(f'<Default Extension="{e}" ContentType="{t}"/>' for e, t in sorted(self.defaults.items()))
        ct += "".join(f'<Override PartName="/{n}" ContentType="{t}"/>' for n, t in sorted(self.overrides.items()))
        members = [("[Content_Types].xml", (f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/'
                                             f'2006/content-types">{ct}</Types>').encode())]
        for source in sorted(self.rels):
            folder, _, base = source.rpartition("/")
            path = f"{folder + '/' if folder else ''}_rels/{base}.rels"
            members.append((path, self._rels_xml(self.rels[source]).encode()))
        members += sorted(self.parts.items())
        return zip_bytes(members)


def core_props(title: str, creator: str, date: str) -> str:
    return (f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:title>{escape(title)}</dc:title><dc:creator>{escape(creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{date}</dcterms:created></cp:coreProperties>')


W_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:v="urn:schemas-microsoft-com:vml"')


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


@dataclass
class WordDoc:
    """What goes into a Word package; `word()` turns it into bytes."""

    paragraphs: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, external URL)
    fields: list[str] = field(default_factory=list)  # field instructions, e.g. 'DDEAUTO ...'
    ole_links: list[str] = field(default_factory=list)  # external oleObject targets
    template_url: str = ""  # attachedTemplate, external
    vba_project: bytes = b""  # vbaProject.bin (makes it .docm)
    title: str = ""
    creator: str = ""
    date: str = "2020-01-01T00:00:00Z"


def word(doc: WordDoc) -> bytes:
    pkg = Package()
    main = "word/document.xml"
    pkg.relate("", REL_DOC, main)
    pkg.relate("", REL_CORE, "docProps/core.xml")
    pkg.add("docProps/core.xml", core_props(doc.title, doc.creator, doc.date), CT_CORE)
    body = [f"<w:p>{_run(p)}</w:p>" for p in doc.paragraphs]
    for text, url in doc.links:
        rid = pkg.relate(main, REL_LINK, url, external=True)
        body.append(f'<w:p><w:hyperlink r:id="{rid}" w:history="1">{_run(text)}</w:hyperlink></w:p>')
    for instr in doc.fields:
        body.append('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
                    f'<w:r><w:instrText xml:space="preserve"> {escape(instr)} </w:instrText></w:r>'
                    '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' + _run("Loading...")
                    + '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    for n, target in enumerate(doc.ole_links, 1):
        rid = pkg.relate(main, REL_OLE, target, external=True)
        body.append(f'<w:p><w:r><w:object><v:shape id="_x0000_i10{n:02d}" type="#_x0000_t75" '
                    'style="width:1pt;height:1pt"/>'
                    f'<o:OLEObject Type="Link" ProgID="Word.Document.8" ShapeID="_x0000_i10{n:02d}" '
                    f'DrawAspect="Content" r:id="{rid}" UpdateMode="OnCall"><o:LinkType>EnhancedMetaFile'
                    '</o:LinkType><o:LockedField>false</o:LockedField></o:OLEObject></w:object></w:r></w:p>')
    pkg.add(main, f"{XML_HEAD}<w:document {W_NS}><w:body>{''.join(body)}<w:sectPr/></w:body></w:document>",
            CT_DOCM if doc.vba_project else CT_DOCX)
    settings = "word/settings.xml"
    pkg.relate(main, REL_SETTINGS, "settings.xml")
    tmpl = ""
    if doc.template_url:
        rid = pkg.relate(settings, REL_TEMPLATE, doc.template_url, external=True)
        tmpl = f'<w:attachedTemplate r:id="{rid}"/>'
    pkg.add(settings, f'{XML_HEAD}<w:settings {W_NS}>{tmpl}<w:defaultTabStop w:val="720"/></w:settings>',
            CT_SETTINGS)
    if doc.vba_project:
        pkg.defaults["bin"] = CT_VBA
        pkg.relate(main, REL_VBA, "vbaProject.bin")
        pkg.add("word/vbaProject.bin", doc.vba_project)
    return pkg.to_bytes()


S_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


@dataclass
class Sheet:
    name: str
    cells: list[tuple[str, str | float]]  # (A1 reference, value); macro sheets: formulas without '='
    macro: bool = False
    state: str = "visible"  # visible | hidden | veryHidden


def _cell(ref: str, value: str | float, formula: bool) -> str:
    if formula:
        return f'<c r="{ref}" t="str"><f>{escape(str(value))}</f><v></v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _sheet_xml(sheet: Sheet) -> str:
    rows: dict[int, list[str]] = {}
    for ref, value in sheet.cells:
        row = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(row, []).append(_cell(ref, value, sheet.macro))
    data = "".join(f'<row r="{r}">{"".join(c)}</row>' for r, c in sorted(rows.items()))
    if sheet.macro:
        return (f'{XML_HEAD}<xm:macrosheet {S_NS} xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
                f"<sheetData>{data}</sheetData></xm:macrosheet>")
    return f"{XML_HEAD}<worksheet {S_NS}><sheetData>{data}</sheetData></worksheet>"


def excel(sheets: list[Sheet], *, vba_project: bytes = b"", auto_open: str = "", title: str = "",
          creator: str = "", date: str = "2020-01-01T00:00:00Z") -> bytes:
    """An .xlsx, or .xlsm when it has a VBA project or macro sheets; `auto_open` = 'Sheet!$A$1'."""
    macro_enabled = bool(vba_project) or any(s.macro for s in sheets)
    pkg = Package()
    main = "xl/workbook.xml"
    pkg.relate("", REL_DOC, main)
    pkg.relate("", REL_CORE, "docProps/core.xml")
    pkg.add("docProps/core.xml", core_props(title, creator, date), CT_CORE)
    entries = []
    counts = {"w": 0, "m": 0}
    for n, sheet in enumerate(sheets, 1):
        kind = "m" if sheet.macro else "w"
        counts[kind] += 1
        part = f"{'macrosheets' if sheet.macro else 'worksheets'}/sheet{counts[kind]}.xml"
        rid = pkg.relate(main, REL_MACROSHEET if sheet.macro else REL_SHEET, part)
        pkg.add(f"xl/{part}", _sheet_xml(sheet), CT_MACROSHEET if sheet.macro else CT_SHEET)
        state = "" if sheet.state == "visible" else f' state="{sheet.state}"'
        entries.append(f'<sheet name={quoteattr(sheet.name)} sheetId="{n}"{state} r:id="{rid}"/>')
    names = (f'<definedNames><definedName name="_xlnm.Auto_Open" hidden="1">{escape(auto_open)}'
             "</definedName></definedNames>") if auto_open else ""
    pkg.add(main, f"{XML_HEAD}<workbook {S_NS}><sheets>{''.join(entries)}</sheets>{names}</workbook>",
            CT_XLSM if macro_enabled else CT_XLSX)
    if vba_project:
        pkg.defaults["bin"] = CT_VBA
        pkg.relate(main, REL_VBA, "vbaProject.bin")
        pkg.add("xl/vbaProject.bin", vba_project)
    return pkg.to_bytes()
