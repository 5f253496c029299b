"""RFC 5322 messages with attachments, deterministic: fixed Message-ID, Date and MIME boundaries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

MIME_TYPES = {
    ".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".rtf": "application/rtf",
    ".pdf": "application/pdf", ".zip": "application/zip", ".html": "text/html", ".htm": "text/html",
    ".one": "application/onenote", ".png": "image/png", ".svg": "image/svg+xml",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docm": "application/vnd.ms-word.document.macroEnabled.12",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
}


def message(rng: random.Random, *, sender: str, to: str, subject: str, body: str,
            attachments: list[tuple[str, bytes]] = (), html: str = "") -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    when = datetime(2023, 1, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 600))
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{sender.split('@')[-1].rstrip('>')}>"
    msg["MIME-Version"] = "1.0"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        ext = name[name.rfind("."):].lower() if "." in name else ""
        maintype, subtype = MIME_TYPES.get(ext, "application/octet-stream").split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    n = 0
    for part in msg.walk():  # boundaries from the seed, not from the clock and the PRNG
        if part.is_multipart():
            n += 1
            part.set_boundary(f"=_maldoc_{rng.getrandbits(48):012x}_{n}")
    return msg.as_bytes(policy=policy.SMTP)
