"""Static URL features over every URL the other extractors of a node collected (`out.urls`).

Nothing is resolved or fetched: only the text of each URL is read. Runs last (order 90) on every
file type. `find_urls()` is the shared, bounded way for other extractors to pull URLs out of text.

Strong signals (findings): a raw IP address as host, a path ending in an executable or script,
paste and file-hosting services, punycode hosts, and file:// or UNC targets on a remote host
(NTLM hash leaks). Weaker ones (shorteners, cheap TLDs, long random paths, credential-looking
parameters) are features only, left to the model.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from maldoc.extractor import Context, Extractor
from maldoc.filetype import RISKY_EXTENSIONS
from maldoc.stats import text_entropy
from maldoc.types import ExtractorResult, Sample

MAX_URLS = 2000  # analysed per node; a document with more is a link farm, and the count says so
MAX_URL_CHARS = 4096
_SCHEME_PATTERN = r"(?:https?|ftps?|file|smb|hxxps?)://[^\s\"'<>\\^`{|}\x00-\x1f\x7f]{1,4096}"
# UNC \\host\share: the host needs a dot (name or IPv4) so escaped backslashes in code do not match
_UNC_PATTERN = (r"\\\\[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){1,8}(?:@\d{1,5})?"
                r"\\[^\s\"'<>|\x00-\x1f]{1,512}")
_URL_RE = re.compile(f"{_SCHEME_PATTERN}|{_UNC_PATTERN}", re.I)  # the grammar; read in two anchored passes
_SCHEME_URL = re.compile(_SCHEME_PATTERN, re.I)
_UNC = re.compile(_UNC_PATTERN, re.I)
_TRAILING = ".,;:!?)]}'\"*>"



def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# XML namespaces and schema hosts appear in every Office and PDF metadata stream: not links.
NAMESPACE_HOSTS = _words(
    "schemas.openxmlformats.org schemas.microsoft.com www.w3.org w3.org purl.org ns.adobe.com "
    "schemas.xmlsoap.org www.xfa.org www.xfa.com iptc.org ns.useplus.org xml.org www.iec.ch "
    "docs.oasis-open.org openoffice.org www.openoffice.org"
)
SHORTENERS = _words(
    "bit.ly tinyurl.com t.co goo.gl ow.ly is.gd buff.ly rebrand.ly cutt.ly shorturl.at t.ly rb.gy "
    "tiny.cc bitly.com s.id v.gd qr.ae lnkd.in soo.gd clck.ru shorte.st adf.ly bl.ink tr.im "
    "urlz.fr 2no.co iplogger.org"
)
PASTE_HOSTS = _words(
    "pastebin.com paste.ee hastebin.com ghostbin.com rentry.co rentry.org controlc.com "
    "paste.c-net.org pastetext.net justpaste.it privatebin.net textbin.net dpaste.org "
    "raw.githubusercontent.com gist.githubusercontent.com"
)
FILE_HOSTS = _words(
    "drive.google.com docs.google.com dropbox.com dl.dropboxusercontent.com onedrive.live.com "
    "1drv.ms mega.nz mediafire.com wetransfer.com we.tl sendspace.com transfer.sh anonfiles.com "
    "files.catbox.moe catbox.moe filebin.net gofile.io ufile.io cdn.discordapp.com "
    "media.discordapp.net firebasestorage.googleapis.com storage.googleapis.com "
    "s3.amazonaws.com blob.core.windows.net ipfs.io cloudflare-ipfs.com dweb.link "
    "bitbucket.org github.com sharepoint.com web.app pages.dev workers.dev ngrok.io "
    "ngrok-free.app trycloudflare.com 000webhostapp.com weebly.com"
)
# TLDs over-represented in abuse reports (Spamhaus, Interisle): cheap or free registration.
SUSPICIOUS_TLDS = _words(
    "zip mov tk ml ga cf gq top xyz club online site icu buzz rest cyou cfd sbs monster quest "
    "bond click link work fit support live shop vip kim country stream download racing win "
    "loan men review date party science cam ru su ws pw cc"
)
CREDENTIAL_PARAMS = _words(
    "email e-mail mail user username login userid password passwd pass pwd token session "
    "account acct uid"
)
# Web pages load .js from CDNs all day; every other runnable name in a link is a download lure.
EXEC_EXTENSIONS = RISKY_EXTENSIONS - {".js", ".url"}
DEFAULT_PORTS = {"http": 80, "https": 443, "hxxp": 80, "hxxps": 443, "ftp": 21, "ftps": 990}
LONG_PATH = 100
HIGH_ENTROPY = 4.5  # bits per character of the path and query: random tokens, base64 blobs


def _scheme_at_or_after(text: str, pos: int) -> re.Match[str] | None:
    """The leftmost `_SCHEME_URL` match starting at or after `pos`, tried only where one can start:
    every match has `://` right after its 3 to 5 character scheme, while a case-insensitive
    alternation tried at every character is slow on long text."""
    at = text.find("://", pos)
    while at >= 0:
        for start in (at - 5, at - 4, at - 3):
            if start >= pos:
                m = _SCHEME_URL.match(text, start)
                if m is not None:
                    return m
        at = text.find("://", at + 1)
    return None


def _matches(text: str):
    """Scheme URLs and UNC paths in order of appearance, never overlapping: what a finditer of
    `_URL_RE` gives, from two anchored searches (UNC only in text holding a double backslash)."""
    unc_possible = "\\\\" in text
    a = _scheme_at_or_after(text, 0)
    b = _UNC.search(text) if unc_possible else None
    while a is not None or b is not None:
        m = a if b is None or (a is not None and a.start() <= b.start()) else b
        yield m
        end = m.end()
        if a is not None and a.start() < end:
            a = _scheme_at_or_after(text, end)
        if b is not None and b.start() < end:
            b = _UNC.search(text, end)


def clean_url(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it."""
    return url.rstrip(_TRAILING)


