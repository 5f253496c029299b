"""Outlook messages (.msg): attachments, embedded messages and bodies become children.

A .msg is an OLE compound file laid out by [MS-OXMSG]: variable-length MAPI properties are streams
named `__substg1.0_<id><type>` (bodies 0x1000 text, 0x1013 HTML, 0x1009 compressed RTF; transport
headers 0x007D), each attachment is a `__attach_version1.0_#N` storage holding its data (0x3701)
and file name (0x3707/0x3704), and an attached Outlook item is a nested message storage
(0x3701 as an object). Read here with olefile, which the Office extractors already load (the parse
is shared through `open_ole`); extract_msg was measured at 1.3 s to import and is not needed for
this.

The transport headers and the plain body are handed on as `message.eml`, so the mail extractor's
header checks (reply-to, authentication results, display-name spoofing) and password search see
them as for any e-mail; the HTML and RTF bodies are children of their own.
"""

from __future__ import annotations

import re

import olefile

from maldoc.extractor import Context, Extractor
from maldoc.extractors import _message as msg
from maldoc.extractors._office_common import ole_error_flag, open_ole
from maldoc.filetype import OLE_MAGIC, Probe, TypeSpec, risky_name
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

PROPS_STREAM = "__properties_version1.0"
_PROPS_U16 = PROPS_STREAM.encode("utf-16-le")
_SUBSTG_U16 = "__substg1.0_".encode("utf-16-le")
ATTACH_PREFIX = "__attach_version1.0_#"
EMBEDDED = "__substg1.0_3701000D"
MAX_DEPTH = 3
MAX_ATTACHMENTS = 500
_MIME_HEADERS = re.compile(r"^(?:content-type|content-transfer-encoding|mime-version)\s*:.*(?:\r?\n[ \t].*)*\r?\n?",
                           re.I | re.M)


def is_msg(p: Probe) -> bool:
    """OLE magic, the MAPI property stream and a property substream; confirmed from the directory."""
    data = p.data
    if not data.startswith(OLE_MAGIC) or _PROPS_U16 not in data or _SUBSTG_U16 not in data:
        return False
    try:
        ole = open_ole(data)  # only files carrying both MAPI markers get this far
    except Exception:  # a broken OLE file is the OLE extractor's to report
        return False
    return ole.exists(PROPS_STREAM)


class _Node:
    """One message storage (the root, or an embedded message) and its direct entries."""

    def __init__(self, ole: olefile.OleFileIO, base: list[str], entries: list[list[str]]) -> None:
        self.ole = ole
        self.base = base
        depth = len(base)
        self.names = {e[depth].lower(): e[depth] for e in entries if len(e) > depth and e[:depth] == base}
        self.entries = entries

    def stream(self, name: str, ctx: Context, out: ExtractorResult) -> bytes | None:
        actual = self.names.get(name.lower())
        if actual is None:
            return None
        path = [*self.base, actual]
        try:
            if self.ole.get_type(path) != olefile.STGTY_STREAM:
                return None
            size = self.ole.get_size(path)
            if size > ctx.limits.max_bytes:
                out.flag(Flag.LIMIT_EXCEEDED, "msg: a property stream is larger than max_bytes")
                return None
            return self.ole.openstream(path).read(size)
        except (OSError, ValueError, IndexError, TypeError) as exc:
            out.flag(ole_error_flag(exc), "msg: unreadable property stream")
            return None

    def string(self, prop: int, ctx: Context, out: ExtractorResult) -> str:
        raw = self.stream(f"__substg1.0_{prop:04X}001F", ctx, out)
        if raw is not None:
            return raw.decode("utf-16-le", "replace").rstrip("\x00")
        raw = self.stream(f"__substg1.0_{prop:04X}001E", ctx, out)
        return raw.decode("cp1252", "replace").rstrip("\x00") if raw is not None else ""

    def binary(self, prop: int, ctx: Context, out: ExtractorResult) -> bytes:
        return self.stream(f"__substg1.0_{prop:04X}0102", ctx, out) or b""

    def attachments(self) -> list[str]:
        return sorted(n for key, n in self.names.items() if key.startswith(ATTACH_PREFIX))[:MAX_ATTACHMENTS]


def _eml(headers: str, body: str) -> bytes:
    """The transport headers (their MIME structure dropped) over the plain body, as RFC 822 text."""
    head = _MIME_HEADERS.sub("", headers.strip().replace("\r\n", "\n")).strip()
    return (f"{head}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}").encode(
        "utf-8", "replace")


