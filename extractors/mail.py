"""E-mail messages (.eml, message/rfc822): attachments as children, bodies, headers, passwords.

Parsed into the stdlib `email` package's compat32 tree (it never raises on broken headers;
policy.default parses addresses and dates on access and can), built without recursion by
`_mail_parse` so that one hostile, deeply nested branch cannot hide its siblings; the stdlib's
defects are counted. Header values are decoded by hand, tolerating unknown charsets and raw 8-bit.
Payloads this message carries but the scan will not reach (parts nested past the limits, messages
forwarded past `max_depth`) are still sniffed: an executable or script there is reported here.

What an attacker controls and a filter should see:
- attachments, each a child sample (scanned one level deeper), with the type the message claims
  (extension, Content-Type) compared with what the bytes are, and `invoice.pdf.exe` names;
- HTML bodies, emitted as a `body.html` child so the HTML extractor reads them like any page;
- body URLs (text bodies here; the HTML child reports its own), and passwords announced in the
  body ("Password: 1234"), handed to the engine so the ZIP extractor tries them on the attachments;
- header signs of forgery: Reply-To elsewhere, a display name naming another sender, failed
  SPF/DKIM/DMARC, missing Message-ID, the number of Received hops.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.errors
import math
import os
import quopri
import re
import unicodedata
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.extractors import _mail_parse, _phish
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors._mail_text import find_passwords, html_text
from maldoc.extractors.urls import find_urls
from maldoc.filetype import RISKY_EXTENSIONS, TypeSpec, detect, risky_name
from maldoc.types import ExtractorResult, FileType, Flag, Sample

MAX_BODY_CHARS = 2 * 1024 * 1024  # of each body searched for URLs and passwords
MAX_URLS = 500
NAME_MAX = 200
_DECODE_ERRORS = (ValueError, LookupError, UnicodeError, binascii.Error, email.errors.MessageError)

# What an extension or a Content-Type promises, as `_mail_sniff.kind` labels.
_EXT_KINDS: dict[str, frozenset[str]] = {
    ext: frozenset(kinds.split()) for ext, kinds in {
        ".pdf": "pdf", ".doc": "doc", ".dot": "doc", ".xls": "doc", ".xlt": "doc", ".ppt": "doc", ".msg": "doc",
        ".docx": "docx", ".docm": "docx", ".dotm": "docx", ".xlsx": "docx", ".xlsm": "docx", ".xlsb": "docx",
        ".pptx": "docx", ".pptm": "docx", ".rtf": "rtf", ".odt": "odt zip", ".ods": "odt zip",
        ".zip": "zip", ".rar": "rar", ".7z": "7z", ".gz": "gz", ".cab": "cab", ".iso": "iso",
        ".htm": "html hta", ".html": "html hta", ".hta": "hta html", ".svg": "svg html", ".eml": "eml mht",
        ".one": "one",
        ".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".gif": "gif", ".bmp": "bmp", ".tif": "tif", ".tiff": "tif",
        ".txt": "txt", ".csv": "txt", ".exe": "exe", ".dll": "exe", ".scr": "exe", ".lnk": "lnk",
    }.items()
}
_MIME_KINDS: dict[str, frozenset[str]] = {
    mime: frozenset(kinds.split()) for mime, kinds in {
        "application/pdf": "pdf", "application/msword": "doc rtf", "application/vnd.ms-excel": "doc",
        "application/vnd.ms-powerpoint": "doc", "application/rtf": "rtf", "text/rtf": "rtf",
        "application/zip": "zip", "application/x-zip-compressed": "zip", "application/x-rar-compressed": "rar",
        "application/vnd.rar": "rar", "application/x-7z-compressed": "7z", "image/png": "png",
        "image/jpeg": "jpg", "image/gif": "gif", "application/onenote": "one", "message/rfc822": "eml",
        "image/svg+xml": "svg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "docx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "docx",
    }.items()
}
_ALWAYS_MISMATCH = sniff.SCRIPT_KINDS | sniff.BINARY_RISKY_KINDS  # content that runs, under any other name
_DECOYS = frozenset((
    "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "rtf", "txt", "csv", "jpg", "jpeg",
    "png", "gif", "bmp", "tif", "htm", "html", "odt", "mp3", "mp4", "wav", "zip", "rar", "invoice", "scan",
))
_RTLO = "\u202e"
_HIDDEN = frozenset(("Mn", "Me", "Cf"))

_AUTH = re.compile(r"\b(spf|dkim|dmarc|compauth)\s*=\s*(pass|fail|softfail|permerror|temperror|none|neutral)",
                   re.I)
# An address written into a display name. Anchored at the start of a run and possessive: the plain
# `[\w.+-]+@...` re-reads a long run from each of its characters (quadratic on a 100 KB name).
_SHOWN_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_SPF_HEADER = re.compile(r"^\s*(pass|fail|softfail|neutral|none|permerror|temperror)\b", re.I)
# Senders phishing imitates in display names, with the domains each really sends from; a name with one
# of these from a domain without any of its owners' names is spoofing.
_BRANDS: dict[str, tuple[str, ...]] = {
    "paypal": (), "microsoft": ("office", "outlook", "live", "sharepoint"), "office365": ("microsoft", "office"),
    "outlook": ("microsoft", "live"), "onedrive": ("microsoft", "live"), "sharepoint": ("microsoft",),
    "apple": ("icloud",), "icloud": ("apple",), "amazon": (), "netflix": (), "docusign": (), "dropbox": (),
    "dhl": (), "fedex": (), "ups": (), "usps": (), "wellsfargo": (), "chase": (), "citibank": ("citi",),
    "hsbc": (), "santander": (), "barclays": (), "linkedin": (), "facebook": ("meta", "fb"),
    "instagram": ("facebook", "meta"), "whatsapp": ("facebook", "meta"), "google": ("gmail", "youtube"),
    "gmail": ("google",), "adobe": (), "binance": (), "coinbase": (), "metamask": (),
}
_FREEMAIL = frozenset((
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "aol.com",
    "icloud.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.ru", "proton.me", "protonmail.com",
    "zoho.com", "mail.com", "bol.com.br", "uol.com.br", "terra.com.br",
))
_ORG_WORDS = re.compile(
    r"\b(?:bank|banco|banque|support|service|services|security|account|billing|admin|administrator|helpdesk|"
    r"team|notification|notice|alert|protocolo|fatura|invoice|payment|refund|delivery|customer|cliente|"
    r"atendimento|department|ltd|inc|llc|gmbh|s\.a\.?|corp)\b", re.I)


def _text(value: object) -> str:
    """A header value as readable text: encoded words decoded, raw 8-bit bytes as UTF-8 at best."""
    if value is None:
        return ""
    raw = str(value)
    with contextlib.suppress(_DECODE_ERRORS):
        raw = str(make_header(decode_header(raw)))
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header(msg: Message, name: str) -> str:
    try:
        return _text(msg.get(name))
    except _DECODE_ERRORS:
        return ""


def _all(msg: Message, name: str) -> list[str]:
    try:
        return [_text(v) for v in msg.get_all(name) or []]
    except _DECODE_ERRORS:
        return []


def _address(value: str) -> tuple[str, str]:
    """(display name, lower-case address) of the first address in `value`."""
    try:
        pairs = getaddresses([value])
    except _DECODE_ERRORS:
        return "", ""
    name, addr = pairs[0] if pairs else ("", "")
    return name.strip().strip('"').strip(), addr.strip().lower()


def _domain(addr: str) -> str:
    """The address's domain reduced to its last two labels: enough to tell senders apart."""
    host = addr.rpartition("@")[2].strip(">. ").lower()
    return ".".join(host.split(".")[-2:]) if "." in host else host


