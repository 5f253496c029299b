"""Picture (QR) extractor: codes decoded from every picture format, bounds, and the routes pictures take
to it (mail parts, data: URIs in HTML and SVG, PDF image streams through _pdf_images)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from maldoc.engine import analyze
from maldoc.extractor import Context
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors._pdf_images import pdf_images
from maldoc.filetype import detect
from maldoc.limits import Budget, Limits
from maldoc.samples.generate import build
from maldoc.samples.qr import png, qr_pixels, qr_png
from maldoc.samples.registry import TEMPLATES
from maldoc.types import FileType

URL = "https://login.example.test/mfa?u=alex"


def rules(node) -> set[str]:
    return {f.rule_id for n in node.walk() for f in n.result.findings}


@pytest.mark.parametrize(("fmt", "type_name", "label"), [
    ("PNG", "image_png", "png"), ("JPEG", "image_jpeg", "jpg"), ("GIF", "image_gif", "gif"),
    ("BMP", "image_bmp", "bmp")])
def test_every_format_is_decoded(fmt, type_name, label):
    w, h, grey = qr_pixels(URL, scale=4)
    buf = io.BytesIO()
    Image.frombytes("L", (w, h), grey).save(buf, fmt)
    data = buf.getvalue()
    assert detect(data) is FileType(type_name) and sniff.kind(data) == label
    node = analyze(data, "code." + label)
    assert "QR_URL" in rules(node) and URL in node.result.urls
    assert node.result.features["qr.urls"] == 1 and node.result.features["qr.decoded"] == 1


def test_picture_without_a_code():
    node = analyze(png(32, 32, bytes(range(256)) * 4), "a.png")
    assert node.result.features["qr.codes"] == 0 and not rules(node)


def test_text_code_is_counted_not_a_url():
    node = analyze(qr_png("WIFI:S:guest;T:WPA;P:inert;;"), "wifi.png")
    assert node.result.features["qr.text_codes"] == 1 and node.result.features["qr.urls"] == 0


def test_too_many_pixels_is_counted_not_decoded():
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    side = 5000  # over the 4096 x 4096 bound; all-zero rows compress to a few KiB
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes((side + 1) * side))) + chunk(b"IEND", b""))
    node = analyze(data, "big.png")
    assert node.result.features["qr.too_large"] == 1 and node.result.features["qr.decoded"] == 0
    assert not node.result.errors


def test_broken_picture_is_a_flag():
    node = analyze(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "bad.png")
    assert node.result.errors and node.result.features["qr.unreadable"] == 1 and not node.result.flags


def test_mail_with_only_a_qr_picture():
    sample = build(TEMPLATES["qr_mail_lure"], 3, 0)
    node = analyze(sample.data, sample.name)
    assert "QR_URL" in rules(node)
    assert node.result.features["mail.body_urls"] == 0  # the lure shape: the only link is the code


def test_data_uri_pictures_in_html_and_svg_become_children():
    uri = "data:image/png;base64," + base64.b64encode(qr_png(URL)).decode()
    page = f'<!DOCTYPE html><html><body><img src="{uri}"></body></html>'.encode()
    node = analyze(page, "a.html")
    assert [c.file_type for c in node.children] == [FileType("image_png")] and "QR_URL" in rules(node)
    drawing = f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{uri}"/></svg>'.encode()
    assert "QR_URL" in rules(analyze(drawing, "a.svg"))


def test_pdf_image_streams_are_pictures_the_qr_extractor_reads():
    sample = build(TEMPLATES["qr_pdf_lure"], 3, 0)
    images = pdf_images(sample.data, Context(Limits(), Budget(Limits())))
    assert [name for name, _ in images] == ["image-1.png"]
    node = analyze(images[0][1], images[0][0])
    assert "QR_URL" in rules(node) and node.result.urls[0].startswith("http")


def test_pdf_jpeg_stream_is_returned_as_is():
    w, h, grey = qr_pixels(URL)
    buf = io.BytesIO()
    Image.frombytes("L", (w, h), grey).save(buf, "JPEG")
    jpeg = buf.getvalue()
    pdf = (b"%%PDF-1.7\n1 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
           b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % (w, h, len(jpeg))
           + jpeg + b"\nendstream\nendobj\n%EOF\n")
    assert pdf_images(pdf, Context(Limits(), Budget(Limits()))) == [("image-1.jpg", jpeg)]


def test_office_media_pictures_are_named_largest_first():
    import zipfile

    from maldoc.extractors._office_images import media_pictures

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/media/image1.png", qr_png(URL, scale=2))
        zf.writestr("word/media/image2.png", qr_png(URL, scale=6))
        zf.writestr("word/media/image3.emf", b"\x01\x00\x00\x00" + bytes(60))
    with zipfile.ZipFile(buf) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert media_pictures(infos) == ["word/media/image2.png", "word/media/image1.png"]
