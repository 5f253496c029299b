"""Archive, disk-image and Outlook-container templates, malicious-looking and benign.

The lure shapes of 2022-2025 mail: an ISO whose only visible file is a shortcut with the payload
hidden beside it, a 7z encrypted with the password in the mail body, a RAR/7z holding one script,
and Outlook items (.msg, winmail.dat) carrying such attachments. Every payload is inert text.
"""

from __future__ import annotations

import random

from maldoc.samples import archive, mail, outlook, text
from maldoc.samples.registry import template
from maldoc.samples.templates_mail import _addresses, _password_line, _subject
from maldoc.samples.templates_web import SCRIPT_EXTS, _script_body

LNK_HEADER = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F"


def _lnk_named_text(rng: random.Random) -> bytes:
    """Inert: a shell-link header then a note, so sniffers see a shortcut and nothing runs."""
    return LNK_HEADER + b"\x00" * 56 + f"maldoc synthetic sample - inert {text.inert_url(rng)}".encode()


def _decoy(rng: random.Random) -> tuple[str, bytes]:
    return rng.choice(("invoice.pdf", "scan.jpg", "readme.txt", "photo.png")), \
        "\n".join(text.paragraphs(rng, 2)).encode()


def _script(rng: random.Random) -> tuple[str, bytes]:
    ext = rng.choice(SCRIPT_EXTS)
    return rng.choice(("invoice", "document", "payment", text.ident(rng, 4, 8).lower())) + ext, _script_body(rng, ext)


@template("iso_lnk_hidden", "malicious", "iso", ("diskimage_lure",),
          note="ISO: one visible LNK-named file, the script and DLL-named payload hidden")
def iso_lnk_hidden(rng: random.Random) -> tuple[str, bytes]:
    folder = rng.choice(("data", "files", "x", text.ident(rng, 3, 6).lower()))
    hidden_script, body = _script(rng)
    lnk = f"{rng.choice(('Invoice', 'Document', 'Scan'))}_{rng.randint(100, 9999)}.lnk"
    files = [(lnk, _lnk_named_text(rng), False),
             (f"{folder}/{hidden_script}", body, True),
             (f"{folder}/{text.ident(rng, 4, 8).lower()}.dll", b"maldoc synthetic sample - inert", True)]
    return text.stem(rng), archive.iso(files)


@template("iso_documents", "benign", "iso", note="ISO of ordinary documents and a readme")
def iso_documents(rng: random.Random) -> tuple[str, bytes]:
    files = [(f"docs/{text.ident(rng, 4, 8).lower()}.txt", "\n".join(text.paragraphs(rng, 3)).encode(), False)
             for _ in range(rng.randint(1, 4))]
    files.append(("README.TXT", text.lure(rng).encode(), False))
    return text.stem(rng), archive.iso(files)


@template("sevenzip_script", "malicious", "7z", ("archive_lure",), note="7z holding a single script")
def sevenzip_script(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), archive.sevenzip([_script(rng)])


@template("sevenzip_documents", "benign", "7z", note="7z of ordinary text documents")
def sevenzip_documents(rng: random.Random) -> tuple[str, bytes]:
    files = [(f"{text.ident(rng, 4, 8).lower()}.txt", "\n".join(text.paragraphs(rng, 2)).encode())
             for _ in range(rng.randint(2, 5))]
    return text.stem(rng), archive.sevenzip(files)


@template("tgz_documents", "benign", "gz", note="tar.gz of ordinary text documents")
def tgz_documents(rng: random.Random) -> tuple[str, bytes]:
    files = [(f"report/{text.ident(rng, 4, 8).lower()}.csv", b"a,b\n1,2\n") for _ in range(rng.randint(1, 3))]
    return text.stem(rng), archive.tar_gz(files)


@template("eml_encrypted_7z", "malicious", "eml",
          ("email_attachment", "sevenzip_encrypted", "password_in_body", "archive_lure"),
          note="AES-encrypted 7z (sometimes with encrypted headers) holding a script; password in the body")
def eml_encrypted_7z(rng: random.Random) -> tuple[str, bytes]:
    pw = str(rng.randint(1000, 9999)) if rng.random() < 0.5 else text.ident(rng, 4, 8)
    members = [_script(rng)] + ([_decoy(rng)] if rng.random() < 0.5 else [])
    data = archive.sevenzip(members, password=pw, encrypt_headers=rng.random() < 0.5)
    sender, to = _addresses(rng, bad=True)
    body = f"Hi,\n\n{text.lure(rng)}\n{_password_line(rng, pw)}\n\nThanks\n"
    return text.stem(rng), mail.message(rng, sender=sender, to=to, subject=_subject(rng), body=body,
                                        attachments=[(text.stem(rng) + ".7z", data)])


def _headers(rng: random.Random, subject: str) -> str:
    sender, to = _addresses(rng, bad=True)
    return (f"Received: from mail.example.com by mx.example.org; Mon, 2 Jan 2023 09:00:00 +0000\r\n"
            f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{rng.getrandbits(48):012x}@example.com>\r\n"
            "Content-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n")


@template("msg_encrypted_7z", "malicious", "msg", ("msg_attachment", "sevenzip_encrypted", "password_in_body"),
          note="Outlook .msg with an encrypted 7z and its password in the body")
def msg_encrypted_7z(rng: random.Random) -> tuple[str, bytes]:
    pw = text.ident(rng, 4, 8)
    subject = _subject(rng)
    data = archive.sevenzip([_script(rng)], password=pw)
    m = outlook.Message(subject=subject, body=f"Hello,\n{text.lure(rng)}\n{_password_line(rng, pw)}\n",
                        headers=_headers(rng, subject), attachments=[(text.stem(rng) + ".7z", data)])
    return text.stem(rng), outlook.msg(m)


@template("msg_plain", "benign", "msg", ("msg_attachment",), note="Outlook .msg with a text attachment")
def msg_plain(rng: random.Random) -> tuple[str, bytes]:
    subject = rng.choice(("Minutes", "Agenda", "Re: schedule", "Notes"))
    m = outlook.Message(subject=subject, body="\n".join(text.paragraphs(rng, 2)),
                        html=f"<html><body><p>{text.lure(rng)}</p></body></html>",
                        attachments=[("notes.txt", "\n".join(text.paragraphs(rng, 2)).encode())])
    return text.stem(rng), outlook.msg(m)


@template("tnef_script", "malicious", "dat", ("tnef_attachment",), note="winmail.dat carrying a script")
def tnef_script(rng: random.Random) -> tuple[str, bytes]:
    return "winmail", outlook.tnef(text.lure(rng), [_script(rng)])


@template("tnef_plain", "benign", "dat", ("tnef_attachment",), note="winmail.dat with a text attachment")
def tnef_plain(rng: random.Random) -> tuple[str, bytes]:
    return "winmail", outlook.tnef("\n".join(text.paragraphs(rng, 2)), [("agenda.txt", text.lure(rng).encode())],
                                   html=f"<html><body><p>{text.lure(rng)}</p></body></html>")
