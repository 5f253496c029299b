"""E-mail templates: messages carrying the other templates' files, plain, zipped, or encrypted with
the password in the body (how attackers get archives past mail filters), and benign mail."""

from __future__ import annotations

import random

from maldoc.samples import crypt, mail, oledoc, ooxml, ovba, text, vbagen
from maldoc.samples.registry import TEMPLATES, template

MALICIOUS_INNER = ("docm_vba_dropper", "xls_vba_dropper", "xlsm_xlm_auto_open", "rtf_equation", "pdf_openaction_js",
                   "html_credential_form", "onenote_embedded_script", "docx_remote_template", "rtf_package_script")
BENIGN_INNER = ("pdf_plain", "docx_plain", "xlsx_hidden_sheet", "xls_vba_report", "html_receipt", "pdf_form_calc")


def _inner(rng: random.Random, families: tuple[str, ...]) -> tuple[str, bytes]:
    t = TEMPLATES[rng.choice(families)]
    stem, data = t.build(rng)
    return f"{stem}.{t.format}", data


def _addresses(rng: random.Random, *, bad: bool) -> tuple[str, str]:
    person = rng.choice(text.PEOPLE)
    domain = text.host(rng, bad=bad)
    if domain[0].isdigit():
        domain = rng.choice(text.RESERVED_NAMES)
    sender = f"{person} <{person.split()[0].lower()}@{domain}>"
    to = f"{rng.choice(text.PEOPLE).split()[1].lower()}@{rng.choice(text.RESERVED_NAMES)}"
    return sender, to


def _password_line(rng: random.Random, pw: str) -> str:
    return rng.choice((f"Password: {pw}", f"The password is {pw}", f"Archive password - {pw}",
                       f"Use password {pw} to open the file.", f"pass: {pw}"))


def _subject(rng: random.Random) -> str:
    return rng.choice(("Invoice", "Payment", "Documents", "Your order", "Re: report", "Statement", "Fwd: contract")) \
        + f" {rng.randint(1000, 99999)}"


@template("eml_attachment", "malicious", "eml", ("email_attachment",),
          note="message with one malicious-looking attachment")
def eml_attachment(rng: random.Random) -> tuple[str, bytes]:
    name, data = _inner(rng, MALICIOUS_INNER)
    sender, to = _addresses(rng, bad=True)
    body = f"Hello,\n\n{text.lure(rng)}\n\nRegards,\n{sender.split('<')[0].strip()}\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(name, data)])


@template("eml_aes_zip", "malicious", "eml", ("email_attachment", "zip_encrypted", "password_in_body"),
          note="AES-encrypted ZIP with the password in the body")
def eml_aes_zip(rng: random.Random) -> tuple[str, bytes]:
    name, data = _inner(rng, MALICIOUS_INNER)
    pw = str(rng.randint(1000, 9999)) if rng.random() < 0.5 else text.ident(rng, 4, 8)
    archive = crypt.aes_zip([(name, data)], pw, rng)
    sender, to = _addresses(rng, bad=True)
    body = f"Hi,\n\n{text.lure(rng)}\n{_password_line(rng, pw)}\n\nThanks\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(text.stem(rng) + ".zip", archive)])


@template("eml_encrypted_docm", "malicious", "eml",
          ("email_attachment", "office_encrypted", "password_in_body", "vba", "vba_autoexec"),
          note="password-protected .docm with an auto-run macro; password in the body")
def eml_encrypted_docm(rng: random.Random) -> tuple[str, bytes]:
    entry, code, _style = vbagen.dropper(rng, host="word")
    mods = [ovba.Module("ThisDocument", code if entry == "Document_Open" else "", document=True,
                        base="1Normal.ThisDocument")]
    if entry != "Document_Open":
        mods.append(ovba.Module("Module1", code))
    project = oledoc.vba_project_bin(mods, oledoc.project_id(rng.randbytes(16)))
    data = ooxml.word(ooxml.WordDoc(paragraphs=[text.lure(rng), *text.paragraphs(rng, 2)], vba_project=project))
    pw = text.ident(rng, 5, 9)
    sender, to = _addresses(rng, bad=True)
    body = f"Dear customer,\n\n{text.lure(rng)}\nThe document is protected. {_password_line(rng, pw)}\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(text.stem(rng) + ".docm", crypt.encrypt_ooxml(data, pw, rng))])


@template("eml_plain", "benign", "eml", note="plain or HTML message with ordinary links")
def eml_plain(rng: random.Random) -> tuple[str, bytes]:
    sender, to = _addresses(rng, bad=False)
    paras = text.paragraphs(rng, rng.randint(1, 5))
    html = ""
    if rng.random() < 0.5:
        links = "".join(f'<p><a href="{text.inert_url(rng, bad=False)}">{p[:30]}</a></p>' for p in paras)
        html = f"<html><body>{''.join(f'<p>{p}</p>' for p in paras)}{links}</body></html>"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng),
                                        body="\n\n".join(paras) + "\n", html=html)


@template("eml_benign_attachment", "benign", "eml", ("email_attachment",), note="ordinary document attached")
def eml_benign_attachment(rng: random.Random) -> tuple[str, bytes]:
    name, data = _inner(rng, BENIGN_INNER)
    sender, to = _addresses(rng, bad=False)
    body = f"Hi,\n\n{text.words(rng, 2)}\n\nBest,\n{sender.split('<')[0].strip()}\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(name, data)])


@template("eml_aes_zip_benign", "benign", "eml", ("email_attachment", "zip_encrypted", "password_in_body"),
          note="encrypted ZIP of ordinary files, password in the body (a hard negative)")
def eml_aes_zip_benign(rng: random.Random) -> tuple[str, bytes]:
    members = [_inner(rng, BENIGN_INNER) for _ in range(rng.randint(1, 3))]
    members = list(dict(members).items())  # unique names
    pw = text.ident(rng, 6, 10)
    sender, to = _addresses(rng, bad=False)
    body = f"Hello,\n\nAs agreed, the files are encrypted.\n{_password_line(rng, pw)}\n\n{text.words(rng, 1)}\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(text.stem(rng) + ".zip", crypt.aes_zip(members, pw, rng))])