def double_extension(name: str) -> bool:
    """`invoice.pdf.exe`, `scan.jpg   .js`: a decoy extension followed by one that runs."""
    parts = [p.strip() for p in name.lower().rstrip(". ").split(".")]
    if len(parts) < 3:
        return False
    return f".{parts[-1]}" in RISKY_EXTENSIONS and parts[-2] in _DECOYS


def _filename(part: Message) -> str:
    try:
        raw = part.get_filename() or part.get_param("name") or ""
    except _DECODE_ERRORS:
        return ""
    if isinstance(raw, tuple):  # an RFC 2231 value the stdlib left undecoded
        raw = raw[2] if len(raw) == 3 else ""
    name = _text(raw)
    name = re.sub(r"[\x00-\x1f]", "", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:NAME_MAX]


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except _DECODE_ERRORS:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _body_text(part: Message, data: bytes) -> str:
    charset = "utf-8"
    with contextlib.suppress(_DECODE_ERRORS):
        charset = part.get_content_charset() or "utf-8"
    try:
        return data[: MAX_BODY_CHARS * 2].decode(charset, "replace")[:MAX_BODY_CHARS]
    except (LookupError, ValueError):
        return data[: MAX_BODY_CHARS].decode("latin-1")


def _message_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=policy.compat32)
    except (*_DECODE_ERRORS, TypeError):  # the generator trips over some broken nested headers
        try:
            return msg.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
        except (*_DECODE_ERRORS, TypeError):
            return b""


