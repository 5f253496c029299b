"""What a web page or an SVG carries inline that deserves its own analysis: SVG images and pictures.

An HTML page may hold an inline `<svg>` with its own script, `foreignObject` and animated
`javascript:` links; a page, an SVG or a mail body may hold its lure as a picture in a `data:`
URI (a QR code whose link appears nowhere as text). Both are handed to the scan as children, so
the SVG extractor and the image (QR) extractor read them. Bounded in count and size; pictures
are decoded only when they are a format the image extractor reads.
"""

from __future__ import annotations

import base64
import binascii
import re

from maldoc.extractor import Context
from maldoc.types import ExtractorResult, Sample

MAX_SVGS = 4
MAX_SVG_CHARS = 4 * 1024 * 1024
MAX_IMAGES = 8
MAX_IMAGE_CHARS = 12 * 1024 * 1024  # base64 characters of one picture (9 MiB decoded)
MIN_IMAGE_CHARS = 200  # smaller pictures are spacers and icons, not readable codes

_SVG_OPEN = re.compile(r"<svg[\s>/]", re.I)
_SVG_CLOSE = re.compile(r"</svg\s*>", re.I)
_ACTIVE = re.compile(r"<script|<foreignobject|javascript:|\son[a-z]{3,30}\s*=|<animate|<set[\s/>]", re.I)
_IMAGE_URI = re.compile(r"data:image/(png|jpe?g|gif|bmp)\s*;\s*base64\s*,\s*", re.I)
_B64_RUN = re.compile(rf"[A-Za-z0-9+/\s]{{1,{MAX_IMAGE_CHARS}}}={{0,2}}")
_EXT = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "gif": "gif", "bmp": "bmp"}
_ROOT_SVG = re.compile(r"\A\s*(?:<\?[^>]{0,500}\?>\s*|<!--.{0,4000}?-->\s*|<!DOCTYPE[^\[>]{0,500}(?:\[.{0,60000}?\])?"
                       r"\s*>\s*){0,16}<(?:\w{1,20}:)?svg[\s>/]", re.I | re.S)


def is_svg_text(text: str) -> bool:
    """True when the document's first element is an <svg> root."""
    return _ROOT_SVG.match(text[:65536]) is not None


def emit_inline(sample: Sample, text: str, ctx: Context, out: ExtractorResult) -> None:
    """Emit active inline SVGs (not the document's own root) and data: URI pictures as children."""
    if not is_svg_text(text):
        _svgs(sample, text, ctx, out)
    _images(sample, text, ctx, out)


def _svgs(sample: Sample, text: str, ctx: Context, out: ExtractorResult) -> None:
    emitted = 0
    pos = 0
    while emitted < MAX_SVGS:
        ctx.check()
        start = _SVG_OPEN.search(text, pos)
        if start is None:
            return
        end = _SVG_CLOSE.search(text, start.end(), start.start() + MAX_SVG_CHARS)
        stop = end.end() if end else min(len(text), start.start() + MAX_SVG_CHARS)
        block = text[start.start():stop]
        pos = stop
        if _ACTIVE.search(block):
            emitted += 1
            ctx.emit(out, sample, block.encode("utf-8", "replace"), f"inline-{emitted}.svg")
        if end is None:
            return


def _images(sample: Sample, text: str, ctx: Context, out: ExtractorResult) -> None:
    emitted = 0
    for i, m in enumerate(_IMAGE_URI.finditer(text)):
        if i % 16 == 0:
            ctx.check()
        run = _B64_RUN.match(text, m.end())
        blob = re.sub(r"\s+", "", run.group(0)) if run else ""
        if len(blob) < MIN_IMAGE_CHARS:
            continue
        try:
            data = base64.b64decode(blob[: len(blob) - len(blob) % 4])
        except (binascii.Error, ValueError):
            continue
        emitted += 1
        if not ctx.emit(out, sample, data, f"inline-image-{emitted}.{_EXT[m.group(1).lower()]}"):
            return
        if emitted >= MAX_IMAGES:
            return
