"""The Microsoft Script Encoder's `#@~^...^#~@` form (.vbe, .jse, encoded ASP/HTA script), undone.

screnc.exe substitutes every printable ASCII character (and tab) through one of three fixed tables,
picking the table by the character's position modulo 64; a few characters are escaped with '@'.
The algorithm and its tables are public (documented since 2000, e.g. Didier Stevens' decode-vbe);
wscript.exe and cscript.exe run the encoded form directly, which is why malware uses it.
`encode()` exists for the synthetic sample generator and the round-trip test.
"""

from __future__ import annotations

import base64
import re

MARK_START = "#@~^"
MARK_END = "^#~@"
MAX_BLOCKS = 16
MAX_CHARS = 8 * 1024 * 1024

# Per table, the decoded character of tab (first) and of each encoded byte 32..127, in order.
_COLUMNS = (
    "572e477a56426a2f26494134325b7672433839704568714f09624423754a7e4a5e40774a615d224b6f4e3b4c50672a7d7454"
    "2b2d2c306e6b66352521644d52633f7b7829287359337f6d55537c3a5f65465831696c5a48275c3d24793760512036",
    "6e2d755260715e495c627d2936207c7a7f6b63332b68516676316454434c3a4c7e4c452c2a7427374479592f6f26726a397b"
    "3f387767534734785d30235a5b6c485570692e4c21244e5009567335614b583b57226d4d2528464a32413d5f4f4265",
    "7b323021295b38333d583a3565395c5673664e456b6259785e7d4a6d714160415340422748727531374d5222546a47642d20"
    "7f2e4c5d7e6c6f797443267625242b28234134092a443f773b55696163506751494f46687c36706e7a2f5f4b5a2c57",
)
# Which table encodes the character at position i (i modulo 64).
_PICK = "0120121221210212020120012210212210021212020012021021200122001202"
_NOT_CODED = frozenset("<>@")  # escaped instead (and '\n', '\r')
_ESCAPES = {"&": "\n", "#": "\r", "*": ">", "!": "<", "$": "@"}
_HEADER = re.compile(r"#@~\^([A-Za-z0-9+/]{6})==")


def _tables() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    decode: list[dict[str, str]] = []
    encode: list[dict[str, str]] = []
    sources = ["\t", *map(chr, range(32, 128))]
    for column in _COLUMNS:
        plain = bytes.fromhex(column).decode("latin-1")
        table = {enc: dec for enc, dec in zip(sources, plain, strict=True) if enc not in _NOT_CODED}
        decode.append(table)
        encode.append({dec: enc for enc, dec in table.items()})
    return decode, encode


_DECODE, _ENCODE = _tables()


def _decode_body(body: str) -> str:
    out: list[str] = []
    index = 0
    chars = iter(body)
    for ch in chars:
        if ch == "@":
            nxt = next(chars, "")
            ch = _ESCAPES.get(nxt, nxt)
            out.append(ch)
            index += 1
            continue
        if ord(ch) < 128:
            out.append(_DECODE[int(_PICK[index % 64])].get(ch, ch))
            index += 1
        else:
            out.append(ch)
    return "".join(out)


def is_encoded(text: str) -> bool:
    return MARK_START in text and _HEADER.search(text) is not None


def decode(text: str) -> tuple[str, int]:
    """`text` with every encoded block replaced by its plain script, and the number of blocks decoded."""
    parts: list[str] = []
    blocks = 0
    pos = 0
    while blocks < MAX_BLOCKS:
        m = _HEADER.search(text, pos)
        if m is None:
            break
        start = m.end()
        try:
            length = int.from_bytes(base64.b64decode(m.group(1) + "=="), "little")
        except ValueError:
            length = -1
        end = start + length if 0 <= length <= MAX_CHARS and text[start + length + 8:start + length + 12] == MARK_END \
            else text.find(MARK_END, start) - 8
        if end < start:
            break
        parts += [text[pos:m.start()], _decode_body(text[start:end])]
        blocks += 1
        pos = end + 8 + len(MARK_END)  # checksum (6 characters and "==") and the end mark
    parts.append(text[pos:])
    return "".join(parts), blocks


def encode(script: str) -> str:
    """The encoded form of `script`, as screnc writes it (checksum included)."""
    out: list[str] = []
    index = 0
    escapes = {v: k for k, v in _ESCAPES.items()}
    for ch in script:
        if ch in escapes:
            out.append("@" + escapes[ch])
        elif ord(ch) < 128:
            out.append(_ENCODE[int(_PICK[index % 64])].get(ch, ch))
        else:
            out.append(ch)
            continue
        index += 1
    body = "".join(out)
    checksum = sum(ord(c) for c in script if ord(c) < 128) % 2**32  # screnc sums the plain characters
    return (f"{MARK_START}{base64.b64encode(len(body).to_bytes(4, 'little')).decode()[:6]}=={body}"
            f"{base64.b64encode(checksum.to_bytes(4, 'little')).decode()[:6]}=={MARK_END}")
