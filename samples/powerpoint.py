"""PowerPoint files: 97-2003 binary (.ppt/.pps, [MS-PPT] records) and OOXML (.pptx/.pptm/.ppsx).

Only what identification and the carrier checks need: a document container whose records hold
action settings (InteractiveInfo with a run-program or macro action) and ExOleObjStg records
(embedded objects, the VBA project), and OOXML presentations with slides whose shapes carry
hlinkClick / hlinkMouseOver actions.
"""

from __future__ import annotations

import struct
import zlib

from maldoc.samples import cfb
from maldoc.samples.ooxml import zip_bytes

CLSID_PPT = "{64818D10-4F9B-11CF-86EA-00AA00B929E8}"
RT_DOCUMENT, RT_EX_OLE_OBJ_STG, RT_INTERACTIVE_INFO = 0x03E8, 0x1011, 0x0FF2
RT_INTERACTIVE_INFO_ATOM, RT_CSTRING, RT_SLIDE = 0x0FF3, 0x0FBA, 0x03EE
ACTION_MACRO, ACTION_PROGRAM, ACTION_HYPERLINK = 1, 2, 4


def record(rtype: int, payload: bytes, *, instance: int = 0, container: bool = False) -> bytes:
    verinst = (instance << 4) | (0xF if container else 0)
    return struct.pack("<HHI", verinst, rtype, len(payload)) + payload


def action(kind: int, name: str, *, hover: bool = False) -> bytes:
    """An InteractiveInfo container: the atom (action byte at +8) and the program/macro name."""
    atom = struct.pack("<IIBBBBB3x", 0, 0, kind, 0, 0, 0, 0)
    return record(RT_INTERACTIVE_INFO, record(RT_INTERACTIVE_INFO_ATOM, atom)
                  + record(RT_CSTRING, name.encode("utf-16-le"), instance=2), instance=int(hover), container=True)


def ole_object(data: bytes, *, compressed: bool = True) -> bytes:
    if compressed:
        return record(RT_EX_OLE_OBJ_STG, struct.pack("<I", len(data)) + zlib.compress(data), instance=1)
    return record(RT_EX_OLE_OBJ_STG, data)


def ppt(*records: bytes, text: str = "") -> bytes:
    slide = record(RT_SLIDE, record(RT_CSTRING, text.encode("utf-16-le")), container=True)
    document = record(RT_DOCUMENT, slide + b"".join(records), container=True)
    user = struct.pack("<IIIIHHBB", 0x14, 0xE391C05F, 0, 0x08, 3, 0, 0x03, 0)  # CurrentUserAtom (inert)
    return cfb.write({"PowerPoint Document": document, "Current User": record(0x0FF6, user)},
                     root_clsid=CLSID_PPT)


# --- OOXML ----------------------------------------------------------------------------------------

_CT_MAIN = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "pptm": "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    "ppsx": "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    "ppsm": "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
}
_NS = ('xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
       'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"')
_HLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def _shape(index: int, text: str, links: str) -> str:
    return (f'<p:sp><p:nvSpPr><p:cNvPr id="{index + 2}" name="Shape {index}">{links}</p:cNvPr><p:cNvSpPr/><p:nvPr/>'
            f'</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp>')


def pptx(kind: str, slides: list[list[tuple[str, str, str, str]]], *, vba_project: bytes = b"") -> bytes:
    """`slides`: per slide, shapes as (text, element 'hlinkClick'/'hlinkMouseOver'/'', action, target)."""
    members: list[tuple[str, bytes]] = []
    overrides = [f'<Override PartName="/ppt/presentation.xml" ContentType="{_CT_MAIN[kind]}"/>']
    pres_rels = []
    for n, shapes in enumerate(slides, 1):
        rels, body = [], []
        for i, (text, element, act, target) in enumerate(shapes):
            link = ""
            if element:
                rid = f"rId{i + 10}"
                if target:
                    mode = ' TargetMode="External"' if "://" in target or target.startswith(("\\\\", "C:")) else ""
                    rels.append(f'<Relationship Id="{rid}" Type="{_HLINK}" Target="{target}"{mode}/>')
                attr = f' action="{act}"' if act else ""
                link = f'<a:{element} r:id="{rid if target else ""}"{attr}/>'
            body.append(_shape(i, text, link))
        members.append((f"ppt/slides/slide{n}.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sld {_NS}><p:cSld><p:spTree>'
            f'{"".join(body)}</p:spTree></p:cSld></p:sld>').encode()))
        members.append((f"ppt/slides/_rels/slide{n}.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{"".join(rels)}'
            '</Relationships>').encode()))
        overrides.append(f'<Override PartName="/ppt/slides/slide{n}.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.presentationml.slide+xml"/>')
        pres_rels.append(f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/'
                         f'2006/relationships/slide" Target="slides/slide{n}.xml"/>')
    if vba_project:
        members.append(("ppt/vbaProject.bin", vba_project))
        pres_rels.append('<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/'
                         'vbaProject" Target="vbaProject.bin"/>')
    ids = "".join(f'<p:sldId id="{255 + n}" r:id="rId{n}"/>' for n in range(1, len(slides) + 1))
    members.append(("ppt/presentation.xml", (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                             f'<p:presentation {_NS}><p:sldIdLst>{ids}</p:sldIdLst>'
                                             '</p:presentation>').encode()))
    members.append(("ppt/_rels/presentation.xml.rels", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
        f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{"".join(pres_rels)}'
        '</Relationships>').encode()))
    members.append(("_rels/.rels", (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
        b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        b'Target="ppt/presentation.xml"/></Relationships>')))
    bin_default = '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if vba_project \
        else ""
    members.insert(0, ("[Content_Types].xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types '
        'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{bin_default}{"".join(overrides)}'
        '</Types>').encode()))
    return zip_bytes(members)
