"""What Outlook's containers (TNEF winmail.dat, .msg) hand to the scan: bodies, attachments, passwords.

Both formats carry the same MAPI message: a plain-text body, an HTML body, a compressed RTF body
and attachments (files, or embedded messages). The bodies are scanned as children (the RTF one
decompressed), their URLs are collected and the archive passwords they announce go to the engine
for the attachments, as for an e-mail. Property tags are MS-OXPROPS'.
"""

from __future__ import annotations

from dataclasses import dataclass

from maldoc.extractor import Context
from maldoc.extractors._mail_text import find_passwords, html_text
from maldoc.extractors.urls import find_urls
from maldoc.types import ExtractorResult, Flag, Sample

PR_SUBJECT = 0x0037
PR_TRANSPORT_HEADERS = 0x007D
PR_BODY = 0x1000
PR_RTF_COMPRESSED = 0x1009
PR_BODY_HTML = 0x1013
PR_SENDER_EMAIL = 0x0C1F
PR_ATTACH_DATA = 0x3701
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_DISPLAY_NAME = 0x3001
MAX_BODY_CHARS = 2 * 1024 * 1024
MAX_RTF_OUT = 16 * 1024 * 1024


@dataclass(slots=True)
class Bodies:
    text: str = ""
    html: bytes = b""
    rtf: bytes = b""  # compressed (LZFu) as stored


def decompress_rtf(blob: bytes, out: ExtractorResult, prefix: str) -> bytes | None:
    """The RTF of a PR_RTF_COMPRESSED value (MS-OXRTFCP), bounded by its declared size."""
    if len(blob) < 16:
        return None
    raw_size = int.from_bytes(blob[4:8], "little")
    if raw_size > MAX_RTF_OUT:
        out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: compressed RTF body declares more than {MAX_RTF_OUT} bytes")
        return None
    try:
        from compressed_rtf import decompress

        return decompress(blob + b"\x00")[:raw_size + 1024]
    except ImportError:
        out.flag(Flag.UNSUPPORTED, f"{prefix}: compressed_rtf unavailable, RTF body not read")
    except Exception:  # the package raises bare Exceptions on a bad header or CRC
        out.flag(Flag.PARSE_ERROR, f"{prefix}: compressed RTF body is corrupt")
    return None


def deliver_bodies(ctx: Context, out: ExtractorResult, sample: Sample, bodies: Bodies, *, prefix: str,
                   stem: str = "") -> tuple[int, list[str]]:
    """Emit the bodies as children; return (bodies emitted, passwords announced)."""
    emitted = 0
    texts: list[str] = []
    if bodies.text.strip():
        data = bodies.text.encode("utf-8", "replace")
        emitted += ctx.emit(out, sample, data, f"{stem}body.txt")
        texts.append(bodies.text[:MAX_BODY_CHARS])
    if bodies.html.strip():
        emitted += ctx.emit(out, sample, bodies.html, f"{stem}body.html")
        texts.append(html_text(bodies.html[:MAX_BODY_CHARS].decode("utf-8", "replace")))
    if bodies.rtf:
        rtf = decompress_rtf(bodies.rtf, out, prefix)
        if rtf:
            emitted += ctx.emit(out, sample, rtf, f"{stem}body.rtf")
    text = "\n".join(texts)
    for url in find_urls(text, namespaces=False):
        if url not in out.urls:
            out.urls.append(url)
    passwords = find_passwords(text)
    out.passwords.extend(p for p in passwords if p not in out.passwords)
    return emitted, passwords
