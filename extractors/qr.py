"""Pictures (PNG, JPEG, GIF, BMP): QR codes decoded, their links handed to the URL extractor.

"Quishing" lures put the only link of a PDF, a mail or a page into a QR code, so no text URL
exists for a filter to read and the victim opens it on a phone, outside the company's
protection. Pictures reach this extractor as attachments, as mail parts and as children that
other extractors emit (data: URIs of HTML and SVG pages, images of PDFs and Office files).

Decoded with zxing-cpp (a wheel, no system library) on a Pillow-decoded greyscale copy; bounded
in pixels (larger pictures are counted, not decoded) and in codes per picture. Pillow's
decompression-bomb checks stay on; its warnings are silenced. A picture that does not decode is
counted (`qr.unreadable`) and noted in the errors, not flagged: stub pictures are common in documents.
"""

from __future__ import annotations

import io
import math
import warnings

from maldoc.extractor import Context, Extractor
from maldoc.extractors.urls import find_urls
from maldoc.filetype import Probe, TypeSpec
from maldoc.types import ExtractorResult, FileType, Sample

MAX_PIXELS = 4096 * 4096
MAX_CODES = 16  # codes read per picture
MAX_TEXT = 4096  # characters of one code kept for URL search
_SCHEMES = ("http://", "https://", "www.", "hxxp")


def _is_png(p: Probe) -> bool:
    return p.data.startswith(b"\x89PNG\r\n\x1a\n")


def _is_jpeg(p: Probe) -> bool:
    return p.data.startswith(b"\xff\xd8\xff")


def _is_gif(p: Probe) -> bool:
    return p.data.startswith((b"GIF87a", b"GIF89a"))


def _is_bmp(p: Probe) -> bool:  # the same test the mail sniffer uses: reserved fields zero
    return p.data.startswith(b"BM") and p.data[6:10] == b"\x00\x00\x00\x00" and len(p.data) > 26


TYPES = {"image_png": FileType("image_png"), "image_jpeg": FileType("image_jpeg"),
         "image_gif": FileType("image_gif"), "image_bmp": FileType("image_bmp")}


def decode_codes(data: bytes, ctx: Context) -> tuple[list[str], int, str]:
    """(texts of the QR codes, pixel count, '' or why the picture was not read)."""
    # Imported on first use: the registry imports every extractor, and most scans see no picture.
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
            pixels = image.width * image.height
            if pixels > MAX_PIXELS:
                return [], pixels, "too_large"
            image.draft("L", image.size)  # JPEG: decode straight to greyscale
            grey = image.convert("L")
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return [], 0, f"unreadable picture: {type(exc).__name__}"
    ctx.check()
    try:
        codes = zxingcpp.read_barcodes(grey, formats=(zxingcpp.BarcodeFormat.QRCode,
                                                      zxingcpp.BarcodeFormat.MicroQRCode))
    except (RuntimeError, ValueError) as exc:
        return [], pixels, f"code reader failed: {type(exc).__name__}"
    texts = [c.text[:MAX_TEXT] for c in codes[:MAX_CODES] if c.valid and c.text]
    return texts, pixels, ""


class QrExtractor(Extractor):
    name = "qr"
    version = 1
    detects = (
        TypeSpec("image_png", _is_png, 13, "png", "PNG picture"),
        TypeSpec("image_jpeg", _is_jpeg, 14, "jpg", "JPEG picture"),
        TypeSpec("image_gif", _is_gif, 15, "gif", "GIF picture"),
        TypeSpec("image_bmp", _is_bmp, 16, "bmp", "BMP picture"),
    )
    file_types = frozenset(TYPES.values())
    features = ("decoded", "unreadable", "too_large", "pixels_log2", "codes", "urls", "text_codes")
    rules = ("QR_URL",)

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        texts, pixels, problem = decode_codes(sample.data, ctx)
        f = out.features
        unreadable = bool(problem) and problem != "too_large"
        f.update({"qr.decoded": float(not problem), "qr.too_large": float(problem == "too_large"),
                  "qr.unreadable": float(unreadable),
                  "qr.pixels_log2": math.log2(pixels + 1), "qr.codes": float(len(texts))})
        if unreadable:  # stub and truncated pictures are common in documents: noted, not a parse failure
            out.errors.append(f"qr: {problem}")
        urls: list[str] = []
        for text in texts:
            found = find_urls(text, 8)
            if not found and text.strip().lower().startswith(_SCHEMES[2:]):
                found = ["http://" + text.strip().split()[0]]
            urls += [u for u in found if u not in urls]
        f["qr.urls"] = float(len(urls))
        f["qr.text_codes"] = float(sum(1 for t in texts if not find_urls(t, 1)))
        out.urls.extend(urls)
        for url in urls[:4]:
            out.add("QR_URL", url, sample.display_path)
