"""E-mail phishing features: where the links go against who sent the message, what the anchors claim,
lure wording, and bodies that are little more than a link.

Called once per message by the mail extractor, after its own walk: the parsed tree is walked again
here (bounded), because these features need the raw HTML of the bodies (anchors and their text),
which the mail extractor hands to the HTML extractor as children. Domains are compared by their
registered domain (`mail.example.co.uk` and `www.example.co.uk` are one sender) from the Public
Suffix List snapshot that `publicsuffixlist` ships: nothing is fetched at run time.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import itertools
import os
import re
from collections.abc import Callable
from email.message import Message
from email.utils import getaddresses

from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors._mail_text import LURE_TERMS, fold_confusables, lure_hits, mixed_script_words
from maldoc.extractors.urls import SHORTENERS, _in, find_urls
from maldoc.filetype import risky_name
from maldoc.types import ExtractorResult, Sample

MAX_PARTS = 2000  # parts walked here; the mail extractor already reported on the rest
MAX_HTML_CHARS = 1 << 20  # of each HTML body searched for anchors
MAX_ANCHORS = 2000
MAX_LINKS = 500
SHORT_BODY = 80  # visible characters (subject included), links removed, under which a body is "only a link"
_ERRORS = (ValueError, LookupError, UnicodeError, TypeError, AttributeError)

_ANCHOR_OPEN = re.compile(r"<a\b([^<>]{0,2000})>", re.I)
ANCHOR_TEXT = 2000  # characters after <a ...> searched for its </a>
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]{0,4000})"|'([^']{0,4000})'|([^\s"'<>]{1,4000}))""", re.I)
_IMG = re.compile(r"<img\b", re.I)
_ALNUM = re.compile(r"^[A-Za-z0-9]{8,40}$")
_SCRIPT_HREF = re.compile(r"""\b(?:href|src|action)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.I)
_TAGS = re.compile(r"<[^<>]{0,4000}>")
# A domain written in an anchor's text ("www.bank.com", "https://login.bank.com/...").
_SHOWN_DOMAIN = re.compile(r"(?<![\w@.-])(?:https?://)?((?:[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\.)+[a-z]{2,24})\b",
                           re.I)
_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)", re.I)
# Attachment names of the documents lures pretend to deliver.
_LURE_NAME = re.compile(
    r"invoice|inv[_-]?\d|factur|fatura|rechnung|payment|pagamento|pago|remittance|receipt|recibo|statement|"
    r"order|purchase|quotation|cotiza|boleto|nota[\s_.-]?fiscal|comprovante|swift|scan|document|contract|"
    r"delivery|shipping|dhl|fedex|voicemail|audio|fax|salary|payroll|bonus|refund|update|form|account|verif|"
    r"secur|login|sign", re.I)
# Types that run or render when opened (archives and macro documents are not counted here: business mail
# sends contracts as .zip and .xlsm, and their insides are scanned anyway).
_RUNNABLE_EXT = frozenset((".htm", ".html", ".shtml", ".xhtml", ".hta", ".svg", ".one", ".iso", ".img", ".vhd",
                           ".vhdx", ".lnk", ".jar"))

FEATURES = (
    "link_domains", "foreign_link_ratio", "anchor_mismatches", "script_hrefs", "shortener_links", "ip_links",
    "lure_terms", "lure_density", "link_only_body", "image_link_body", "lure_attachments", "homoglyph_words",
    "homoglyph_ratio", "random_attachment_names",
)
RULES = ("MAIL_LINK_TEXT_MISMATCH", "MAIL_SCRIPT_LINK", "MAIL_LURE_ATTACHMENT")


@functools.cache
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the bundled list; PublicSuffixList() never downloads


def registered_domain(host: str) -> str:
    """`login.mail.example.co.uk` -> `example.co.uk`; an IP literal or a bare suffix stays as it is."""
    host = host.strip().strip(".").lower()
    if not host or _is_ip(host):
        return host
    try:
        return _psl().privatesuffix(host) or host
    except _ERRORS:
        return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def url_host(url: str) -> str:
    m = _HOST.match(url.strip())
    return m.group(1).lower().strip("[]") if m else ""


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except _ERRORS:
        return b""
    return data if isinstance(data, bytes) else b""


def _decode(part: Message, data: bytes) -> str:
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return data.decode(charset, "replace")
    except _ERRORS:
        return data.decode("latin-1")


def _filename(part: Message) -> str:
    try:
        return str(part.get_filename() or "")
    except _ERRORS:
        return ""


def _random_name(name: str) -> bool:
    """A machine-made file name (`csWuYjyqO2IR.pdf`): one run of letters and digits, case flipping often."""
    stem = os.path.splitext(name.strip())[0]
    if not _ALNUM.match(stem):
        return False
    letters = [c for c in stem if c.isalpha()]
    flips = sum(a.isupper() != b.isupper() for a, b in itertools.pairwise(letters))
    return flips >= 4


def _sender_domain(msg: Message) -> str:
    try:
        pairs = getaddresses([str(v) for v in msg.get_all("From") or []])
    except _ERRORS:
        return ""
    addr = next((a for _, a in pairs if "@" in a), "")
    return registered_domain(addr.rpartition("@")[2]) if addr else ""


def _anchors(markup: str) -> list[tuple[str, str]]:
    """(href, visible text) of each <a href> in `markup`, at most MAX_ANCHORS."""
    found = []
    markup = markup[:MAX_HTML_CHARS]
    low = markup.lower()
    for i, m in enumerate(_ANCHOR_OPEN.finditer(markup)):
        if i >= MAX_ANCHORS:
            break
        h = _HREF.search(m.group(1))
        if not h:
            continue
        close = low.find("</a", m.end(), m.end() + ANCHOR_TEXT)  # a plain find: no regex re-reads the rest
        shown = markup[m.end():close] if close >= 0 else ""
        href = html.unescape(next(g for g in h.groups() if g is not None)).strip()
        found.append((href, html.unescape(_TAGS.sub(" ", shown)).strip()))
    return found


def analyse(msg: Message, text: str, check: Callable[[], None], sample: Sample, out: ExtractorResult) -> None:
    """Write the phishing features of one message (`text`: its subject and visible body text)."""
    f = out.features
    sender = _sender_domain(msg)
    htmls: list[str] = []
    lure_attachments: list[str] = []
    random_names = 0
    for i, part in enumerate(msg.walk()):
        if i >= MAX_PARTS:
            break
        if i % 64 == 63:
            check()
        if part.is_multipart():
            continue
        name = _filename(part)
        ctype = part.get_content_type()
        if name and _random_name(name):
            random_names += 1
        if ctype == "text/html" and not name:
            htmls.append(_decode(part, _payload(part))[:MAX_HTML_CHARS])
            continue
        if name and _LURE_NAME.search(name):
            data = _payload(part)
            kind = sniff.kind(data) if data else ""
            ext = os.path.splitext(name.lower().rstrip(". "))[1]
            if risky_name(name) or ext in _RUNNABLE_EXT or kind in sniff.SCRIPT_KINDS \
                    or kind in sniff.BINARY_RISKY_KINDS or kind in ("html", "svg", "one"):
                lure_attachments.append(name)

    anchors = [a for markup in htmls for a in _anchors(markup)][:MAX_ANCHORS]
    links = list(dict.fromkeys([*find_urls(text, MAX_LINKS), *(h for h, _ in anchors if "://" in h)]))[:MAX_LINKS]
    hosts = [h for h in (url_host(u) for u in links) if h]
    domains = {registered_domain(h) for h in hosts}
    f["mail.link_domains"] = float(len(domains))
    foreign = [h for h in hosts if sender and registered_domain(h) != sender]
    f["mail.foreign_link_ratio"] = len(foreign) / len(hosts) if hosts and sender else 0.0
    f["mail.shortener_links"] = float(sum(_in(h, SHORTENERS) for h in hosts))
    f["mail.ip_links"] = float(sum(_is_ip(h) for h in hosts))

    mismatches = []
    for href, shown in anchors:
        target = url_host(href)
        m = _SHOWN_DOMAIN.search(shown)
        if target and m and registered_domain(m.group(1)) != registered_domain(target) \
                and "." in registered_domain(m.group(1)):
            mismatches.append(f"{m.group(1)[:60]} -> {target[:60]}")
    f["mail.anchor_mismatches"] = float(len(mismatches))
    script_hrefs = sum(len(_SCRIPT_HREF.findall(markup)) for markup in htmls)
    f["mail.script_hrefs"] = float(script_hrefs)

    visible = text  # the mail extractor's text holds the HTML bodies' visible text already
    terms, hits = lure_hits(fold_confusables(visible))
    mixed, words = mixed_script_words(visible)
    f["mail.homoglyph_words"] = float(mixed)
    f["mail.homoglyph_ratio"] = mixed / words if words else 0.0
    f["mail.lure_terms"] = float(len(terms))
    f["mail.lure_density"] = 1000 * hits / max(len(visible), 1000)  # per 1,000 characters, short bodies as 1,000
    bare = visible
    for url in links:
        bare = bare.replace(url, " ")
    short = len(" ".join(bare.split())) < SHORT_BODY
    f["mail.link_only_body"] = float(short and bool(links))
    images = sum(len(_IMG.findall(markup)) for markup in htmls)
    f["mail.image_link_body"] = float(short and images > 0 and bool(anchors))
    f["mail.lure_attachments"] = float(len(lure_attachments))
    f["mail.random_attachment_names"] = float(random_names)

    where = sample.display_path
    if mismatches:
        out.add("MAIL_LINK_TEXT_MISMATCH", "; ".join(mismatches[:3]), where)
    if script_hrefs:
        out.add("MAIL_SCRIPT_LINK", f"{script_hrefs} javascript:/vbscript:/data: link(s) in the HTML body", where)
    if lure_attachments:
        out.add("MAIL_LURE_ATTACHMENT", ", ".join(n[:80] for n in lure_attachments[:3]), where)


__all__ = ["FEATURES", "LURE_TERMS", "RULES", "analyse", "registered_domain", "url_host"]