def is_namespace(url: str) -> bool:
    """An XML namespace or schema URL (every Office and PDF metadata stream names a dozen): not a link."""
    host = url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1].split(":", 1)[0].lower()
    return host in NAMESPACE_HOSTS


def find_urls(text: str, limit: int = 500, *, namespaces: bool = True) -> list[str]:
    """Distinct URLs (and UNC paths) in `text`, in order of appearance, at most `limit`. With
    `namespaces=False`, XML namespace URLs are left out (Office and PDF parts name them everywhere)."""
    seen: dict[str, None] = {}
    for m in _matches(text):
        url = clean_url(m.group(0))
        if len(url) > 8 and (namespaces or not is_namespace(url)):
            seen.setdefault(url)
            if len(seen) >= limit:
                break
    return list(seen)


def _host_key(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def _in(host: str, names: frozenset[str]) -> bool:
    """host is one of `names` or a subdomain of one."""
    parts = host.split(".")
    return any(".".join(parts[i:]) in names for i in range(len(parts) - 1))


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        # decimal, hex or octal dword hosts (http://3232235777/) resolve in browsers too
        return bool(re.fullmatch(r"(?:0x[0-9a-f]{1,8}|\d{8,10})", host))


class UrlExtractor(Extractor):
    name = "url"
    version = 1
    order = 90  # after every extractor that collects URLs
    features = (
        "count", "distinct_hosts", "ip_hosts", "punycode_hosts", "nonstd_ports", "suspicious_tlds",
        "shorteners", "paste_hosts", "file_hosts", "exec_paths", "credential_params", "long_paths",
        "max_path_entropy", "high_entropy_paths", "remote_file_urls", "userinfo",
    )
    rules = ("URL_IP_HOST", "URL_EXECUTABLE_PATH", "URL_PASTE_HOST", "URL_PUNYCODE_HOST", "URL_REMOTE_FILE")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        f = dict.fromkeys((f"url.{n}" for n in self.features), 0.0)
        hosts: set[str] = set()
        first: dict[str, str] = {}  # rule -> first URL showing it (one finding per rule and node)
        urls = list(dict.fromkeys(u for u in out.urls if isinstance(u, str)))[:MAX_URLS]
        for raw in urls:
            ctx.check()
            parsed = self._parse(raw[:MAX_URL_CHARS])
            if parsed is None:
                continue
            scheme, host, port, path, query, userinfo = parsed
            if host in NAMESPACE_HOSTS:
                continue
            f["url.count"] += 1
            if host:
                hosts.add(_host_key(host))
            if userinfo:
                f["url.userinfo"] += 1
            if _ip(host):
                f["url.ip_hosts"] += 1
                first.setdefault("URL_IP_HOST", raw)
            if "xn--" in host or any(ord(c) > 127 for c in host):
                f["url.punycode_hosts"] += 1
                first.setdefault("URL_PUNYCODE_HOST", raw)
            if port is not None and port != DEFAULT_PORTS.get(scheme, port):
                f["url.nonstd_ports"] += 1
            if host.rsplit(".", 1)[-1] in SUSPICIOUS_TLDS and not _ip(host):
                f["url.suspicious_tlds"] += 1
            if _in(host, SHORTENERS):
                f["url.shorteners"] += 1
            if _in(host, PASTE_HOSTS):
                f["url.paste_hosts"] += 1
                first.setdefault("URL_PASTE_HOST", raw)
            if _in(host, FILE_HOSTS):
                f["url.file_hosts"] += 1
            ext = posixpath.splitext(unquote(path).rstrip("/").lower())[1]
            if ext in EXEC_EXTENSIONS:
                f["url.exec_paths"] += 1
                first.setdefault("URL_EXECUTABLE_PATH", raw)
            if scheme in ("file", "smb", "unc") and host and host not in ("localhost", "127.0.0.1"):
                f["url.remote_file_urls"] += 1
                first.setdefault("URL_REMOTE_FILE", raw)
            if any(k.lower() in CREDENTIAL_PARAMS or "@" in v for k, v in query):
                f["url.credential_params"] += 1
            tail = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
            if len(tail) > LONG_PATH:
                f["url.long_paths"] += 1
            ent = text_entropy(tail)
            f["url.max_path_entropy"] = max(f["url.max_path_entropy"], round(ent, 4))
            if ent > HIGH_ENTROPY and len(tail) >= 20:
                f["url.high_entropy_paths"] += 1
        f["url.distinct_hosts"] = float(len(hosts))
        out.features.update(f)
        for rule, url in first.items():
            out.add(rule, url, sample.display_path)

    @staticmethod
    def _parse(raw: str) -> tuple[str, str, int | None, str, list[tuple[str, str]], bool] | None:
        """(scheme, host, port, path, query pairs, has userinfo), or None when not a URL at all."""
        if raw.startswith("\\\\"):
            host, _, rest = raw[2:].partition("\\")
            host, _, port = host.partition("@")  # \\host@80\share is WebDAV over HTTP
            return ("unc", host.lower(), int(port) if port.isdigit() else None, "/" + rest.replace("\\", "/"),
                    [], False)
        try:
            parts = urlsplit(raw.strip())
            host = (parts.hostname or "").rstrip(".")
            try:
                port = parts.port
            except ValueError:
                port = -1  # out of range or not a number: non-standard by definition
            query = parse_qsl(parts.query, keep_blank_values=True)[:100]
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if not scheme or (not host and scheme != "file"):
            return None
        return scheme, host, port, parts.path, query, "@" in parts.netloc
