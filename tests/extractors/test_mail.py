"""Mail extractor: messages built with the stdlib, one test per finding and feature group."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pytest
import pyzipper

from maldoc.engine import analyze
from maldoc.extractors._mail_text import find_passwords
from maldoc.extractors.mail import double_extension
from maldoc.filetype import detect
from maldoc.limits import Limits
from maldoc.types import FileType, Flag

SCRIPT = b"WScript.Echo('inert test fixture');\n"
PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 200
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def message(body: str = "Hello,\nsee attached.\n", *, html: str | None = None, headers: dict | None = None,
            attachments: tuple = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.com>"
    msg["To"] = "bob@example.org, carol@example.org"
    msg["Subject"] = "Quarterly figures"
    msg["Date"] = "Mon, 02 Jan 2023 10:00:00 +0000"
    msg["Message-ID"] = "<1@example.com>"
    for key, value in (headers or {}).items():
        del msg[key]
        if value is not None:
            msg[key] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def aes_zip(password: bytes) -> bytes:
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password)
        zf.writestr("invoice.js", SCRIPT * 20)
    return buf.getvalue()


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def all_rules(node) -> set[str]:
    return {f.rule_id for sub in node.walk() for f in sub.result.findings}


def feat(node, name: str) -> float:
    return node.result.features[f"mail.{name}"]


def child(node, name: str):
    return next(c for c in node.children if c.name == name)


def test_plain_message_is_quiet():
    data = message(headers={"Received": "from a.example.com by b.example.org; Mon, 02 Jan 2023 10:00:00 +0000"})
    assert detect(data) is FileType.EMAIL
    node = analyze(data, "m.eml")
    assert not all_rules(node)
    assert feat(node, "text_bodies") == 1 and feat(node, "attachments") == 0
    assert feat(node, "recipients") == 2 and feat(node, "received_hops") == 1
    assert feat(node, "missing_message_id") == 0 and feat(node, "missing_date") == 0


def test_password_in_body_opens_aes_zip_attachment():
    data = message("The archive password is: Sup3r!\n", attachments=[("invoice.zip", aes_zip(b"Sup3r!"),
                                                                         "application/zip")])
    node = analyze(data, "m.eml")
    assert "MAIL_PASSWORD_IN_BODY" in rules(node)
    assert "Sup3r!" in node.result.passwords and feat(node, "passwords") >= 1
    archive = child(node, "invoice.zip")
    assert Flag.DECRYPTED in archive.result.flags and Flag.ENCRYPTED not in archive.result.flags
    script = child(archive, "invoice.js")
    assert "CORE_SCRIPT_NAME" in rules(script)
    assert feat(node, "archive_attachments") == 1


def test_aes_zip_without_password_stays_encrypted():
    data = message("Please open the attachment.\n", attachments=[("invoice.zip", aes_zip(b"Sup3r!"),
                                                                 "application/zip")])
    node = analyze(data, "m.eml")
    archive = child(node, "invoice.zip")
    assert Flag.ENCRYPTED in archive.result.flags
    assert "CORE_ENCRYPTED_UNOPENED" in rules(archive)
    assert not archive.children
    assert "MAIL_PASSWORD_IN_BODY" not in rules(node)


@pytest.mark.parametrize(("text", "expected"), [
    ("Password: 1234", "1234"), ("pw 2024", "2024"), ("PW:2024", "2024"), ("Passwort: geheim99", "geheim99"),
    ("La contraseña es: abc123", "abc123"), ("mot de passe : ABCD", "ABCD"), ("Пароль: 5555", "5555"),
    ("Kennwort für das Archiv: qwe123", "qwe123"), ("the password is \"Xy12!\".", "Xy12!"), ("Pass - 333", "333"),
])
def test_password_phrasings(text, expected):
    assert expected in find_passwords(text)


@pytest.mark.parametrize("text", ["Forgot your password? Click here", "Your password has expired",
                                  "Password: ********", "passport details"])
def test_password_prose_is_not_a_password(text):
    assert find_passwords(text) == []


def test_password_in_html_body_is_found():
    data = message(html="<html><body><p>Archive <b>password:</b> 7391</p></body></html>",
                   attachments=[("doc.zip", aes_zip(b"7391"), "application/zip")])
    node = analyze(data, "m.eml")
    assert "7391" in node.result.passwords
    assert Flag.DECRYPTED in child(node, "doc.zip").result.flags


@pytest.mark.parametrize("name", ["invoice.pdf.exe", "scan.jpg      .js", "report.docx.scr", "doc\u202efdp.exe"])
def test_double_extension(name):
    node = analyze(message(attachments=[(name, PE, "application/octet-stream")]), "m.eml")
    assert "MAIL_DOUBLE_EXTENSION" in rules(node)
    assert feat(node, "double_extensions") == 1 and feat(node, "risky_attachments") == 1


def test_ordinary_dotted_names_are_not_double_extensions():
    assert not double_extension("v1.2.release-notes.pdf")
    assert not double_extension("setup.exe")
    assert double_extension("invoice.pdf.exe")


def test_declared_type_mismatch():
    zipped = aes_zip(b"x")
    node = analyze(message(attachments=[("invoice.pdf", zipped, "application/pdf"),
                                        ("statement.pdf", PE, "application/pdf"),
                                        ("real.pdf", PDF, "application/pdf"),
                                        ("odd.pdf", b"\x00\x01 unknown bytes", "application/pdf"),
                                        ("noext", PE, "application/msword")]), "m.eml")
    evidence = [f.evidence for f in node.result.findings if f.rule_id == "MAIL_TYPE_MISMATCH"]
    assert len(evidence) == 3
    assert any("invoice.pdf" in e and "zip" in e for e in evidence)
    assert any("statement.pdf" in e and "exe" in e for e in evidence)
    assert any("noext" in e and "application/msword" in e for e in evidence)
    assert feat(node, "type_mismatches") == 3 and feat(node, "attachments") == 5


def test_html_body_is_scanned_as_html_child():
    data = message(html='<html><body><form action="https://collect.example.net/x"><input type="password">'
                        "</form></body></html>")
    node = analyze(data, "m.eml")
    body = child(node, "body.html")
    assert body.file_type is FileType.HTML
    assert "HTML_CREDENTIAL_FORM" in rules(body)
    assert feat(node, "html_bodies") == 1
    assert "https://collect.example.net/x" in body.result.urls


def test_html_body_without_markers_still_reaches_the_html_extractor():
    node = analyze(message(html="<p>Hi <i>there</i></p>"), "m.eml")
    assert child(node, "body.html").file_type is FileType.HTML


def test_html_attachment_flagged():
    node = analyze(message(attachments=[("UpdateForm.html", b"<html><body>x</body></html>",
                                         "application/octet-stream")]), "m.eml")
    assert "MAIL_HTML_ATTACHMENT" in rules(node)
    assert feat(node, "html_attachments") == 1
    assert child(node, "UpdateForm.html").file_type is FileType.HTML


def test_body_urls_collected():
    node = analyze(message("Log in at https://login.example.net/verify?id=1 today.\n"), "m.eml")
    assert "https://login.example.net/verify?id=1" in node.result.urls
    assert feat(node, "body_urls") == 1


def test_reply_to_elsewhere():
    node = analyze(message(headers={"Reply-To": "payments@other-domain.example"}), "m.eml")
    assert "MAIL_REPLY_TO_MISMATCH" in rules(node) and feat(node, "reply_to_differs") == 1


@pytest.mark.parametrize("sender", [
    '"ceo@corp.example" <ceo.corp@freemail.example>',
    "PayPal Service <service@pp-secure-mail.example>",
    "A\u073fp\u073fp\u073fl\u073fe ID <id@mailer.example>",
])
def test_display_name_spoof(sender):
    node = analyze(message(headers={"From": sender}), "m.eml")
    assert "MAIL_DISPLAY_NAME_SPOOF" in rules(node) and feat(node, "display_name_spoof") == 1


@pytest.mark.parametrize("sender", ["Gmail Team <noreply@google.com>", "PayPal <service@paypal.com>",
                                    "Alice Example <alice@example.com>"])
def test_display_name_of_the_real_sender(sender):
    node = analyze(message(headers={"From": sender}), "m.eml")
    assert "MAIL_DISPLAY_NAME_SPOOF" not in rules(node)


def test_organisation_on_freemail():
    node = analyze(message(headers={"From": '"Banco Exemplo - Atendimento" <x12345@gmail.com>'}), "m.eml")
    assert "MAIL_FREEMAIL_ORGANISATION" in rules(node) and feat(node, "freemail_organisation") == 1


def test_authentication_failures():
    node = analyze(message(headers={
        "Authentication-Results": "mx.example.org; spf=fail smtp.mailfrom=example.com; dkim=pass; dmarc=fail",
        "Received-SPF": "fail (domain does not designate sender)"}), "m.eml")
    assert "MAIL_AUTH_FAIL" in rules(node)
    assert feat(node, "auth_fail") == 3 and feat(node, "auth_pass") == 1


def test_missing_message_id_on_relayed_mail():
    node = analyze(message(headers={"Message-ID": None, "Received": "from a by b; Mon, 2 Jan 2023 10:00 +0000"}),
                   "m.eml")
    assert "MAIL_MISSING_MESSAGE_ID" in rules(node) and feat(node, "missing_message_id") == 1


@pytest.mark.parametrize("as_object", [True, False], ids=["7bit", "base64"])
def test_nested_message_is_a_child_email(as_object):
    from email import message_from_bytes, policy

    inner = message(attachments=[("run.vbs", b"Dim x\nx = 1\n", "text/plain")])
    outer = EmailMessage()
    outer["From"] = "a@example.com"
    outer["To"] = "b@example.org"
    outer["Subject"] = "Fwd"
    outer.set_content("forwarded")
    if as_object:
        outer.add_attachment(message_from_bytes(inner, policy=policy.default))
    else:  # base64 transfer encoding of a message/rfc822 part: forbidden by RFC 2046, sent anyway
        outer.add_attachment(inner, maintype="message", subtype="rfc822")
    node = analyze(outer.as_bytes(), "m.eml")
    nested = child(node, "attached-1.eml")
    assert nested.file_type is FileType.EMAIL and feat(node, "nested_messages") == 1
    assert "CORE_SCRIPT_NAME" in rules(child(nested, "run.vbs"))


def test_part_limit():
    many = [(f"f{i}.txt", b"x", "text/plain") for i in range(10)]
    node = analyze(message(attachments=many), "m.eml", limits=Limits(max_children=4))
    assert Flag.LIMIT_EXCEEDED in node.result.flags
    assert len(node.children) <= 4


def test_broken_message_never_raises():
    data = (b"From: =?x-unknown?B?////?= <a@@example..com>\r\nTo: \xff\xfe<broken\r\nSubject: \xe9t\xe9\r\n"
            b"Received: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
            b"Content-Type: application/pdf; name=\"=?utf-8?q?fa=ZZ.pdf?=\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            b"JVBERi0x!!!not base64\r\n--b\r\nContent-Type: text/plain; charset=\"no-such-charset\"\r\n\r\nhi\r\n")
    assert detect(data) is FileType.EMAIL
    node = analyze(data, "broken.eml")
    assert not node.result.errors, node.result.errors
    assert feat(node, "defects") >= 1
    assert feat(node, "attachments") == 1


def test_size_and_structure_features():
    node = analyze(message("x" * 1000, headers={"Return-Path": "<bounce@bulk-sender.example>"},
                           attachments=[("a.pdf", PDF, "application/pdf")]), "m.eml")
    assert feat(node, "parts") == 3  # multipart/mixed, text body, attachment
    assert feat(node, "attachment_bytes_log2") > 5 and feat(node, "body_chars_log2") > 9
    assert feat(node, "return_path_differs") == 1
