"""A small PDF writer: numbered objects, streams, and either a classic xref table or object streams.

With `objstm=True` every non-stream object goes into one compressed /ObjStm and the file ends
with a cross-reference stream (/Type /XRef), the PDF 1.5 layout that hides dictionaries (and the
/JavaScript or /OpenAction names in them) from naive byte scanners.
"""

from __future__ import annotations

import struct
import zlib


def literal(text: str) -> str:
    """A PDF literal string: (text) with \\, ( and ) escaped."""
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\r", "\\r") + ")"


def hex_name(name: str) -> str:
    """/Name with every other letter as #xx, as obfuscated malware writes /J#61vaScript."""
    return "/" + "".join(f"#{ord(c):02x}" if i % 2 else c for i, c in enumerate(name))


class PDF:
    def __init__(self, version: str = "1.7") -> None:
        self.version = version
        self._objs: list[tuple[bytes, bytes | None]] = []  # (dictionary/body, stream data or None)

    def reserve(self) -> int:
        self._objs.append((b"null", None))
        return len(self._objs)

    def set(self, num: int, body: str, stream: bytes | None = None) -> int:
        self._objs[num - 1] = (body.encode("latin-1"), stream)
        return num

    def add(self, body: str) -> int:
        return self.set(self.reserve(), body)

    def stream(self, data: bytes, extra: str = "", *, compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data, 9)
            extra = f"/Filter /FlateDecode {extra}"
        return self.set(self.reserve(), f"<< {extra} /Length {len(data)} >>", data)

    def _obj(self, num: int) -> bytes:
        body, data = self._objs[num - 1]
        out = f"{num} 0 obj\n".encode() + body
        if data is not None:
            out += b"\nstream\n" + data + b"\nendstream"
        return out + b"\nendobj\n"

    def to_bytes(self, root: int, info: int | None = None, *, objstm: bool = False) -> bytes:
        head = f"%PDF-{self.version}\n".encode() + b"%\xe2\xe3\xcf\xd3\n"
        trailer_refs = f"/Root {root} 0 R" + (f" /Info {info} 0 R" if info else "")
        if not objstm:
            out = bytearray(head)
            offsets = []
            for num in range(1, len(self._objs) + 1):
                offsets.append(len(out))
                out += self._obj(num)
            xref = len(out)
            out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
            out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
            out += f"trailer\n<< /Size {len(offsets) + 1} {trailer_refs} >>\nstartxref\n{xref}\n%%EOF\n".encode()
            return bytes(out)
        packed = [n for n in range(1, len(self._objs) + 1) if self._objs[n - 1][1] is None]
        parts, index, pos = [], [], 0
        for n in packed:
            body = self._objs[n - 1][0] + b"\n"
            index.append(f"{n} {pos}")
            parts.append(body)
            pos += len(body)
        header = (" ".join(index) + "\n").encode()
        stm_num = len(self._objs) + 1
        self._objs.append((f"<< /Type /ObjStm /N {len(packed)} /First {len(header)} /Filter /FlateDecode "
                           f"/Length {{}} >>".encode(), zlib.compress(header + b"".join(parts), 9)))
        body, data = self._objs[-1]
        self._objs[-1] = (body.replace(b"{}", str(len(data)).encode()), data)
        out = bytearray(head)
        where: dict[int, tuple[int, int, int]] = {n: (2, stm_num, i) for i, n in enumerate(packed)}
        for num in range(1, len(self._objs) + 1):
            if num not in where:
                where[num] = (1, len(out), 0)
                out += self._obj(num)
        xref_num = len(self._objs) + 1
        where[xref_num] = (1, len(out), 0)
        rows = [struct.pack(">BIH", 0, 0, 0xFFFF)]
        rows += [struct.pack(">BIH", *where[n]) for n in range(1, xref_num + 1)]
        data = b"".join(rows)
        xref_at = len(out)
        out += (f"{xref_num} 0 obj\n<< /Type /XRef /Size {xref_num + 1} /W [1 4 2] {trailer_refs} "
                f"/Length {len(data)} >>\nstream\n").encode() + data + b"\nendstream\nendobj\n"
        out += f"startxref\n{xref_at}\n%%EOF\n".encode()
        return bytes(out)


def text_page_content(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "56 770 Td"]
    for line in lines:
        ops.append(f"{literal(line[:90])} Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1", "replace")
