"""Shared helpers of the Office extractors: IOC patterns and one parse of each container per sample.

Several extractors read the same OLE file or OOXML package (ole, vba, xlm, officecrypto; ooxml,
vba, xlm). Parsing it once matters for speed, so the parsed container is kept on the sample
(`Sample.parsed`), keyed by the identity of the bytes, for the extractors of that node only.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import TypeVar

import olefile

from maldoc.extractor import Context
from maldoc.stats import log2_size as log2  # noqa: F401 - the Office extractors' name for it
from maldoc.types import ExtractorResult, Flag, Sample

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(r"(?<![\d.])(?:" + _OCTET + r"\.){3}" + _OCTET + r"(?![\d.])")
EXE_NAME_RE = re.compile(
    r"(?i)\b[\w\-]+\.(?:exe|pif|scr|bat|cmd|dll|cpl|ocx|msi|msp|vbs|vbe|js|jse|wsf|wsh|wsc|hta|ps1|psm1|"
    r"jar|lnk|reg|sct|inf|gadget|application)\b"
)
MAX_URLS = 500  # per extractor and sample: enough for features, bounded for hostile input




T = TypeVar("T")


def cached(kind: str, data: bytes, build: Callable[[], T], sample: Sample | None) -> T:
    """`build()` once per (kind, bytes object) on the sample being analysed (`Sample.parsed`, which
    the walk empties when the node's extractors are done); later callers on the same bytes reuse it.
    Without a sample nothing is kept. Exceptions are kept too, so that every extractor sees the same
    failure without re-parsing."""
    if sample is None:
        return build()
    hit = sample.parsed.get(kind)
    if hit is not None and hit[0] is data:
        value = hit[1]
    else:
        try:
            value = build()
        except Exception as exc:
            value = exc
        sample.parsed[kind] = (data, value)
    if isinstance(value, Exception):
        raise value
    return value


def open_ole(data: bytes, sample: Sample | None = None) -> olefile.OleFileIO:
    """The OLE file in `data` (the sample's bytes or a blob inside them), parsed once per sample.
    Raises what olefile raises for broken input."""
    return cached("ole", data, lambda: olefile.OleFileIO(io.BytesIO(data)), sample)


def ole_error_flag(exc: Exception) -> Flag:
    text = str(exc).lower()
    return Flag.TRUNCATED if ("incomplete" in text or "truncated" in text or "size" in text) else Flag.PARSE_ERROR


class Package:
    """An OOXML (ZIP) package read lazily through the bounded archive reader; member bytes are kept."""

    def __init__(self, data: bytes) -> None:
        from maldoc.extractors.zip import zip_members

        self.zf = zipfile.ZipFile(io.BytesIO(data))
        self.members = {m.name: m for m in zip_members(self.zf)}
        self.infos = {i.filename: i for i in self.zf.infolist() if not i.is_dir()}
        self.lower = {n.lower().lstrip("/"): n for n in self.infos}
        self._data: dict[str, bytes | None] = {}
        self.errors: list[str] = []

    def find(self, name: str) -> str | None:
        """The member name matching `name` case-insensitively (Office ignores case), or None."""
        return self.lower.get(name.lower().lstrip("/"))

    def read(self, name: str, ctx: Context, out: ExtractorResult, cap: int | None = None) -> bytes | None:
        """Member bytes, or None when missing, broken or over a limit (flagged on `out`)."""
        from maldoc.archive import read_member

        if name in self._data:
            return self._data[name]
        member = self.members.get(name)
        value = read_member(ctx, out, member, prefix="ooxml", cap=cap) if member is not None else None
        self._data[name] = value
        return value


def open_package(data: bytes, sample: Sample | None = None) -> Package:
    """The OOXML package in `data`, read once per sample."""
    return cached("zip", data, lambda: Package(data), sample)
