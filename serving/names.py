"""File names from uploads: decoded per RFC 7578 (UTF-8, `filename*` per RFC 5987), then cleaned.

A name is for display and logs only (the type always comes from the content), so an odd one is
cleaned, never refused: the last path component, without control or bidi characters, at most
255 characters.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

MAX_NAME = 255  # characters of a file name kept
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 (what browsers and RFC 7578 send), else Latin-1 (older clients)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _ext_value(value: str) -> str | None:
    """An RFC 5987 ext-value (charset'language'percent-encoded), or None when it is not one."""
    charset, sep, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not sep or not sep2:
        return None
    charset = charset.strip().lower() or "utf-8"
    if charset not in ("utf-8", "iso-8859-1", "us-ascii"):
        charset = "utf-8"  # RFC 5987 knows only these; anything else is read as UTF-8, replacing errors
    return urllib.parse.unquote(encoded, encoding=charset, errors="replace")


def content_disposition(raw: bytes) -> tuple[str, str | None]:
    """(form field name, file name or None) of a part's Content-Disposition header.

    `filename*` wins over `filename`, as RFC 6266 says for HTTP; RFC 7578 forbids senders to use it,
    but some do, and a receiver that ignores it shows the fallback name instead of the real one.
    """
    params: dict[str, str] = {}
    for match in _PARAM.finditer(_text(raw)):
        key, value = match.group(1).lower(), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(key, value)
    filename = params.get("filename")
    if "filename*" in params:
        filename = _ext_value(params["filename*"]) or filename
    return params.get("name", ""), filename


_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, bidi overrides, zero-width, unpaired


def clean_name(name: str) -> str:
    """A file name fit for display and logs: the last path component, NFC, without control, format
    or bidi characters, at most 255 characters; '.' and '..' become empty."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in _UNSAFE).strip()
    if name.strip(".") == "":
        return ""
    return name[:MAX_NAME]
