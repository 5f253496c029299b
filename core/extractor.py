"""The extractor contract and the registry that dispatches by file type.

An extractor is one small module in `extractors/` holding one `Extractor` subclass. It declares
the file types it recognises (`detects`: how each is told from bytes), the types it handles, the
feature names it writes and the rule ids it may raise; the registry discovers the modules and
checks those declarations (against the catalogue, against each other) on first use, and the scan
core runs every extractor registered for a sample's type, in `order`. Adding a format means
adding a module (and its rules file and tests), nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from dataclasses import dataclass, field
from typing import ClassVar

from maldoc import catalogue
from maldoc.filetype import TypeSpec
from maldoc.limits import Budget, Limits
from maldoc.types import ExtractorResult, FileType, Flag, Sample, Sealing

OVERFLOW_SNIFFS = 50  # items past a limit sniffed per node; the rest only counted
# Findings the framework itself adds on an extractor's behalf (limits, sniffed children).
FRAMEWORK_RULES = frozenset({"CORE_LIMIT_EXCEEDED", "CORE_EXECUTABLE_PAYLOAD", "CORE_SCRIPT_NAME", "CORE_ZIP_BOMB"})


class TimeBudgetExceeded(Exception):
    """Raised by `Context.check()` inside long loops when the file's time budget is spent."""


@dataclass(frozen=True, slots=True)
class Options:
    """Per-scan switches that change what is extracted (and so key the feature cache)."""

    passwords: tuple[str, ...] = ()  # tried on encrypted archives and documents, after the defaults
    keep_macros: bool = False  # keep macro source in the result (analysts); never needed to score
    keep_children: bool = False  # keep embedded files' bytes on the nodes (`--extract`)
    yara_dir: str = ""  # analysts' YARA rules, run on every node (`--yara`, MALDOC_YARA_DIR)

    def cache_key(self) -> str:
        key = f"pw={len(self.passwords)}:{','.join(sorted(self.passwords))}"
        if self.yara_dir:
            from maldoc.yara_rules import load

            key += f":yara={load(self.yara_dir).digest}"
        return key


@dataclass(slots=True)
class Context:
    """What an extractor may consult while it runs: limits, the time budget, passwords."""

    limits: Limits
    budget: Budget
    options: Options = field(default_factory=Options)
    passwords: tuple[str, ...] = ()  # options.passwords plus any found on the way (e-mail bodies)

    def check(self) -> None:
        """Call inside any loop whose length the input controls."""
        if time.monotonic() > self.budget.deadline:
            raise TimeBudgetExceeded

    # -- children: the one place max_children, depth and the inflate budget are enforced ---------
    def emit(self, out: ExtractorResult, parent: Sample, data: bytes, name: str, *, charge: bool = True) -> bool:
        """Hand an embedded item to the scan, one level below `parent`. False when a limit refused it
        (flagged, and the item still sniffed for an executable or a risky name)."""
        if len(out.children) >= self.limits.max_children:
            self.overflow(out, parent, name, data, "max_children")
            return False
        if charge and not self.budget.allow_inflate(len(data)):
            self.overflow(out, parent, name, data, "max_decompressed_bytes")
            return False
        out.children.append(parent.child(data, name))
        return True

    def overflow(self, out: ExtractorResult, parent: Sample, name: str, data: bytes | None, limit: str) -> None:
        """An item a limit kept out of the scan: flagged, and cheaply sniffed (names, magic bytes, and
        the member list of a ZIP inside it, a few levels down) so that an executable or a script past
        a limit is still reported."""
        from maldoc.archive import peek_members
        from maldoc.filetype import is_executable, risky_name

        seen = out.features.get("_overflow", 0.0)
        if not seen:
            out.flag(Flag.LIMIT_EXCEEDED, f"embedded items past {limit} were not scanned")
        out.features["_overflow"] = seen + 1
        if seen >= OVERFLOW_SNIFFS:
            return
        where = f"{parent.display_path} > {name}"
        items = [(name, data[:4096] if data is not None else None)]
        if data is not None:
            items += [(f"{name} > {inner}", head) for inner, head in peek_members(data)]
        exe = script = False
        for path, head in items:
            if not exe and head is not None and is_executable(head):
                out.add("CORE_EXECUTABLE_PAYLOAD", "binary past a limit", f"{parent.display_path} > {path} "
                        f"(not scanned: {limit})")
                exe = True
            if not script and risky_name(path.rsplit(" > ", 1)[-1]):
                out.add("CORE_SCRIPT_NAME", path.rsplit(" > ", 1)[-1], f"{where} (not scanned: {limit})")
                script = True


