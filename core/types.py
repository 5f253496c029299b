"""Plain data types shared by the scan core and every extractor.

These are dataclasses rather than pydantic models: they cross process boundaries (the worker
pool pickles them) and are created thousands of times per scan, so they stay cheap. The
JSON-facing result is `maldoc.verdict.Verdict`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

EVIDENCE_MAX = 200  # characters of evidence kept per finding: enough to read, too little to leak a payload


class FileType(str):
    """A file type's name: an open set, each type declared by the extractor that owns it.

    Types are recognised from content (`maldoc.filetype.detect`), never from the name alone; each
    extractor module declares the types it recognises with `maldoc.filetype.TypeSpec`, and the
    registry builds detection, the feature schema's type columns and the mail sniffer's labels
    from those declarations. Instances are interned, so `is` comparisons hold; the constants
    below name the types the core itself refers to.
    """

    __slots__ = ()
    _interned: ClassVar[dict[str, FileType]] = {}

    def __new__(cls, value: str) -> FileType:
        got = cls._interned.get(value)
        if got is None:
            got = super().__new__(cls, value)
            if len(cls._interned) < 4096:  # names come from code; never let input grow this without bound
                cls._interned[str(value)] = got
        return got

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"FileType({self.value!r})"

    def __reduce__(self):
        return (FileType, (self.value,))

    # Declared by the extractors (see each one's `detects`); named here because the core and
    # several extractors refer to them.
    OLE: ClassVar[FileType]
    OOXML: ClassVar[FileType]
    ODF: ClassVar[FileType]
    OFFICE_XML: ClassVar[FileType]
    MHTML: ClassVar[FileType]
    RTF: ClassVar[FileType]
    PDF: ClassVar[FileType]
    ONENOTE: ClassVar[FileType]
    EMAIL: ClassVar[FileType]
    ZIP: ClassVar[FileType]
    HTML: ClassVar[FileType]
    UNKNOWN: ClassVar[FileType]  # nothing declared matched: the only type the core itself defines


for _name in ("ole", "ooxml", "odf", "office_xml", "mhtml", "rtf", "pdf", "onenote", "email", "zip", "html",
              "unknown"):
    setattr(FileType, _name.upper(), FileType(_name))


class Flag(enum.StrEnum):
    """Short, stable markers for what went wrong or what stopped the analysis early."""

    ENCRYPTED = "encrypted"  # content could not be decrypted: its insides are unknown, not clean
    DECRYPTED = "decrypted"  # content was encrypted and a password opened it
    TRUNCATED = "truncated"  # the file ends before its structure does
    PARSE_ERROR = "parse_error"  # a parser failed; what it would have found is unknown
    TIMED_OUT = "timed_out"  # the per-file time budget ran out
    LIMIT_EXCEEDED = "limit_exceeded"  # a size, depth, child-count or decompression limit was hit
    WORKER_DIED = "worker_died"  # the process scanning this file crashed or ran out of memory
    UNSUPPORTED = "unsupported"  # a type maldoc has no extractor for
    EMPTY = "empty"  # zero bytes


class Sealing(enum.StrEnum):
    """Whether a sample's content is readable, as the unpacking steps found it (`maldoc.extractor.Unpacker`)."""

    PLAIN = "plain"  # not encrypted
    OPENED = "opened"  # encrypted, and a password opened it: the plaintext is scanned as a child
    SEALED = "sealed"  # encrypted, and no password opened it: its insides are unknown, not clean


@dataclass(frozen=True, slots=True)
class Sample:
    """One file to analyse: its bytes and where it came from."""

    data: bytes
    name: str = ""
    path: tuple[str, ...] = ()  # container path, outermost first, ending with this sample's name
    depth: int = 0
    sealed: Sealing = Sealing.PLAIN  # set by the walk from the unpacking steps, before any extractor runs
    # Parsed forms of `data` (an OLE file, an OOXML package), built once and shared by the extractors
    # of this node only; the walk empties it when they are done.
    parsed: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def display_path(self) -> str:
        return " > ".join(self.path) if self.path else self.name

    def child(self, data: bytes, name: str) -> Sample:
        return Sample(data=data, name=name, path=(*self.path, name), depth=self.depth + 1)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def truncate(text: str, limit: int = EVIDENCE_MAX) -> str:
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Finding:
    """One indicator a person can read. `rule_id` must be in the catalogue (`maldoc.catalogue`)."""

    rule_id: str
    evidence: str = ""
    location: str = ""


@dataclass(slots=True)
class MacroSource:
    """Macro code recovered from a document, kept for analysts (`--show-macros`, `--extract`)."""

    kind: str  # "vba" or "xlm"
    name: str  # module or sheet name
    code: str


class FeatureDict(dict):
    """An extractor's features, checked as they are written: while an extractor runs, only the
    names it declared (always under its own prefix) are stored; others are dropped and recorded.
    Names starting with `_` are the framework's own (entropy, executable marks)."""

    __slots__ = ("_allowed", "_owner", "rejected")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._owner: str | None = None
        self._allowed: frozenset[str] | None = None
        self.rejected: list[tuple[str, str]] = []

    def own(self, owner: str | None, allowed: frozenset[str] | None = None) -> None:
        self._owner, self._allowed = owner, allowed

    def _ok(self, key: str) -> bool:
        if self._allowed is None or key.startswith("_") or key in self._allowed:
            return True
        self.rejected.append((self._owner or "?", key))
        return False

    def __setitem__(self, key: str, value: float) -> None:
        if self._ok(key):
            super().__setitem__(key, value)

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: float = 0.0) -> float:
        if key not in self:
            self[key] = default
        return self.get(key, default)

    def __reduce__(self):
        return (dict, (dict(self),))


@dataclass(slots=True)
class ExtractorResult:
    """What the extractors learnt about one sample (one node of the scan tree).

    Every extractor registered for the sample's type writes into the same result, in order;
    later extractors (the URL analyser) read what earlier ones collected.
    """

    findings: list[Finding] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=FeatureDict)
    children: list[Sample] = field(default_factory=list)
    flags: set[Flag] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)  # every URL seen, for the URL features
    macros: list[MacroSource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per failure, for the verdict
    passwords: list[str] = field(default_factory=list)  # candidates found here (mail bodies), tried below

    def add(self, rule_id: str, evidence: str = "", location: str = "") -> None:
        self.findings.append(Finding(rule_id, truncate(evidence), truncate(location, 120)))

    def flag(self, flag: Flag, message: str = "") -> None:
        self.flags.add(flag)
        if message:
            self.errors.append(truncate(message, 300))


@dataclass(slots=True)
class Node:
    """A scanned sample with its analysis and the analysed samples found inside it."""

    name: str
    path: tuple[str, ...]
    depth: int
    sha256: str
    size: int
    file_type: FileType
    result: ExtractorResult
    children: list[Node] = field(default_factory=list)
    elapsed_ms: float = 0.0
    data: bytes | None = None  # kept only for embedded items when extraction was asked for
    hashes: dict[str, str] | None = None  # the input's md5/sha1/sha256/tlsh (top-level node only)

    @property
    def display_path(self) -> str:
        return " > ".join(self.path) if self.path else self.name

    def walk(self):
        """This node and every descendant, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))
