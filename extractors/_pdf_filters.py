"""Bounded PDF stream filters.

pdfminer's own `PDFStream.decode` inflates without a size limit, so a 1 MB Flate bomb would
become a gigabyte. These decoders stop at `cap` output bytes and report why they stopped; the
caller reserves what it keeps with `ctx.budget.allow_inflate`. Image codecs (DCT, JPX, JBIG2,
CCITT) are never decoded: nothing a scanner needs lives inside pixels.
"""

from __future__ import annotations

import zlib
from io import BytesIO
from typing import Any

from pdfminer.ascii85 import ascii85decode, asciihexdecode
from pdfminer.lzw import LZWDecoder
from pdfminer.psparser import PSLiteral
from pdfminer.utils import apply_png_predictor

FLATE = frozenset({"FlateDecode", "Fl"})
LZW = frozenset({"LZWDecode", "LZW"})
A85 = frozenset({"ASCII85Decode", "A85"})
AHX = frozenset({"ASCIIHexDecode", "AHx"})
RL = frozenset({"RunLengthDecode", "RL"})
IMAGE = frozenset({"DCTDecode", "DCT", "JPXDecode", "JBIG2Decode", "CCITTFaxDecode", "CCF"})
MAX_FILTERS = 8  # real files chain two at most; long chains are a decoder-exhaustion trick

OK, CAPPED, UNSUPPORTED, ERROR = "ok", "capped", "unsupported", "error"


def name_of(value: Any) -> str:
    if isinstance(value, PSLiteral):
        return value.name if isinstance(value.name, str) else value.name.decode("latin-1")
    return ""


def filters_of(attrs: dict) -> tuple[list[str], list[Any]]:
    """Filter names and their parameter dicts, aligned; names outside the spec kept as given."""
    raw = attrs.get("Filter", attrs.get("F"))
    params = attrs.get("DecodeParms", attrs.get("DP"))
    names = raw if isinstance(raw, list) else [] if raw is None else [raw]
    plist = params if isinstance(params, list) else [params] * len(names)
    plist = (plist + [None] * len(names))[: len(names)]
    return [name_of(n) or "?" for n in names], plist


def inflate(data: bytes, cap: int) -> tuple[bytes, str]:
    """zlib with an output cap. A corrupt stream keeps its output up to the damage (as Acrobat
    does): the failing piece is re-fed in ever smaller pieces from a copy of the state before it."""
    d = zlib.decompressobj()
    out = bytearray()
    pos, step = 0, 1 << 16
    while pos < len(data):
        piece = data[pos:pos + step]
        saved = d.copy()
        try:
            out += d.decompress(piece, cap - len(out) + 1)
        except zlib.error:
            if step == 1:
                return bytes(out), OK if out else ERROR
            d, step = saved, max(1, step // 16)
            continue
        pos += len(piece)
        if len(out) > cap or d.unconsumed_tail:
            return bytes(out[:cap]), CAPPED
        if d.eof:
            break
    return bytes(out), OK


def _lzw(data: bytes, cap: int) -> tuple[bytes, str]:
    out = bytearray()
    try:
        for chunk in LZWDecoder(BytesIO(data)).run():
            out += chunk
            if len(out) > cap:
                return bytes(out[:cap]), CAPPED
    except (TypeError, IndexError, EOFError, ValueError):  # corrupt code tables
        pass
    return bytes(out), OK


def _runlength(data: bytes, cap: int) -> tuple[bytes, str]:
    out = bytearray()
    i = 0
    while i < len(data) and len(out) <= cap:
        n = data[i]
        if n == 128:
            break
        if n < 128:
            out += data[i + 1:i + 2 + n]
            i += n + 2
        else:
            out += data[i + 1:i + 2] * (257 - n)
            i += 2
    return (bytes(out[:cap]), CAPPED) if len(out) > cap else (bytes(out), OK)


def _predict(data: bytes, params: Any) -> bytes:
    if not isinstance(params, dict):
        return data
    pred = params.get("Predictor", 1)
    if not isinstance(pred, int) or pred < 10:
        return data  # TIFF predictor 2 only appears on images
    cols, colors, bpc = params.get("Columns", 1), params.get("Colors", 1), params.get("BitsPerComponent", 8)
    if not all(isinstance(v, int) and 0 < v <= 1 << 16 for v in (cols, colors, bpc)):
        return data
    return apply_png_predictor(pred, colors, cols, bpc, data)


def decode(attrs: dict, raw: bytes, cap: int) -> tuple[bytes | None, str]:
    """Apply the stream's filters, producing at most `cap` bytes. None when not decodable."""
    names, params = filters_of(attrs)
    if len(names) > MAX_FILTERS:
        return None, UNSUPPORTED
    data = raw
    status = OK
    for name, param in zip(names, params, strict=True):
        if name in IMAGE:
            return None, UNSUPPORTED
        if name in FLATE:
            data, status = inflate(data, cap)
        elif name in LZW:
            data, status = _lzw(data, cap)
        elif name in A85:
            data = ascii85decode(data)
        elif name in AHX:
            data = asciihexdecode(data)
        elif name in RL:
            data, status = _runlength(data, cap)
        else:
            return None, UNSUPPORTED
        if status == ERROR:
            return None, ERROR
        try:
            data = _predict(data, param)
        except (ValueError, IndexError, TypeError, ZeroDivisionError):
            return None, ERROR
        if len(data) > cap:
            data, status = data[:cap], CAPPED
        if status == CAPPED:
            break
    return data, status