class Extractor:
    """Base class: subclass, set the class attributes, implement `extract`."""

    name: ClassVar[str]  # short and unique; also the prefix of every feature it writes
    version: ClassVar[int] = 1  # bump when its output changes: part of the feature-cache key
    detects: ClassVar[tuple[TypeSpec, ...]] = ()  # the types this extractor owns, and how each is recognised
    file_types: ClassVar[frozenset[FileType]] = frozenset()  # empty: runs on every type
    features: ClassVar[tuple[str, ...]] = ()  # feature names without the "name." prefix
    rules: ClassVar[tuple[str, ...]] = ()  # rule ids it may add
    rule_prefix: ClassVar[str] = ""  # rule ids registered at run time under this prefix (YARA)
    order: ClassVar[int] = 50  # lower first; analysers of what others collected use > 50

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        raise NotImplementedError

    @classmethod
    def feature_names(cls) -> tuple[str, ...]:
        return tuple(f"{cls.name}.{f}" for f in cls.features)


class Unpacker(Extractor):
    """An unpacking step (decryption): runs on its types before every extractor and says whether the
    sample's content is readable. What it opens it hands on with `ctx.emit`, to be scanned as a
    child; the walk records the outcome on the sample (`Sample.sealed`), which is what extractors
    read, never another extractor's output. Its features, rules and version work as an extractor's."""

    def unpack(self, sample: Sample, ctx: Context, out: ExtractorResult) -> Sealing:
        raise NotImplementedError

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        raise TypeError(f"{self.name} is an unpacking step: the walk calls unpack()")


class RegistryError(ValueError):
    pass


_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _discover() -> list[type[Extractor]]:
    import maldoc.extractors as package

    found: list[type[Extractor]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Extractor) and obj is not Extractor \
                    and obj.__module__ == module.__name__ and "name" in obj.__dict__:
                found.append(obj)
    return found


def _validate(classes: list[type[Extractor]]) -> None:
    seen: dict[str, str] = {}
    owner: dict[str, str] = {}
    for cls in classes:
        if cls.name in seen:
            raise RegistryError(f"extractor name {cls.name!r} used by {seen[cls.name]} and {cls.__module__}")
        seen[cls.name] = cls.__module__
        if len(set(cls.features)) != len(cls.features):
            raise RegistryError(f"{cls.__module__}: duplicate feature names")
        catalogue.check(cls.rules, cls.__module__)
        for spec in cls.detects:
            if spec.name == FileType.UNKNOWN or not _TYPE_NAME.fullmatch(spec.name):
                raise RegistryError(f"{cls.__module__}: {spec.name!r} is not a valid type name (lower case, a-z 0-9 _)")
            if owner.setdefault(spec.name, cls.__module__) != cls.__module__:
                raise RegistryError(f"type {spec.name!r} declared by {owner[spec.name]} and {cls.__module__}")
    for cls in classes:
        undeclared = sorted(str(t) for t in cls.file_types if t not in owner)
        if undeclared:
            raise RegistryError(f"{cls.__module__}: handles undeclared types {undeclared}")


class Registry:
    def __init__(self, classes: list[type[Extractor]]) -> None:
        _validate(classes)
        self.extractors: list[Extractor] = [c() for c in sorted(classes, key=lambda c: (c.order, c.name))]
        specs = [spec for c in classes for spec in c.detects]
        self.type_specs: tuple[TypeSpec, ...] = tuple(sorted(specs, key=lambda s: (s.priority, s.name)))
        self.types: tuple[FileType, ...] = (*sorted({s.file_type for s in specs}), FileType.UNKNOWN)
        self.type_labels: dict[FileType, str] = {}
        for spec in self.type_specs:
            self.type_labels.setdefault(spec.file_type, spec.label)
        self._by_type: dict[FileType, list[Extractor]] = {
            t: [e for e in self.extractors if (not e.file_types or t in e.file_types) and not isinstance(e, Unpacker)]
            for t in self.types
        }
        self._unpackers: dict[FileType, list[Unpacker]] = {
            t: [e for e in self.extractors if isinstance(e, Unpacker) and (not e.file_types or t in e.file_types)]
            for t in self.types
        }
        self.declared: dict[str, frozenset[str]] = {
            e.name: frozenset(e.feature_names()) for e in self.extractors
        }
        self.allowed_rules: dict[str, frozenset[str]] = {
            e.name: frozenset(e.rules) | FRAMEWORK_RULES for e in self.extractors}
        self.rule_prefixes: dict[str, str] = {e.name: e.rule_prefix for e in self.extractors}

    def for_type(self, file_type: FileType) -> list[Extractor]:
        """The extractors of a type, in order (unpacking steps not included)."""
        return self._by_type.get(file_type, self._by_type[FileType.UNKNOWN])

    def unpackers_for(self, file_type: FileType) -> list[Unpacker]:
        return self._unpackers.get(file_type, [])

    def versions(self) -> dict[str, int]:
        return {e.name: e.version for e in sorted(self.extractors, key=lambda e: e.name)}


_REGISTRY: Registry | None = None


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry(_discover())
    return _REGISTRY
