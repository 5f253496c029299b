"""Outlook containers: .msg and TNEF (winmail.dat) attachments, embedded messages and bodies as children."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.extractors import tnef
from maldoc.filetype import detect
from maldoc.samples import archive, oledoc, outlook
from maldoc.types import FileType, Flag

SCRIPT = b"WScript.Echo('maldoc inert test')"


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def names_of(node) -> list[str]:
    return [c.name for c in node.children]


def _message(**kw) -> outlook.Message:
    base = {"subject": "Invoice", "body": "Hello,\nthe password is: Zx81\n",
            "headers": "Received: from a by b\r\nFrom: Alice <a@example.com>\r\nTo: b@example.org\r\n"
                       "Subject: Invoice\r\nMessage-ID: <1@example.com>\r\nContent-Type: multipart/mixed;\r\n"
                       " boundary=\"b1\"\r\n"}
    base.update(kw)
    return outlook.Message(**base)


def test_msg_is_its_own_type_not_an_ole_document():
    data = outlook.msg(_message())
    assert detect(data) is FileType("msg")
    assert detect(oledoc.doc("x", None, "{11111111-2222-3333-4444-555555555555}")) is FileType.OLE


def test_msg_attachment_opened_with_the_body_password():
    seven = archive.sevenzip([("invoice.js", SCRIPT)], password="Zx81")
    node = analyze(outlook.msg(_message(attachments=[("invoice.7z", seven)])), "mail.msg")
    assert names_of(node) == ["message.eml", "invoice.7z"]
    assert {"MSG_ATTACHMENT", "MAIL_PASSWORD_IN_BODY"} <= rules_of(node)
    assert node.children[0].file_type is FileType.EMAIL
    inner = node.children[1]
    assert Flag.DECRYPTED in inner.result.flags and names_of(inner) == ["invoice.js"]
    f = node.result.features
    assert f["msg.attachments"] == 1 and f["msg.transport_headers"] == 1 and f["msg.passwords"] == 1


def test_msg_bodies_and_embedded_message():
    inner = outlook.Message(subject="fwd", body="inner text", attachments=[("note.txt", b"hello")])
    m = _message(headers="", html="<html><body><a href='http://example.invalid/x'>x</a></body></html>",
                 embedded=[("fwd.msg", inner)])
    node = analyze(outlook.msg(m), "mail.msg")
    assert names_of(node) == ["body.txt", "body.html", "fwd.msg/body.txt", "fwd.msg/note.txt"]
    assert "MSG_EMBEDDED_MESSAGE" in rules_of(node)
    assert node.result.features["msg.embedded_messages"] == 1 and node.result.features["msg.html_body"] == 1
    html = next(c for c in node.children if c.name == "body.html")
    assert html.file_type is FileType.HTML and "http://example.invalid/x" in html.result.urls


def test_msg_compressed_rtf_body_is_decompressed():
    import compressed_rtf

    rtf = b"{\\rtf1\\ansi Hello from the RTF body\\par}"
    node = analyze(outlook.msg(_message(headers="", rtf_compressed=compressed_rtf.compress(rtf))), "mail.msg")
    rtf_child = next(c for c in node.children if c.name == "body.rtf")
    assert rtf_child.file_type is FileType.RTF


def test_tnef_attachments_bodies_and_embedded_message():
    nested = outlook.tnef("inner body", [("a.txt", b"abc")])
    data = outlook.tnef("the password is: Zx81", [("invoice.js", SCRIPT)], html="<html><body>hi</body></html>",
                        embedded=[("Forwarded", nested)])
    assert detect(data) is FileType("tnef")
    node = analyze(data, "winmail.dat")
    assert names_of(node) == ["body.txt", "body.html", "invoice.js", "Forwarded/body.txt", "Forwarded/a.txt"]
    assert {"TNEF_ATTACHMENT", "MAIL_PASSWORD_IN_BODY"} <= rules_of(node)
    assert "CORE_SCRIPT_NAME" in rules_of(node.children[2])
    f = node.result.features
    assert f["tnef.attachments"] == 2 and f["tnef.embedded_messages"] == 1 and f["tnef.bad_checksums"] == 0


def test_truncated_tnef_is_flagged():
    data = outlook.tnef("body", [("a.txt", b"x" * 100)])[:-40]
    node = analyze(data, "winmail.dat")
    assert Flag.TRUNCATED in node.result.flags


def test_tnef_property_list_bounds():
    view = memoryview(b"\x01\x00\x00\x00" + b"\x1f\x00\x00\x10" + b"\x01\x00\x00\x00" + b"\xff\xff\xff\x7f")
    from maldoc.extractor import Context
    from maldoc.limits import Budget, Limits

    ctx = Context(Limits(), Budget(Limits()))
    try:
        tnef.mapi_props(view, ctx)
    except tnef.TnefError as exc:
        assert "cut short" in str(exc)
    else:
        raise AssertionError("an oversized value length must be refused")
