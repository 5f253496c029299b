"""Outlook containers written from their specifications: .msg ([MS-OXMSG]) and TNEF ([MS-OXTNEF]).

Inert and minimal: the property streams Outlook needs to list the message (subject, bodies,
attachments with their names and data, embedded messages), nothing more.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from maldoc.samples import cfb

# --- .msg ---------------------------------------------------------------------------------------


@dataclass
class Message:
    subject: str = ""
    body: str = ""
    html: str = ""
    headers: str = ""
    rtf_compressed: bytes = b""
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    embedded: list[tuple[str, Message]] = field(default_factory=list)


def _u16(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


def _prop_entry(tag: int, size: int) -> bytes:
    return struct.pack("<IIQ", tag, 0x6, size)


def _message_tree(m: Message, header: int) -> dict:
    tree: dict = {}
    props: list[bytes] = []

    def string(prop: int, value: str) -> None:
        if value:
            tree[f"__substg1.0_{prop:04X}001F"] = _u16(value)
            props.append(_prop_entry(prop << 16 | 0x001F, len(_u16(value))))

    string(0x0037, m.subject)
    string(0x1000, m.body)
    string(0x007D, m.headers)
    if m.html:
        tree["__substg1.0_10130102"] = m.html.encode()
        props.append(_prop_entry(0x10130102, len(m.html.encode())))
    if m.rtf_compressed:
        tree["__substg1.0_10090102"] = m.rtf_compressed
        props.append(_prop_entry(0x10090102, len(m.rtf_compressed)))
    items: list[tuple[str, bytes | Message]] = [*m.attachments, *m.embedded]
    for i, (name, data) in enumerate(items):
        att: dict = {"__substg1.0_3707001F": _u16(name), "__substg1.0_3704001F": _u16(name[:12])}
        if isinstance(data, Message):
            att["__substg1.0_3701000D"] = _message_tree(data, 24)
            att["__properties_version1.0"] = b"\x00" * 8 + _prop_entry(0x3701000D, 0xFFFFFFFF)
        else:
            att["__substg1.0_37010102"] = data
            att["__properties_version1.0"] = b"\x00" * 8 + _prop_entry(0x37010102, len(data))
        tree[f"__attach_version1.0_#{i:08X}"] = att
    head = struct.pack("<QIIII", 0, 0, len(items), 0, len(items)) if header == 32 else b"\x00" * 24
    tree["__properties_version1.0"] = head[:header].ljust(header, b"\x00") + b"".join(props)
    if header == 32:  # the named-property mapping storage every top-level message has
        tree["__nameid_version1.0"] = {"__substg1.0_00020102": b"", "__substg1.0_00030102": b"",
                                       "__substg1.0_00040102": b""}
    return tree


def msg(m: Message) -> bytes:
    return cfb.write(_message_tree(m, 32), root_clsid="{00020D0B-0000-0000-C000-000000000046}")


# --- TNEF ---------------------------------------------------------------------------------------

TNEF_SIGNATURE = 0x223E9F78
IMESSAGE_GUID = bytes.fromhex("0703020000000000c000000000000046")


def _attribute(level: int, attr_id: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _mapi(props: list[tuple[int, int, bytes]]) -> bytes:
    """A MAPI property list of variable-length values: (type, id, value)."""
    out = struct.pack("<I", len(props))
    for ptype, pid, value in props:
        out += struct.pack("<HHII", ptype, pid, 1, len(value)) + _pad4(value)
    return out


def tnef(body: str, attachments: list[tuple[str, bytes]], *, html: str = "",
         embedded: list[tuple[str, bytes]] = ()) -> bytes:
    """A TNEF stream: message props (bodies), then per attachment its title, data and MAPI props.
    `embedded` items are nested TNEF streams attached as Outlook items."""
    out = struct.pack("<IH", TNEF_SIGNATURE, 0x0001)
    out += _attribute(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _attribute(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    props = [(0x001F, 0x1000, _u16(body))]
    if html:
        props.append((0x0102, 0x1013, html.encode()))
    out += _attribute(1, 0x00069003, _mapi(props))
    for name, data in attachments:
        out += _attribute(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8)  # attAttachRendData
        out += _attribute(2, 0x00018010, name.encode("latin-1", "replace") + b"\x00")  # attAttachTitle
        out += _attribute(2, 0x0006800F, data)  # attAttachData
        out += _attribute(2, 0x00069005, _mapi([(0x001F, 0x3707, _u16(name))]))
    for name, stream in embedded:
        out += _attribute(2, 0x00069002, b"\x05\x00\xff\xff\xff\xff" + b"\x00" * 8)
        out += _attribute(2, 0x00069005, _mapi([(0x001F, 0x3001, _u16(name)),
                                                 (0x000D, 0x3701, IMESSAGE_GUID + stream)]))
    return out
