"""Pictures inside a PDF, as files the picture (QR) extractor reads: a bounded raw-bytes scan.

A QR-code lure PDF is one page with one image XObject. Image streams are never inside object
streams, so a scan for `/Subtype /Image` dictionaries and their streams finds them without a
parse: DCTDecode streams are JPEG files as they are; 8-bit and 1-bit FlateDecode streams become
PNG files (with PNG predictors the stream already is PNG image data and is wrapped as it is;
without, rows are re-filtered and recompressed). Other filters and colour spaces are skipped.
Encrypted PDFs are skipped too (their streams are ciphertext). QR codes drawn as vector paths
are not pictures and are not seen here.

The PDF extractor calls `pdf_images(sample.data, ctx)` and emits each result with `ctx.emit`.
"""

from __future__ import annotations

import re
import struct
import zlib

from maldoc.extractor import Context

MAX_IMAGES = 8
MAX_SCANNED = 256  # image dictionaries looked at
MAX_PIXELS = 4096 * 4096
DICT_BACK = 2048  # bytes before /Subtype /Image searched for the dictionary's other keys
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_STREAM = re.compile(rb"stream\r?\n")
_INT = {k: re.compile(rb"/" + k + rb"\s+(\d{1,6})\b") for k in (b"Width", b"Height", b"BitsPerComponent",
                                                                 b"Predictor", b"Colors", b"Length")}
_LENGTH_REF = re.compile(rb"/Length\s+\d+\s+\d+\s+R")


def _int(key: bytes, text: bytes) -> int | None:
    m = _INT[key].search(text)
    return int(m.group(1)) if m else None


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(width: int, height: int, depth: int, colour: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _flate_png(head: bytes, raw: bytes, width: int, height: int) -> bytes | None:
    depth = _int(b"BitsPerComponent", head) or (1 if b"/ImageMask true" in head else 8)
    gray = b"/DeviceGray" in head or b"/ImageMask true" in head or b"/CalGray" in head
    comps = 1 if gray else 3 if (b"/DeviceRGB" in head or b"/CalRGB" in head) else 0
    predictor = _int(b"Predictor", head) or 1
    if predictor >= 10:  # the stream is PNG image data already: filter byte per row, then zlib
        colours = _int(b"Colors", head) or comps or 1
        if colours not in (1, 3) or depth not in (1, 8):
            return None
        return _png(width, height, depth, 0 if colours == 1 else 2, raw)
    row = (width * depth + 7) // 8
    if depth not in (1, 8):
        return None
    try:
        pixels = zlib.decompressobj().decompress(raw, row * 3 * height + 1)
    except zlib.error:
        return None
    if not comps:  # ICC-based or indexed: tell grey from RGB by the size
        comps = 1 if len(pixels) == row * height else 3 if len(pixels) == row * 3 * height else 0
    row *= comps if depth == 8 else 1
    if not comps or len(pixels) < row * height or (depth == 1 and comps != 1):
        return None
    rows = b"".join(b"\x00" + pixels[i * row:(i + 1) * row] for i in range(height))
    return _png(width, height, depth, 0 if comps == 1 else 2, zlib.compress(rows, 1))


def pdf_images(data: bytes, ctx: Context) -> list[tuple[str, bytes]]:
    """Up to MAX_IMAGES pictures of the PDF as (name, JPEG or PNG bytes)."""
    if b"/Encrypt" in data:
        return []
    found: list[tuple[str, bytes]] = []
    for i, m in enumerate(_IMAGE.finditer(data)):
        ctx.check()
        if i >= MAX_SCANNED or len(found) >= MAX_IMAGES:
            break
        stream = _STREAM.search(data, m.end(), m.end() + DICT_BACK)
        if stream is None:
            continue
        head = data[max(0, m.start() - DICT_BACK):stream.start()]
        head = head[head.rfind(b" obj") + 1:] if b" obj" in head else head  # this object's dictionary only
        width, height = _int(b"Width", head), _int(b"Height", head)
        if not width or not height or width * height > MAX_PIXELS:
            continue
        length = None if _LENGTH_REF.search(head) else _int(b"Length", head)
        start = stream.end()
        end = start + length if length is not None and data[start + length:start + length + 12].lstrip().startswith(
            b"endstream") else data.find(b"endstream", start)
        if end <= start:
            continue
        raw = data[start:end]
        if b"/DCTDecode" in head and raw.startswith(b"\xff\xd8"):
            found.append((f"image-{len(found) + 1}.jpg", raw))
        elif b"/FlateDecode" in head and b"/DCTDecode" not in head:
            png = _flate_png(head, raw, width, height)
            if png is not None:
                found.append((f"image-{len(found) + 1}.png", png))
    return found
