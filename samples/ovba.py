"""MS-OVBA: the VBA compression algorithm and a VBA project (dir, PROJECT, module streams).

Writes what olevba (and Office) read back: a `dir` stream with the project information and one
MODULE record per module, a `PROJECT` text stream naming the modules, a `_VBA_PROJECT` stream
whose version 0xFFFF tells Office to ignore the (absent) p-code cache and compile from source,
and each module's source compressed at text offset 0. The compressor follows [MS-OVBA] 2.4.1
(chunks of 4096 bytes, token sequences of one flag byte and eight literal or copy tokens); match
search uses a 3-byte hash chain instead of the spec's exhaustive scan, which gives the same
format faster.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CHUNK = 4096
_MAX_CANDIDATES = 48  # hash-chain positions tried per match: plenty for source text

HOST_WORD = "{000209F2-0000-0000-C000-000000000046};Word8.0"
HOST_EXCEL = "{00020813-0000-0000-C000-000000000046};Excel8.0"


def _copy_token_help(current: int, chunk_start: int) -> tuple[int, int]:
    """(bit count of the offset field, maximum match length) at this position of the chunk."""
    bit_count = max((current - chunk_start - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(data: bytes, start: int, end: int) -> bytes:
    """One CompressedChunk (header included) for data[start:end], raw if compression does not pay."""
    out = bytearray()
    heads: dict[bytes, list[int]] = {}
    pos = start
    while pos < end:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= end:
                break
            bit_count, max_len = _copy_token_help(pos, start)
            best_len, best_off = 0, 0
            key = data[pos:pos + 3]
            limit = min(max_len, end - pos)
            if len(key) == 3 and limit >= 3:
                for cand in reversed(heads.get(key, [])[-_MAX_CANDIDATES:]):
                    length = 3
                    while length < limit and data[cand + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, pos - cand
                        if length == limit:
                            break
            step = best_len if best_len >= 3 else 1
            if best_len >= 3:
                token = ((best_off - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
            else:
                out.append(data[pos])
            for p in range(pos, pos + step):
                if p + 3 <= end:
                    heads.setdefault(data[p:p + 3], []).append(p)
            pos += step
        out[flag_at] = flags
    if len(out) > CHUNK:  # incompressible: a raw chunk is always exactly 4096 bytes
        raw = data[start:end]
        return struct.pack("<H", 0x3000 | (CHUNK - 1)) + raw + b"\0" * (CHUNK - len(raw))
    return struct.pack("<H", 0xB000 | (len(out) + 2 - 3)) + bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer ([MS-OVBA] 2.4.1.1.1) holding `data`."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        out += _compress_chunk(data, start, min(start + CHUNK, len(data)))
    return bytes(out)


def decompress(container: bytes) -> bytes:
    """The inverse of `compress`, for tests and round trips ([MS-OVBA] 2.4.1.3.1)."""
    if not container or container[0] != 1:
        raise ValueError("not a compressed container")
    out = bytearray()
    pos = 1
    while pos < len(container):
        header = struct.unpack_from("<H", container, pos)[0]
        size = (header & 0x0FFF) + 3
        end = min(pos + size, len(container))
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:
            out += container[pos:pos + CHUNK]
            pos += CHUNK
            continue
        while pos < end:
            flags = container[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if flags >> bit & 1:
                    token = struct.unpack_from("<H", container, pos)[0]
                    bit_count, _ = _copy_token_help(len(out), chunk_start)
                    length = (token & (0xFFFF >> bit_count)) + 3
                    offset = (token >> (16 - bit_count)) + 1
                    for _ in range(length):
                        out.append(out[-offset])
                    pos += 2
                else:
                    out.append(container[pos])
                    pos += 1
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Module:
    """One VBA module. `document` modules are ThisDocument / ThisWorkbook / Sheet1 (class-like)."""

    name: str
    code: str  # the body, without the Attribute header
    document: bool = False
    base: str = ""  # VB_Base for document modules, e.g. "1Normal.ThisDocument"

    def source(self) -> str:
        """The full stored source: Attribute lines, then the code, CRLF line ends."""
        lines = [f'Attribute VB_Name = "{self.name}"']
        if self.document:
            lines += [f'Attribute VB_Base = "{self.base}"', "Attribute VB_GlobalNameSpace = False",
                      "Attribute VB_Creatable = False", "Attribute VB_PredeclaredId = True",
                      "Attribute VB_Exposed = True", "Attribute VB_TemplateDerived = False",
                      "Attribute VB_Customizable = True"]
        body = self.code.replace("\r\n", "\n").strip("\n").split("\n")
        return "\r\n".join(lines + body) + "\r\n"


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _dir_stream(project: str, modules: list[Module], codepage: int = 1252) -> bytes:
    enc = f"cp{codepage}"
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 1))  # SYSKIND: Win32
    out += _rec(0x0002, struct.pack("<I", 0x409))  # LCID
    out += _rec(0x0014, struct.pack("<I", 0x409))  # LCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", codepage))
    out += _rec(0x0004, project.encode(enc))
    out += _rec(0x0005, b"") + _rec(0x0040, b"")  # DOCSTRING + its Unicode form
    out += _rec(0x0006, b"") + _rec(0x003D, b"")  # HELPFILEPATH 1 and 2
    out += _rec(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 0x4A0D1A6B, 0x0014)  # VERSION: Reserved=4, major, minor
    out += _rec(0x000C, b"") + _rec(0x003C, b"")  # CONSTANTS
    out += struct.pack("<HIH", 0x000F, 2, len(modules))  # PROJECTMODULES
    out += struct.pack("<HIH", 0x0013, 2, 0xFFFF)  # PROJECTCOOKIE
    for m in modules:
        out += _rec(0x0019, m.name.encode(enc))
        out += _rec(0x0047, m.name.encode("utf-16-le"))
        out += _rec(0x001A, m.name.encode(enc)) + _rec(0x0032, m.name.encode("utf-16-le"))
        out += _rec(0x001C, b"") + _rec(0x0048, b"")
        out += _rec(0x0031, struct.pack("<I", 0))  # text offset: no p-code cache before the source
        out += _rec(0x001E, struct.pack("<I", 0))
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))
        out += struct.pack("<HI", 0x0022 if m.document else 0x0021, 0)
        out += struct.pack("<HI", 0x002B, 0)
    out += struct.pack("<HI", 0x0010, 0)
    return bytes(out)


def _project_stream(project_id: str, project: str, modules: list[Module], host: str) -> bytes:
    lines = [f'ID="{project_id}"']
    for m in modules:
        lines.append(f"Document={m.name}/&H00000000" if m.document else f"Module={m.name}")
    lines += [f'Name="{project}"', 'HelpContextID="0"', 'VersionCompatible32="393222000"', "",
              "[Host Extender Info]", "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
              f"&H00000002={host};&H00000000", "", "[Workspace]"]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _projectwm(modules: list[Module]) -> bytes:
    return b"".join(m.name.encode("cp1252") + b"\0" + m.name.encode("utf-16-le") + b"\0\0" for m in modules) + b"\0\0"


def project_tree(modules: list[Module], *, project: str = "Project", project_id: str,
                 host: str = HOST_WORD) -> dict[str, object]:
    """The streams of a VBA project storage: {'PROJECT', 'PROJECTwm', 'VBA': {...}}."""
    vba: dict[str, bytes] = {"_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
                             "dir": compress(_dir_stream(project, modules))}
    for m in modules:
        vba[m.name] = compress(m.source().encode("cp1252"))
    return {"PROJECT": _project_stream(project_id, project, modules, host), "PROJECTwm": _projectwm(modules),
            "VBA": vba}