def _undo_transfer_encoding(part: Message, data: bytes) -> bytes:
    """A message/rfc822 part sent base64 or quoted-printable (not allowed, yet common) as the message."""
    cte = _header(part, "Content-Transfer-Encoding").strip().lower()
    try:
        if cte == "base64":
            body = re.sub(rb"[^A-Za-z0-9+/]", b"", data)  # base64 has no ':', so it all parsed as body
            return base64.b64decode(body[: len(body) - len(body) % 4])
        if cte == "quoted-printable":
            return quopri.decodestring(data)
    except _DECODE_ERRORS:
        pass
    return data


class MailExtractor(Extractor):
    name = "mail"
    version = 3
    detects = (TypeSpec("mhtml", filetype.mail_family(FileType.MHTML), 60, "mht", "MIME HTML (web archive)"),
               TypeSpec("email", filetype.mail_family(FileType.EMAIL), 61, "eml", "RFC 822 message"))
    file_types = frozenset({FileType.EMAIL})
    features = (
        "parts", "attachments", "attachment_bytes_log2", "risky_attachments", "archive_attachments",
        "html_attachments", "nested_messages", "type_mismatches", "double_extensions", "text_bodies",
        "html_bodies", "body_chars_log2", "body_urls", "passwords", "recipients", "received_hops",
        "missing_message_id", "missing_date", "reply_to_differs", "return_path_differs", "display_name_spoof",
        "freemail_organisation", "auth_fail", "auth_pass", "defects", *_phish.FEATURES,
    )
    rules = (
        "CORE_EXECUTABLE_PAYLOAD", "CORE_SCRIPT_NAME",  # for payloads past the limits, sniffed here
        "MAIL_DOUBLE_EXTENSION", "MAIL_TYPE_MISMATCH", "MAIL_PASSWORD_IN_BODY", "MAIL_HTML_ATTACHMENT",
        "MAIL_REPLY_TO_MISMATCH", "MAIL_DISPLAY_NAME_SPOOF", "MAIL_FREEMAIL_ORGANISATION", "MAIL_AUTH_FAIL",
        "MAIL_MISSING_MESSAGE_ID", *_phish.RULES,
    )

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        parsed = _mail_parse.parse(sample.data, ctx.check)
        msg = parsed.root
        if parsed.cut:
            out.flag(Flag.LIMIT_EXCEEDED, f"mail: {parsed.cut} MIME branch(es) nested deeper than "
                     f"{_mail_parse.MAX_DEPTH} levels not read, only sniffed")
            self._report_sniffed(_mail_parse.sniff_cut(parsed.cut_lines, risky_name, sniff.kind,
                                                       sniff.BINARY_RISKY_KINDS), sample, out)
        if parsed.dropped:
            out.flag(Flag.LIMIT_EXCEEDED, f"mail: more than {_mail_parse.MAX_PARTS} MIME parts, rest not read")
        f = out.features
        self._headers(msg, sample, out)
        bodies: list[str] = [_header(msg, "Subject")]
        counts = dict.fromkeys(("parts", "attachments", "risky_attachments", "archive_attachments",
                                "html_attachments", "nested_messages", "type_mismatches", "double_extensions",
                                "text_bodies", "html_bodies", "defects"), 0)
        counts["defects"] = len(msg.defects)
        attached_bytes = 0
        archives = 0
        urls: dict[str, None] = {}
        stack: list[Message] = [msg]
        followed = sample.depth + 1 <= ctx.limits.max_depth  # else the engine reads none of the children
        unread: list[Message] = []  # parts whose insides the scan will not reach
        while stack:
            ctx.check()
            part = stack.pop()
            counts["parts"] += 1
            if counts["parts"] > 4 * ctx.limits.max_children:  # a loop bound; the context limits children
                out.flag(Flag.LIMIT_EXCEEDED, f"mail: stopped after {counts['parts'] - 1} MIME parts")
                unread += [part, *stack]
                break
            if part is not msg:
                counts["defects"] += len(part.defects)
            ctype = part.get_content_type()
            payload = part.get_payload()
            if part.is_multipart() and isinstance(payload, list):
                if ctype in ("message/rfc822", "message/global"):
                    counts["nested_messages"] += 1
                    inner = payload[0] if payload and isinstance(payload[0], Message) else None
                    data = _message_bytes(inner) if inner is not None else b""
                    data = _undo_transfer_encoding(part, data)
                    name = _filename(part) or f"attached-{counts['nested_messages']}.eml"
                    if data:
                        ctx.emit(out, sample, data, name, charge=False)
                    continue
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
                continue
            data = _payload(part)
            filename = _filename(part)
            try:
                disposition = part.get_content_disposition()
            except _DECODE_ERRORS:
                disposition = None
            if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
                text = _body_text(part, data)
                if ctype == "text/html":
                    counts["html_bodies"] += 1
                    body = data if detect(data[:65536]) is FileType.HTML else b"<html>\n" + data
                    suffix = "" if counts["html_bodies"] == 1 else f"-{counts['html_bodies']}"
                    ctx.emit(out, sample, body, f"body{suffix}.html", charge=False)
                    text = html_text(text)
                else:
                    counts["text_bodies"] += 1
                    for url in find_urls(text, MAX_URLS):
                        if url not in urls:
                            urls[url] = None
                            out.urls.append(url)
                bodies.append(text)
                continue
            if not data:
                continue
            counts["attachments"] += 1
            attached_bytes += len(data)
            kind = sniff.kind(data)
            name = filename or f"part-{counts['parts']}.{kind}"
            location = f"{sample.display_path} > {name}"
            if filename and risky_name(filename):
                counts["risky_attachments"] += 1
            if kind in sniff.ARCHIVE_KINDS or kind == "doc":  # what "the password is ..." usually opens
                archives += 1
                counts["archive_attachments"] += kind in sniff.ARCHIVE_KINDS
            ext = os.path.splitext(name.lower())[1]
            if kind in ("html", "hta", "svg") or ext in (".htm", ".html", ".hta", ".shtml", ".xhtml", ".svg"):
                counts["html_attachments"] += 1
                out.add("MAIL_HTML_ATTACHMENT", f"{name} ({kind})", location)
            if filename and (double_extension(filename) or _RTLO in filename):
                counts["double_extensions"] += 1
                out.add("MAIL_DOUBLE_EXTENSION", filename.replace(_RTLO, "<RTLO>"), location)
            claimed = self._mismatch(filename, ctype, kind)
            if claimed:
                counts["type_mismatches"] += 1
                out.add("MAIL_TYPE_MISMATCH", f"{name}: declared {claimed}, content is {kind}", location)
            # MIME parts are the input's own bytes (transfer decoding only shrinks them): no charge
            ctx.emit(out, sample, data, name, charge=False)

        if not followed and counts["nested_messages"]:
            unread = [msg]  # nothing below is scanned: at least say what is in there
        if unread:
            self._sniff_unread(unread, sample, ctx, out)

        # Bodies: URLs are in out.urls already; passwords go to the engine for the attachments below.
        text = "\n".join(bodies)
        for url in find_urls(html_text(text) if counts["html_bodies"] else "", MAX_URLS):
            urls.setdefault(url)
        passwords = find_passwords(text)
        out.passwords.extend(p for p in passwords if p not in out.passwords)
        if passwords and archives:
            out.add("MAIL_PASSWORD_IN_BODY", f"{len(passwords)} candidate(s), e.g. {passwords[0]!r}",
                    sample.display_path)
        f.update({f"mail.{k}": float(v) for k, v in counts.items()})
        f["mail.attachment_bytes_log2"] = math.log2(attached_bytes + 1)
        f["mail.body_chars_log2"] = math.log2(sum(len(b) for b in bodies) + 1)
        f["mail.body_urls"] = float(len(urls))
        f["mail.passwords"] = float(len(passwords))
        _phish.analyse(msg, text, ctx.check, sample, out)

    @staticmethod
    def _sniff_unread(parts: list[Message], sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        """Name and magic bytes of every attachment below `parts`, which no scan will open.

        A message forwarded past `max_depth`, or parts past the member limit, would otherwise hide
        an executable completely; here it costs a walk of the already parsed tree, nothing more.
        """
        stack = list(parts)
        seen = executables = scripts = 0
        while stack and seen < _mail_parse.MAX_PARTS:
            seen += 1
            if seen % 64 == 0:
                ctx.check()
            part = stack.pop()
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in payload if isinstance(p, Message))
                continue
            filename = _filename(part)
            data = _payload(part) if filename or part.get_content_maintype() != "text" else b""
            if data and sniff.kind(data) in sniff.BINARY_RISKY_KINDS:
                executables += 1
            elif filename and risky_name(filename):
                scripts += 1
        out.flag(Flag.LIMIT_EXCEEDED, f"mail: {len(parts)} part(s) past the depth or member limits only sniffed")
        MailExtractor._report_sniffed(_mail_parse.Sniffed(scripts, executables), sample, out)

    @staticmethod
    def _report_sniffed(found: _mail_parse.Sniffed, sample: Sample, out: ExtractorResult) -> None:
        where = f"{sample.display_path} (parts not followed)"
        if found.executables:
            out.add("CORE_EXECUTABLE_PAYLOAD", f"{found.executables} executable attachment(s) in parts not followed",
                    where)
        if found.risky_names:
            out.add("CORE_SCRIPT_NAME", f"{found.risky_names} attachment(s) named like a script in parts not "
                    "followed", where)

    @staticmethod
    def _mismatch(filename: str, ctype: str, kind: str) -> str:
        """What the part claims to be when its content is something else, else ''."""
        ext = os.path.splitext(filename.lower().rstrip(". "))[1]
        if ext in _EXT_KINDS:
            claimed, accepted = ext, _EXT_KINDS[ext]
        elif ctype in _MIME_KINDS:
            claimed, accepted = ctype, _MIME_KINDS[ctype]
        else:
            return ""
        if kind in accepted or (kind in ("bin", "txt") and kind not in _ALWAYS_MISMATCH):
            return ""  # unrecognised content proves nothing (truncated, or a format maldoc does not sniff)
        return claimed

    @staticmethod
    def _headers(msg: Message, sample: Sample, out: ExtractorResult) -> None:
        f = out.features
        where = sample.display_path
        from_name, from_addr = _address(_header(msg, "From"))
        _, reply_addr = _address(_header(msg, "Reply-To"))
        _, return_addr = _address(_header(msg, "Return-Path"))
        from_domain = _domain(from_addr)
        recipients = 0
        for field in ("To", "Cc"):
            with contextlib.suppress(_DECODE_ERRORS):
                recipients += sum(1 for _, a in getaddresses(_all(msg, field)) if a)
        f["mail.recipients"] = float(recipients)
        f["mail.received_hops"] = float(len(msg.get_all("Received") or []))
        f["mail.missing_message_id"] = float(not _header(msg, "Message-ID").strip())
        f["mail.missing_date"] = float(not _header(msg, "Date").strip())
        if f["mail.missing_message_id"] and f["mail.received_hops"]:  # only mail that travelled needs one
            out.add("MAIL_MISSING_MESSAGE_ID", "no Message-ID header", where)

        reply_differs = bool(reply_addr and from_domain and _domain(reply_addr) != from_domain)
        f["mail.reply_to_differs"] = float(reply_differs)
        if reply_differs:
            out.add("MAIL_REPLY_TO_MISMATCH", f"From {from_addr}, Reply-To {reply_addr}", where)
        f["mail.return_path_differs"] = float(bool(return_addr and from_domain and _domain(return_addr) != from_domain))

        spoof = _display_spoof(from_name, from_addr)
        f["mail.display_name_spoof"] = float(bool(spoof))
        if spoof:
            out.add("MAIL_DISPLAY_NAME_SPOOF", f"{from_name!r} <{from_addr}>: {spoof}", where)
        freemail_org = _freemail_organisation(from_name, from_addr)
        f["mail.freemail_organisation"] = float(freemail_org)
        if freemail_org and not spoof:
            out.add("MAIL_FREEMAIL_ORGANISATION", f"{from_name!r} <{from_addr}>", where)

        fails, passes = [], 0
        for value in _all(msg, "Authentication-Results") + _all(msg, "ARC-Authentication-Results"):
            for method, result in _AUTH.findall(value):
                if result.lower() == "fail":
                    fails.append(f"{method.lower()}=fail")
                elif result.lower() == "pass":
                    passes += 1
        for value in _all(msg, "Received-SPF"):
            m = _SPF_HEADER.match(value)
            if m and m.group(1).lower() == "fail":
                fails.append("spf=fail")
            elif m and m.group(1).lower() == "pass":
                passes += 1
        f["mail.auth_fail"] = float(len(fails))
        f["mail.auth_pass"] = float(passes)
        if fails:
            out.add("MAIL_AUTH_FAIL", ", ".join(sorted(set(fails))), where)


