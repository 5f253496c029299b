"""Words, names and inert addresses the templates draw from, all through a seeded `random.Random`.

Every host is reserved by RFC 2606 / RFC 6761 (example.com/.net/.org, *.invalid, *.test) and
every IP is from the documentation ranges of RFC 5737, so no generated URL can ever resolve to a
real server. `inert_url` is the only way the templates build URLs; `assert_inert` checks them.
"""

from __future__ import annotations

import ipaddress
import random
import re
import string

RESERVED_SUFFIXES = (".example.com", ".example.net", ".example.org", ".invalid", ".test")
RESERVED_NAMES = ("example.com", "example.net", "example.org")
DOC_NETS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))

_BAD_LABELS = ["cdn-update", "secure-docs", "office365-login", "invoice-portal", "files-share", "dl",
               "mail-verify", "account-check", "sharepoint-online", "onedrive-files", "static", "upd"]
_GOOD_LABELS = ["www", "docs", "intranet", "wiki", "support", "news", "shop", "blog", "status", "help"]
_PATH_WORDS = ["invoice", "report", "doc", "update", "files", "download", "view", "share", "img", "data",
               "assets", "api", "v2", "q3", "policy", "form", "login", "payload", "stage", "cdn"]

COMPANIES = ["Northwind Traders", "Contoso Ltd", "Fabrikam Inc", "Tailspin Toys", "Adventure Works",
             "Wide World Importers", "Litware Inc", "Proseware", "Woodgrove Bank", "Alpine Ski House"]
PEOPLE = ["Alex Morgan", "Sam Taylor", "Jordan Lee", "Casey Brown", "Riley Chen", "Jamie Novak",
          "Robin Schmidt", "Avery Patel", "Dana Kowalski", "Quinn Larsen"]
LURES = ["Invoice", "Payment_Advice", "Remittance", "Order_Confirmation", "Shipping_Notice", "Statement",
         "Purchase_Order", "Quote", "Contract", "Salary_Review", "Report", "Minutes", "Agenda", "Budget",
         "Timesheet", "Proposal", "Receipt", "Delivery_Note", "Survey", "Newsletter"]

_SENTENCES = [
    "Please find the quarterly figures attached for your review.",
    "The meeting has been moved to Thursday at ten in the small conference room.",
    "Revenue grew modestly compared with the same period last year.",
    "Our team completed the migration of the reporting database ahead of schedule.",
    "Let me know if any of the totals in the summary table look wrong.",
    "The warehouse inventory was reconciled against the purchase orders.",
    "Travel expenses must be submitted before the end of the month.",
    "The attached schedule lists the holiday cover for each department.",
    "Customer satisfaction scores improved in every region except the north.",
    "The new onboarding checklist is now available on the intranet.",
    "Thank you for your order; the items will ship within three working days.",
    "The audit found no material issues in the sampled transactions.",
    "Please update your contact details in the staff directory.",
    "The draft budget assumes flat headcount for the next two quarters.",
    "Minutes of the last board meeting are included for reference.",
]
_URGENT = [
    "Your invoice is overdue. Enable content to view the protected document.",
    "This document is protected. Click Enable Editing and then Enable Content.",
    "Payment could not be processed. Review the attached statement immediately.",
    "Your mailbox will be suspended today unless you verify your account.",
    "The file was created in an earlier version of Office. Enable macros to decrypt it.",
    "Urgent: the remittance details changed, see the attached document.",
]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_SENTENCES) for _ in range(n))


def lure(rng: random.Random) -> str:
    return rng.choice(_URGENT)


def paragraphs(rng: random.Random, count: int) -> list[str]:
    return [words(rng, rng.randint(2, 5)) for _ in range(count)]


def stem(rng: random.Random) -> str:
    """A document-like base name, the same pool for both labels so names carry no label."""
    style = rng.randrange(3)
    base = rng.choice(LURES)
    if style == 0:
        return f"{base}_{rng.randint(1000, 99999)}"
    if style == 1:
        return f"{base}_{rng.choice(COMPANIES).split()[0]}_{rng.randint(1, 12):02d}"
    return f"{base.lower()}-{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}"


def ident(rng: random.Random, lo: int = 5, hi: int = 12) -> str:
    """A random identifier, as obfuscators produce (starts with a letter)."""
    first = rng.choice(string.ascii_letters)
    return first + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(lo, hi) - 1))


def host(rng: random.Random, *, bad: bool) -> str:
    labels = _BAD_LABELS if bad else _GOOD_LABELS
    kind = rng.randrange(4 if bad else 3)
    if kind == 0:
        return rng.choice(RESERVED_NAMES)
    if kind == 1:
        return f"{rng.choice(labels)}.{rng.choice(RESERVED_NAMES)}"
    if kind == 2:
        return f"{rng.choice(labels)}-{rng.randint(1, 99)}.{rng.choice(('invalid', 'test'))}"
    net = rng.choice(DOC_NETS)
    return str(net.network_address + rng.randint(1, 254))


def inert_url(rng: random.Random, *, bad: bool = True, scheme: str | None = None, ext: str = "") -> str:
    if scheme is None:
        scheme = rng.choice(("http", "https")) if bad else "https"
    parts = [rng.choice(_PATH_WORDS) for _ in range(rng.randint(1, 3))]
    path = "/".join(parts) + (f"/{ident(rng, 4, 8).lower()}{ext}" if ext else "")
    return f"{scheme}://{host(rng, bad=bad)}/{path}"


def is_inert_host(name: str) -> bool:
    name = name.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return name in RESERVED_NAMES or name.endswith(RESERVED_SUFFIXES)
    return any(ip in net for net in DOC_NETS)


_URL_RE = re.compile(rb"(?i)\b(?:https?|ftp)://([A-Za-z0-9.\-]+)")


def foreign_hosts(data: bytes) -> set[str]:
    """Hosts of plain-text URLs in `data` that are not reserved (used by tests: must be empty)."""
    return {m.group(1).decode().lower() for m in _URL_RE.finditer(data)
            if not is_inert_host(m.group(1).decode()) and not _is_schema_host(m.group(1).decode())}


_SCHEMA_HOSTS = ("schemas.openxmlformats.org", "schemas.microsoft.com", "purl.org", "www.w3.org", "ns.adobe.com",
                 "www.openxmlformats.org", "schemas.xmlsoap.org")


def _is_schema_host(name: str) -> bool:
    return name.lower() in _SCHEMA_HOSTS  # XML namespace names, never fetched
