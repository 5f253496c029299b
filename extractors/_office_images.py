"""Pictures of an OOXML package worth reading for QR codes: the parts under `*/media/`.

A QR-code lure in Word or Excel is a picture part (word/media/image1.png). The OOXML extractor
emits what `media_pictures` names through `ctx.emit`; at most MAX_PICTURES, PNG/JPEG/GIF/BMP only
(EMF/WMF hold vector drawings zxing cannot read), largest first since a code is rarely a thumbnail.
"""

from __future__ import annotations

from zipfile import ZipInfo

MAX_PICTURES = 8
MAX_PICTURE_BYTES = 16 * 1024 * 1024
_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def media_pictures(infos: dict[str, ZipInfo]) -> list[str]:
    """Names of the picture parts to emit, largest first, bounded in count and size."""
    pictures = [i for n, i in infos.items() if "media/" in n.lower() and n.lower().endswith(_EXTENSIONS)
                and 0 < i.file_size <= MAX_PICTURE_BYTES]
    pictures.sort(key=lambda i: (-i.file_size, i.filename))
    return [i.filename for i in pictures[:MAX_PICTURES]]