def _display_spoof(name: str, addr: str) -> str:
    """Why the display name pretends to be someone the address is not, or ''."""
    if not name or not addr:
        return ""
    domain = _domain(addr)
    shown = _SHOWN_ADDRESS.search(name)
    if shown and _domain(shown.group(0)) != domain:
        return f"name shows another address ({shown.group(0)})"
    # "Aܿpܿpܿlܿe": combining or invisible marks between letters defeat word filters.
    visible = "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) not in _HIDDEN)
    hidden = len(unicodedata.normalize("NFKC", name)) - len(visible)
    if hidden >= 2:
        return f"name padded with {hidden} invisible or combining characters"
    host = addr.rpartition("@")[2].replace("-", "")
    words = set(re.findall(r"[a-z0-9]+", visible.lower()))
    squashed = re.sub(r"[^a-z0-9]", "", visible.lower())
    for brand, owners in sorted(_BRANDS.items()):
        if (brand in words or (len(brand) > 5 and brand in squashed)) and \
                not any(o in host for o in (brand, *owners)):
            return f"name claims {brand}, sent from {host}"
    return ""


def _freemail_organisation(name: str, addr: str) -> bool:
    """An organisation's name ("Banco X - Atendimento", "Billing Team") on a free-mail address."""
    return bool(name) and addr.rpartition("@")[2] in _FREEMAIL and bool(_ORG_WORDS.search(name))