class MsgExtractor(Extractor):
    name = "msg"
    version = 2
    # Label "doc": what the mail and OneNote sniffers already accept for a .msg (an OLE file), so a .msg
    # attachment is not reported as a type mismatch.
    detects = (TypeSpec("msg", is_msg, 9, "doc", "Outlook message (.msg)"),)
    file_types = frozenset({FileType("msg")})
    features = ("attachments", "embedded_messages", "risky_names", "bodies", "html_body", "rtf_body",
                "transport_headers", "attachment_bytes_log2", "passwords", "subject_chars")
    rules = ("MSG_ATTACHMENT", "MSG_EMBEDDED_MESSAGE", "MAIL_PASSWORD_IN_BODY", "CORE_SCRIPT_NAME")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            ole = open_ole(sample.data, sample)
            entries = ole.listdir(streams=True, storages=True)
        except Exception as exc:  # olefile raises many types on hostile input
            out.flag(ole_error_flag(exc), "msg: unreadable compound file")
            return
        counts = dict.fromkeys(self.features, 0.0)
        self._message(_Node(ole, [], entries), sample, ctx, out, counts, "", 0)
        if counts["passwords"] and counts["attachments"]:
            out.add("MAIL_PASSWORD_IN_BODY", f"{int(counts['passwords'])} candidate(s)", sample.display_path)
        out.features.update({f"msg.{k}": float(v) for k, v in counts.items()})

    def _message(self, node: _Node, sample: Sample, ctx: Context, out: ExtractorResult, counts: dict,
                 stem: str, depth: int) -> None:
        ctx.check()
        bodies = msg.Bodies(text=node.string(msg.PR_BODY, ctx, out),
                            html=node.binary(msg.PR_BODY_HTML, ctx, out)
                            or node.string(msg.PR_BODY_HTML, ctx, out).encode("utf-8"),
                            rtf=node.binary(msg.PR_RTF_COMPRESSED, ctx, out))
        headers = node.string(msg.PR_TRANSPORT_HEADERS, ctx, out)
        if depth == 0:
            counts["subject_chars"] = float(len(node.string(msg.PR_SUBJECT, ctx, out)))
        counts["html_body"] = max(counts["html_body"], float(bool(bodies.html.strip())))
        counts["rtf_body"] = max(counts["rtf_body"], float(bool(bodies.rtf)))
        if headers.strip():
            counts["transport_headers"] += 1
            counts["bodies"] += ctx.emit(out, sample, _eml(headers, bodies.text), f"{stem}message.eml")
        emitted, passwords = msg.deliver_bodies(
            ctx, out, sample, msg.Bodies(text="" if headers.strip() else bodies.text, html=bodies.html,
                                         rtf=bodies.rtf), prefix="msg", stem=stem)
        if headers.strip() and bodies.text:  # message.eml carried the text body: its passwords count too
            passwords += [p for p in msg.find_passwords(bodies.text) if p not in passwords]
            out.passwords.extend(p for p in passwords if p not in out.passwords)
        counts["bodies"] += emitted
        counts["passwords"] += len(passwords)
        for index, storage in enumerate(node.attachments(), 1):
            ctx.check()
            att = _Node(node.ole, [*node.base, storage], node.entries)
            name = att.string(msg.PR_ATTACH_LONG_FILENAME, ctx, out) or att.string(msg.PR_ATTACH_FILENAME, ctx, out) \
                or att.string(msg.PR_DISPLAY_NAME, ctx, out) or f"attachment-{index}"
            name = name.replace("\\", "/").rsplit("/", 1)[-1].strip("\x00") or f"attachment-{index}"
            if EMBEDDED.lower() in att.names:
                counts["embedded_messages"] += 1
                out.add("MSG_EMBEDDED_MESSAGE", name, f"{sample.display_path} > {stem}{name}")
                if depth + 1 < MAX_DEPTH:
                    inner = _Node(node.ole, [*att.base, att.names[EMBEDDED.lower()]], node.entries)
                    self._message(inner, sample, ctx, out, counts, f"{stem}{name}/", depth + 1)
                else:
                    out.flag(Flag.LIMIT_EXCEEDED, "msg: embedded messages nested too deep")
                continue
            data = att.binary(msg.PR_ATTACH_DATA, ctx, out)
            if not data:
                continue
            counts["attachments"] += 1
            counts["attachment_bytes_log2"] = max(counts["attachment_bytes_log2"], log2_size(len(data)))
            counts["risky_names"] += risky_name(name)
            out.add("MSG_ATTACHMENT", f"{name}, {len(data)} bytes", f"{sample.display_path} > {stem}{name}")
            ctx.emit(out, sample, data, f"{stem}{name}")
