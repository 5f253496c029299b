"""PDF templates: /OpenAction JavaScript, /AA, /Launch, embedded files, link farms; form-calculation
JavaScript and ordinary linked documents as hard negatives."""

from __future__ import annotations

import random

from maldoc.samples import text
from maldoc.samples.pdf import PDF, hex_name, literal, text_page_content
from maldoc.samples.registry import template


def _doc(rng: random.Random, lines: list[str], *, annots: list[int] | None = None,
         page_extra: str = "", catalog_extra: str = "", pdf: PDF | None = None) -> tuple[PDF, int, int]:
    """A one-page document; returns (pdf, catalog number, info number). Catalog extras may refer ahead."""
    pdf = pdf or PDF()
    catalog, pages, page = pdf.reserve(), pdf.reserve(), pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    content = pdf.stream(text_page_content(lines))
    annot = f" /Annots [{' '.join(f'{a} 0 R' for a in annots)}]" if annots else ""
    pdf.set(page, f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R"
                  f" >> >> /Contents {content} 0 R{annot}{page_extra} >>")
    pdf.set(pages, f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>")
    pdf.set(catalog, f"<< /Type /Catalog /Pages {pages} 0 R{catalog_extra} >>")
    info = pdf.add(f"<< /Producer {literal(rng.choice(('Microsoft Word', 'LibreOffice 7.5', 'pdfTeX-1.40')))}"
                   f" /Author {literal(rng.choice(text.PEOPLE))} /Title {literal(text.stem(rng))} >>")
    return pdf, catalog, info


def _lines(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for p in text.paragraphs(rng, n):
        out += [p[i:i + 85] for i in range(0, len(p), 85)]
    return out[:50]


def _malicious_js(rng: random.Random) -> str:
    url = text.inert_url(rng, ext=rng.choice((".php", ".exe", ".html")))
    style = rng.randrange(3)
    core = f"app.launchURL('{url}', true);"
    if style == 0:
        return core
    if style == 1:
        codes = ",".join(str(ord(c)) for c in core)
        v = text.ident(rng)
        return f"var {v} = String.fromCharCode({codes}); eval({v});"
    esc = "".join(f"%{ord(c):02x}" for c in core)
    v = text.ident(rng)
    return f"var {v} = unescape('{esc}'); eval({v});"


def _js_action(pdf: PDF, rng: random.Random, js: str) -> int:
    """A JavaScript action, with the code inline, or in a stream, and the name sometimes #-escaped."""
    name = hex_name("JavaScript") if rng.random() < 0.3 else "/JavaScript"
    if rng.random() < 0.5:
        ref = pdf.stream(js.encode("latin-1"))
        return pdf.add(f"<< /Type /Action /S {name} /JS {ref} 0 R >>")
    return pdf.add(f"<< /Type /Action /S {name} /JS {literal(js)} >>")


@template("pdf_openaction_js", "malicious", "pdf", ("pdf_js", "pdf_openaction"),
          note="/OpenAction JavaScript, plain or obfuscated, sometimes in object streams")
def pdf_openaction_js(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    action = _js_action(pdf, rng, _malicious_js(rng))
    pdf, catalog, info = _doc(rng, [text.lure(rng)], catalog_extra=f" /OpenAction {action} 0 R", pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=rng.random() < 0.4)


@template("pdf_aa_js", "malicious", "pdf", ("pdf_js", "pdf_aa"), note="page /AA open action with JavaScript")
def pdf_aa_js(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    action = _js_action(pdf, rng, _malicious_js(rng))
    pdf, catalog, info = _doc(rng, [text.lure(rng)], page_extra=f" /AA << /O {action} 0 R >>", pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info)


@template("pdf_launch", "malicious", "pdf", ("pdf_launch", "pdf_openaction"),
          note="/Launch action starting cmd.exe (only a comment) on open")
def pdf_launch(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    params = f"/c rem {text.inert_url(rng)}"
    action = pdf.add(f"<< /Type /Action /S /Launch /Win << /F (cmd.exe) /P {literal(params)} /O (open) >> "
                     f"/F (cmd.exe) >>")
    pdf, catalog, info = _doc(rng, [text.lure(rng), "To view this document click Open."],
                              catalog_extra=f" /OpenAction {action} 0 R", pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=rng.random() < 0.3)


def _fake_script(rng: random.Random, ext: str) -> bytes:
    url = text.inert_url(rng)
    if ext == ".exe":  # an MZ/PE header and nothing that runs (the code section is a single ret)
        stub = bytearray(b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little"))
        stub += b"PE\0\0" + b"\x4c\x01" + b"\0" * 18 + b"\xc3" * 4 + b"maldoc synthetic sample - inert"
        return bytes(stub)
    if ext in (".vbs", ".js"):
        return f"' maldoc synthetic sample - inert\r\nWScript.Echo \"{url}\"\r\n".encode()
    return f"@echo off\r\nrem maldoc synthetic sample - inert {url}\r\n".encode()


@template("pdf_embedded_file", "malicious", "pdf", ("pdf_embedded_file", "pdf_js"),
          note="embedded script or fake executable, opened by exportDataObject JavaScript")
def pdf_embedded_file(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    ext = rng.choice((".js", ".vbs", ".bat", ".exe"))
    fname = text.ident(rng, 5, 10).lower() + ext
    payload = _fake_script(rng, ext)
    ef = pdf.stream(payload, f"/Type /EmbeddedFile /Params << /Size {len(payload)} >>")
    spec = pdf.add(f"<< /Type /Filespec /F {literal(fname)} /UF {literal(fname)} /EF << /F {ef} 0 R >> >>")
    names = pdf.add(f"<< /Names [{literal(fname)} {spec} 0 R] >>")
    action = _js_action(pdf, rng, f"this.exportDataObject({{cName: '{fname}', nLaunch: 2}});")
    pdf, catalog, info = _doc(rng, [text.lure(rng)], pdf=pdf,
                              catalog_extra=f" /Names << /EmbeddedFiles {names} 0 R >> /OpenAction {action} 0 R")
    return text.stem(rng), pdf.to_bytes(catalog, info)


def _link_annots(pdf: PDF, urls: list[str]) -> list[int]:
    out = []
    for n, url in enumerate(urls):
        y = 700 - (n % 40) * 15
        out.append(pdf.add(f"<< /Type /Annot /Subtype /Link /Rect [56 {y} 400 {y + 12}] /Border [0 0 0] "
                           f"/A << /S /URI /URI {literal(url)} >> >>"))
    return out


@template("pdf_phish_links", "malicious", "pdf", ("pdf_many_uris", "urls", "pdf_objstm"),
          note="'view document' lure whose links all go to one suspicious host, in object streams")
def pdf_phish_links(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    host = text.host(rng, bad=True)
    urls = [f"http://{host}/{text.ident(rng, 6, 12).lower()}/login.php?id={rng.getrandbits(40):x}"
            for _ in range(rng.randint(12, 40))]
    annots = _link_annots(pdf, urls)
    pdf, catalog, info = _doc(rng, ["Your document is ready.", "CLICK HERE TO VIEW SECURE DOCUMENT",
                                    text.lure(rng)], annots=annots, pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=True)


@template("pdf_link_lure", "malicious", "pdf", ("pdf_link_lure", "urls"),
          note="one-page 'view the document' picture with one link laid over most of the page")
def pdf_link_lure(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    host = text.host(rng, bad=True)
    url = f"https://{host}/{text.ident(rng, 5, 10).lower()}/?doc={rng.getrandbits(48):x}"
    x0, y0 = rng.randint(10, 80), rng.randint(60, 200)
    x1, y1 = rng.randint(520, 600), rng.randint(600, 780)
    link = pdf.add(f"<< /Type /Annot /Subtype /Link /Rect [{x0} {y0} {x1} {y1}] /Border [0 0 0] "
                   f"/A << /S /URI /URI {literal(url)} >> >>")
    lines = [rng.choice(("DOCUMENT PREVIEW", "Secure PDF Document", "Shared file", "Encrypted message")),
             rng.choice(("Click anywhere to view", "Tap to open the full document", "View document online")),
             text.lure(rng)]
    pdf, catalog, info = _doc(rng, lines, annots=[link], pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=rng.random() < 0.3)


# --- benign ------------------------------------------------------------------------------------

@template("pdf_plain", "benign", "pdf", note="text pages, sometimes in object streams")
def pdf_plain(rng: random.Random) -> tuple[str, bytes]:
    pdf, catalog, info = _doc(rng, _lines(rng, rng.randint(2, 12)))
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=rng.random() < 0.5)


@template("pdf_form_calc", "benign", "pdf", ("pdf_js",), note="AcroForm with field-calculation JavaScript")
def pdf_form_calc(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    n = rng.randint(2, 6)
    fields = []
    for i in range(n):
        y = 650 - i * 30
        keystroke = literal('AFNumber_Keystroke(2, 0, 0, 0, "", true);')
        fields.append(pdf.add(f"<< /Type /Annot /Subtype /Widget /FT /Tx /T (item{i}) /Rect [300 {y} 400 {y + 20}] "
                              f"/AA << /K << /S /JavaScript /JS {keystroke} >> >> >>"))
    names = ", ".join(f'"item{i}"' for i in range(n))
    calc = f'AFSimple_Calculate("SUM", new Array({names}));'
    total = pdf.add("<< /Type /Annot /Subtype /Widget /FT /Tx /T (total) /Rect [300 100 400 120] "
                    f"/AA << /C << /S /JavaScript /JS {literal(calc)} >> >> >>")
    fields.append(total)
    refs = " ".join(f"{f} 0 R" for f in fields)
    pdf, catalog, info = _doc(rng, ["Expense claim form", *_lines(rng, 2)], annots=fields, pdf=pdf,
                              catalog_extra=f" /AcroForm << /Fields [{refs}] /CO [{total} 0 R] >>")
    return text.stem(rng), pdf.to_bytes(catalog, info)


@template("pdf_links", "benign", "pdf", ("pdf_many_uris", "urls"), note="reference list with many ordinary links")
def pdf_links(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    urls = [text.inert_url(rng, bad=False) for _ in range(rng.randint(10, 40))]
    annots = _link_annots(pdf, urls)
    pdf, catalog, info = _doc(rng, ["References", *_lines(rng, 3)], annots=annots, pdf=pdf)
    return text.stem(rng), pdf.to_bytes(catalog, info, objstm=rng.random() < 0.5)


@template("pdf_attachment_benign", "benign", "pdf", ("pdf_embedded_file",), note="embedded CSV data, no script")
def pdf_attachment_benign(rng: random.Random) -> tuple[str, bytes]:
    pdf = PDF()
    rows = "\n".join(f"{rng.randint(1000, 9999)},{rng.uniform(1, 500):.2f}" for _ in range(rng.randint(5, 50)))
    data = ("id,amount\n" + rows + "\n").encode()
    ef = pdf.stream(data, f"/Type /EmbeddedFile /Subtype /text#2Fcsv /Params << /Size {len(data)} >>")
    spec = pdf.add(f"<< /Type /Filespec /F (data.csv) /UF (data.csv) /EF << /F {ef} 0 R >> >>")
    names = pdf.add(f"<< /Names [(data.csv) {spec} 0 R] >>")
    pdf, catalog, info = _doc(rng, ["Data appendix", *_lines(rng, 2)], pdf=pdf,
                              catalog_extra=f" /Names << /EmbeddedFiles {names} 0 R >>")
    return text.stem(rng), pdf.to_bytes(catalog, info)
