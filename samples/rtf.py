"""RTF documents with embedded OLE 1.0 objects (\\object ... \\objdata), as exploit documents carry.

`ole1` builds the [MS-OLEDS] 2.2 ObjectHeader + native data that rtfobj/oleobj parse; `package`
the OLE Package native data (label, source path, temp path, file bytes) that drops a file
named like a script when the user double-clicks the icon; `equation_native` and `ole2link_native`
small CFB containers with the class-specific streams (placeholder content, nothing exploitable).
"""

from __future__ import annotations

import random
import struct

from maldoc.samples import cfb

CLSID_EQUATION3 = "{0002CE02-0000-0000-C000-000000000046}"
CLSID_STDOLELINK = "{00000300-0000-0000-C000-000000000046}"
CLSID_URL_MONIKER = "{79EAC9E0-BAF9-11CE-8C82-00AA004BA90B}"


def _lp_ansi(s: str) -> bytes:
    raw = s.encode("cp1252") + b"\0" if s else b""
    return struct.pack("<I", len(raw)) + raw


def ole1(class_name: str, native: bytes, *, topic: str = "", item: str = "") -> bytes:
    """An embedded OLE1 object: version, FormatID 2, class/topic/item names, native data."""
    return (struct.pack("<II", 0x00000501, 2) + _lp_ansi(class_name) + _lp_ansi(topic) + _lp_ansi(item)
            + struct.pack("<I", len(native)) + native)


def package(label: str, src_path: str, temp_path: str, data: bytes) -> bytes:
    """OLE Package native data (the 'Packager Shell Object')."""
    return (struct.pack("<H", 2) + label.encode("cp1252") + b"\0" + src_path.encode("cp1252") + b"\0"
            + struct.pack("<HHI", 0, 3, len(temp_path) + 1) + temp_path.encode("cp1252") + b"\0"
            + struct.pack("<I", len(data)) + data)


def equation_native(rng: random.Random) -> bytes:
    """A CFB holding an 'Equation Native' stream: EQNOLEFILEHDR + a harmless MTEF header."""
    mtef = bytes([3, 1, 1, 3, 10]) + b"\x0a" + bytes(rng.randrange(32, 127) for _ in range(24))
    hdr = struct.pack("<HIHIIII", 28, 0x00020000, 0xC1, len(mtef), 0, 0, 0)[:28]
    return cfb.write({"Equation Native": hdr + mtef, "\x01CompObj": b"\x01\x00\xfe\xff" + b"\0" * 24},
                     root_clsid=CLSID_EQUATION3)


def ole2link_native(url: str) -> bytes:
    """A CFB with an '\\x01Ole' stream whose absolute moniker is a URL moniker to `url`."""
    moniker = cfb.clsid(CLSID_URL_MONIKER) + struct.pack("<I", 2 * len(url) + 2) + url.encode("utf-16-le") + b"\0\0"
    ole = struct.pack("<IIII", 0x02000001, 1, 1, 0) + struct.pack("<I", 0) + struct.pack("<I", 0)
    ole += struct.pack("<I", len(moniker)) + moniker + struct.pack("<I", 0xFFFFFFFF) + b"\0" * 16
    return cfb.write({"\x01Ole": ole}, root_clsid=CLSID_STDOLELINK)


def _hex_lines(data: bytes, rng: random.Random, *, noisy: bool) -> str:
    text = data.hex()
    if noisy:  # upper/lower mix and blank padding, as obfuscated samples do
        text = "".join(c.upper() if rng.random() < 0.5 else c for c in text)
    width = rng.choice((64, 128, 254))
    lines = [text[i:i + width] for i in range(0, len(text), width)]
    sep = "\r\n " if noisy else "\r\n"
    return sep.join(lines)


def object_group(obj: bytes, class_name: str, rng: random.Random, *, link: bool = False, update: bool = False,
                 noisy: bool = False) -> str:
    kind = "\\objautlink" if link else "\\objemb"
    upd = "\\objupdate" if update else ""
    return (f"{{\\object{kind}{upd}\\objw1440\\objh480{{\\*\\objclass {class_name}}}"
            f"{{\\*\\objdata {_hex_lines(obj, rng, noisy=noisy)}}}"
            "{\\result{\\pict\\wmetafile8\\picw10\\pich10 0100090000030000000000000000}}}")


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")


def document(paragraphs: list[str], objects: list[str], *, header: str = "{\\rtf1") -> bytes:
    body = "".join(f"\\pard {_esc(p)}\\par\r\n" for p in paragraphs)
    rtf = (f"{header}\\ansi\\ansicpg1252\\deff0{{\\fonttbl{{\\f0\\fswiss Calibri;}}}}\r\n"
           f"{{\\info{{\\title Document}}}}\r\n{body}" + "\r\n".join(objects) + "\r\n}")
    return rtf.encode("cp1252", "replace")
