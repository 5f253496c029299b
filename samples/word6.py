"""Word 6.0/95 documents: a FIB of that version and, for macro documents, a command table naming macros.

WordBasic macro bodies are tokenised and are not generated here (the extractor reads the macro
names only); the table holds the names as Word stores them, length-prefixed, with inert filler.
"""

from __future__ import annotations

import struct

from maldoc.samples import cfb

CLSID_WORD6 = "{00020900-0000-0000-C000-000000000046}"
FIB_SIZE = 0x180
TEXT_AT = 0x300


def document(text: str, macro_names: list[str] = (), *, template: bool = False, nfib: int = 101) -> bytes:
    body = text.replace("\n", "\r").encode("cp1252", "replace") + b"\r"
    table = b""
    if macro_names:
        table = b"\xff\x01" + b"".join(bytes([len(n)]) + n.encode("ascii") + b"\x00\x00" for n in macro_names)
    cmds_at = TEXT_AT + len(body) + 16
    fib = bytearray(FIB_SIZE)
    struct.pack_into("<HHHHHH", fib, 0, 0xA5DC, nfib, 0x0065, 0x0409, 0, 0x0001 if template else 0)
    struct.pack_into("<II", fib, 0x18, TEXT_AT, TEXT_AT + len(body))  # fcMin, fcMac
    struct.pack_into("<I", fib, 0x34, len(body))  # ccpText
    struct.pack_into("<II", fib, 0x118, cmds_at if table else 0, len(table))  # fcCmds, lcbCmds
    stream = bytes(fib).ljust(TEXT_AT, b"\x00") + body + b"\x00" * 16 + table
    return cfb.write({"WordDocument": stream.ljust(4096, b"\x00")}, root_clsid=CLSID_WORD6)
