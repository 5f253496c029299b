"""QR-code templates: a one-page PDF and a mail whose only link is a QR code ("quishing"), and
ordinary pictures (a QR code to a well-known site, a plain graphic)."""

from __future__ import annotations

import random

from maldoc.samples import mail, text
from maldoc.samples.pdf import PDF, literal, text_page_content
from maldoc.samples.qr import png, qr_pixels, qr_png
from maldoc.samples.registry import template

_ASKS = ("Scan the QR code with your phone to review the document.",
         "Your mailbox password expires today. Scan the code below to keep it.",
         "Multi-factor authentication must be renewed: scan the QR code to continue.",
         "A secure file was shared with you. Scan to view it on your mobile device.")


def _lure_url(rng: random.Random) -> str:
    return f"{text.inert_url(rng, ext=rng.choice(('', '.php', '.html')))}?e={text.ident(rng, 6, 12).lower()}"


@template("qr_pdf_lure", "malicious", "pdf",
          note="one page of text and one QR image, no link annotation anywhere (qr_url once the PDF extractor "
               "emits its pictures: extractors/_pdf_images.py)")
def qr_pdf_lure(rng: random.Random) -> tuple[str, bytes]:
    width, height, grey = qr_pixels(_lure_url(rng), scale=rng.choice((3, 4, 5)))
    pdf = PDF()
    catalog, pages, page = pdf.reserve(), pdf.reserve(), pdf.reserve()
    font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    image = pdf.stream(grey, f"/Type /XObject /Subtype /Image /Width {width} /Height {height} "
                             "/ColorSpace /DeviceGray /BitsPerComponent 8")
    lines = [rng.choice(text.COMPANIES), rng.choice(_ASKS), text.lure(rng)[:85]]
    draw = text_page_content(lines) + f"\nq {width} 0 0 {height} 180 300 cm /Im1 Do Q".encode()
    content = pdf.stream(draw)
    pdf.set(page, f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font}"
                  f" 0 R >> /XObject << /Im1 {image} 0 R >> >> /Contents {content} 0 R >>")
    pdf.set(pages, f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>")
    pdf.set(catalog, f"<< /Type /Catalog /Pages {pages} 0 R >>")
    info = pdf.add(f"<< /Producer {literal('Microsoft Word')} /Title {literal(text.stem(rng))} >>")
    return text.stem(rng), pdf.to_bytes(catalog, info)


@template("qr_mail_lure", "malicious", "eml", ("qr_url", "email_attachment"),
          note="mail with no link in its text, only a QR-code picture attached")
def qr_mail_lure(rng: random.Random) -> tuple[str, bytes]:
    brand = rng.choice(("IT Service Desk", "Microsoft 365", "Payroll", "DocuSign"))
    sender = f'"{brand}" <no-reply@{text.host(rng, bad=True)}>'
    to = f"{rng.choice(text.PEOPLE).split()[0].lower()}@{rng.choice(text.RESERVED_NAMES)}"
    body = f"Hello,\n\n{rng.choice(_ASKS)}\n\n{brand}\n"
    data = mail.message(rng, sender=sender, to=to, subject=rng.choice(_ASKS)[:50], body=body,
                        attachments=[(f"{text.ident(rng, 4, 8).lower()}.png", qr_png(_lure_url(rng)))])
    return text.stem(rng), data


@template("qr_image_benign", "benign", "png", ("qr_url",), note="QR code to an ordinary https page (a menu, a survey)")
def qr_image_benign(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), qr_png(text.inert_url(rng, bad=False), scale=rng.choice((2, 3, 4)))


@template("image_plain", "benign", "png", note="a plain graphic: gradient bands, no code")
def image_plain(rng: random.Random) -> tuple[str, bytes]:
    w, h = rng.choice(((64, 64), (160, 90), (200, 120)))
    step = rng.randint(1, 6)
    grey = bytes(((x * step + y) % 256) for y in range(h) for x in range(w))
    return text.stem(rng), png(w, h, grey)
