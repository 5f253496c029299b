"""TNEF (winmail.dat, application/ms-tnef): attachments and bodies become children.

Outlook and Exchange wrap a rich-text message in TNEF; mail filters that do not open it let its
attachments through unseen. The stream ([MS-OXTNEF]) is a signature, then attributes (level,
id, length, data, checksum); attachment attributes carry the file name and data, and MAPI property
lists carry the bodies (text, HTML, compressed RTF) and embedded messages (a nested TNEF stream
after the IMessage GUID). Read here in one bounded pass over memoryviews: tnefparse copies the
rest of the buffer for every attribute (quadratic on hostile input) and recurses into embedded
messages without a bound, so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maldoc.extractor import Context, Extractor
from maldoc.extractors import _message as msg
from maldoc.filetype import Probe, TypeSpec, risky_name
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

TNEF_MAGIC = b"\x78\x9f\x3e\x22"  # 0x223E9F78, little-endian
IMESSAGE_GUID = bytes.fromhex("0703020000000000c000000000000046")  # IID_IMessage {00020307-...}
LVL_MESSAGE, LVL_ATTACHMENT = 1, 2
ATT_BODY, ATT_ATTACH_DATA, ATT_ATTACH_TITLE = 0x800C, 0x800F, 0x8010
ATT_ATTACH_REND_DATA, ATT_MSG_PROPS, ATT_ATTACHMENT = 0x9002, 0x9003, 0x9005
MAX_ATTRIBUTES = 20000
MAX_PROPS = 5000
MAX_DEPTH = 3
CHECKSUM_MAX = 1 << 20  # checksums of larger attributes are not summed (pure-Python cost)
_FIXED = {0x0002: 4, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000A: 4, 0x000B: 4, 0x0014: 8,
          0x0040: 8, 0x0048: 16}
_VARIABLE = {0x000D, 0x001E, 0x001F, 0x0102}


class TnefError(Exception):
    """Structural damage: categorical text only."""


def is_tnef(p: Probe) -> bool:
    return p.data.startswith(TNEF_MAGIC)


def _u16(b, o: int) -> int:
    return int.from_bytes(b[o:o + 2], "little")


def _u32(b, o: int) -> int:
    return int.from_bytes(b[o:o + 4], "little")


def mapi_props(data: memoryview, ctx: Context) -> dict[int, object]:
    """The single-valued properties of a MAPI property list: tag id -> bytes/str/int (first value)."""
    props: dict[int, object] = {}
    if len(data) < 4:
        return props
    count = min(_u32(data, 0), MAX_PROPS)
    pos = 4
    for _ in range(count):
        ctx.check()
        if pos + 4 > len(data):
            raise TnefError("property list cut short")
        ptype, pid = _u16(data, pos), _u16(data, pos + 2)
        pos += 4
        if pid >= 0x8000:  # named property: GUID, kind, then an id or a name
            pos += 16
            kind = _u32(data, pos)
            pos += 4
            if kind == 1:
                pos += 4 + ((_u32(data, pos) + 3) & ~3)
            else:
                pos += 4
        multi = bool(ptype & 0x1000)
        base = ptype & 0x0FFF
        values = 1
        if multi or base in _VARIABLE:
            values = _u32(data, pos)
            pos += 4
            if values > 100000:
                raise TnefError("implausible value count")
        first: object = None
        for i in range(values):
            if base in _FIXED:
                size = _FIXED[base]
                value: object = int.from_bytes(data[pos:pos + min(size, 8)], "little")
                pos += size
            elif base in _VARIABLE:
                size = _u32(data, pos)
                pos += 4
                if pos + size > len(data):
                    raise TnefError("property value cut short")
                value = bytes(data[pos:pos + size])
                pos += (size + 3) & ~3
            else:
                raise TnefError("unknown property type")
            if i == 0:
                first = value
        if pos > len(data):
            raise TnefError("property list cut short")
        if not multi:
            props[pid] = first
    return props


def _text(value: object, unicode: bool) -> str:
    if not isinstance(value, bytes):
        return ""
    return value.decode("utf-16-le" if unicode else "latin-1", "replace").rstrip("\x00")


@dataclass
class Attachment:
    name: str = ""
    data: bytes = b""
    embedded: bytes | None = None  # a nested TNEF stream


@dataclass
class Message:
    bodies: msg.Bodies = field(default_factory=msg.Bodies)
    attachments: list[Attachment] = field(default_factory=list)
    attributes: int = 0
    bad_checksums: int = 0
    truncated: bool = False  # the stream ends inside an attribute: what came before is kept
    damaged_props: int = 0


def parse(data: bytes | memoryview, ctx: Context) -> Message:
    view = memoryview(data)
    if bytes(view[:4]) != TNEF_MAGIC:
        raise TnefError("no TNEF signature")
    message = Message()
    pos = 6
    current: Attachment | None = None
    while pos + 9 <= len(view):
        ctx.check()
        message.attributes += 1
        if message.attributes > MAX_ATTRIBUTES:
            raise TnefError("too many attributes")
        level, name, length = view[pos], _u16(view, pos + 1), _u32(view, pos + 5)
        start = pos + 9
        if start + length > len(view):
            message.truncated = True
            break
        body = view[start:start + length]
        summed = length <= CHECKSUM_MAX and start + length + 2 <= len(view)
        if summed and sum(body) & 0xFFFF != _u16(view, start + length):
            message.bad_checksums += 1
        pos = start + length + 2
        if name == ATT_ATTACH_REND_DATA:
            current = Attachment()
            message.attachments.append(current)
        elif level == LVL_ATTACHMENT and current is not None:
            if name == ATT_ATTACH_TITLE and not current.name:
                current.name = bytes(body).split(b"\x00", 1)[0].decode("latin-1")
            elif name == ATT_ATTACH_DATA:
                current.data = bytes(body)
            elif name == ATT_ATTACHMENT:  # a damaged property list loses its names, not the attachment
                props = _props(body, ctx, message)
                long_name = props.get(msg.PR_ATTACH_LONG_FILENAME) or (None if current.name else
                                                                        props.get(msg.PR_DISPLAY_NAME))
                if long_name:
                    current.name = _text(long_name, _looks_utf16(long_name))
                obj = props.get(msg.PR_ATTACH_DATA)
                if isinstance(obj, bytes) and obj.startswith(IMESSAGE_GUID):
                    current.embedded = obj[16:]
                elif isinstance(obj, bytes) and obj and not current.data:
                    current.data = obj
        elif level == LVL_MESSAGE and name == ATT_BODY:
            message.bodies.text = bytes(body).decode("latin-1").rstrip("\x00")
        elif level == LVL_MESSAGE and name == ATT_MSG_PROPS:
            props = _props(body, ctx, message)
            text = props.get(msg.PR_BODY)
            if text:
                message.bodies.text = _text(text, _looks_utf16(text))
            html = props.get(msg.PR_BODY_HTML)
            if isinstance(html, bytes):
                message.bodies.html = html
            rtf = props.get(msg.PR_RTF_COMPRESSED)
            if isinstance(rtf, bytes):
                message.bodies.rtf = rtf
    if pos != len(view):  # a header fragment, or the last checksum missing
        message.truncated = True
    return message


def _props(body: memoryview, ctx: Context, message: Message) -> dict[int, object]:
    try:
        return mapi_props(body, ctx)
    except TnefError:
        message.damaged_props += 1
        return {}


def _looks_utf16(value: object) -> bool:
    return isinstance(value, bytes) and len(value) >= 2 and value[1:2] == b"\x00"


class TnefExtractor(Extractor):
    name = "tnef"
    version = 2
    detects = (TypeSpec("tnef", is_tnef, 12, "dat", "TNEF (winmail.dat)"),)
    file_types = frozenset({FileType("tnef")})
    features = ("attachments", "embedded_messages", "risky_names", "bodies", "html_body", "rtf_body",
                "attachment_bytes_log2", "passwords", "bad_checksums")
    rules = ("TNEF_ATTACHMENT", "MAIL_PASSWORD_IN_BODY", "CORE_SCRIPT_NAME")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        counts = dict.fromkeys(self.features, 0.0)
        self._message(sample.data, sample, ctx, out, counts, "", 0)
        if counts["passwords"] and counts["attachments"]:
            out.add("MAIL_PASSWORD_IN_BODY", f"{int(counts['passwords'])} candidate(s)", sample.display_path)
        out.features.update({f"tnef.{k}": float(v) for k, v in counts.items()})

    def _message(self, data, sample: Sample, ctx: Context, out: ExtractorResult, counts: dict, stem: str,
                 depth: int) -> None:
        try:
            message = parse(data, ctx)
        except TnefError as exc:
            out.flag(Flag.TRUNCATED if "cut short" in str(exc) else Flag.PARSE_ERROR, f"tnef: {exc}")
            return
        if message.truncated:
            out.flag(Flag.TRUNCATED, "tnef: the stream ends inside an attribute")
        if message.damaged_props:
            out.flag(Flag.PARSE_ERROR, f"tnef: {message.damaged_props} damaged MAPI property lists")
        counts["bad_checksums"] += message.bad_checksums
        counts["html_body"] = max(counts["html_body"], float(bool(message.bodies.html)))
        counts["rtf_body"] = max(counts["rtf_body"], float(bool(message.bodies.rtf)))
        emitted, passwords = msg.deliver_bodies(ctx, out, sample, message.bodies, prefix="tnef", stem=stem)
        counts["bodies"] += emitted
        counts["passwords"] += len(passwords)
        for index, att in enumerate(message.attachments, 1):
            ctx.check()
            name = (att.name or f"attachment-{index}").replace("\\", "/").rsplit("/", 1)[-1]
            if att.embedded is not None:
                counts["embedded_messages"] += 1
                if depth + 1 < MAX_DEPTH:
                    self._message(att.embedded, sample, ctx, out, counts, f"{stem}{name or 'message'}/", depth + 1)
                else:
                    out.flag(Flag.LIMIT_EXCEEDED, "tnef: embedded messages nested too deep")
                continue
            if not att.data:
                continue
            counts["attachments"] += 1
            counts["attachment_bytes_log2"] = max(counts["attachment_bytes_log2"], log2_size(len(att.data)))
            counts["risky_names"] += risky_name(name)
            out.add("TNEF_ATTACHMENT", f"{name}, {len(att.data)} bytes", f"{sample.display_path} > {stem}{name}")
            ctx.emit(out, sample, att.data, f"{stem}{name}")
