"""QR-code pictures for the generator: zxing-cpp draws the code, the PNG is written here (deterministic)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import zxingcpp


def qr_pixels(content: str, scale: int = 4) -> tuple[int, int, bytes]:
    """(width, height, 8-bit grey pixels, rows top to bottom) of a QR code holding `content`."""
    code = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode)
    pixels = np.asarray(code.to_image(scale=scale, add_quiet_zones=True), dtype=np.uint8)
    return pixels.shape[1], pixels.shape[0], pixels.tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width: int, height: int, grey: bytes) -> bytes:
    rows = b"".join(b"\x00" + grey[y * width:(y + 1) * width] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b""))


def qr_png(content: str, scale: int = 4) -> bytes:
    return png(*qr_pixels(content, scale))
