"""Labelled corpora: a folder with a manifest, label-named folders, or ZIPs (plain or `infected`).

    Corpus(root).items(labels) -> Iterator[Item]      one corpus, as a context manager
    load_corpora(paths, labels) -> list[Item]         several, deduplicated by sha256
    stratified_limit(items, n, seed=0) -> list[Item]  at most n, in proportion per label and format

A corpus is opened as a context manager because password ZIPs are unpacked into a temporary
folder (Python's ZipCrypto runs at about 2.4 MB/s; `unzip -P` is ~50x faster), which is removed
on exit. Only the loader writes samples to disk; the scan path never does.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyzipper

LABELS = ("malicious", "benign", "malformed")
ZIP_PASSWORDS = (b"infected",)
MANIFEST_NAMES = ("manifest.csv", "labels.csv")


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled file of a corpus. `meta` holds the manifest's other columns."""

    path: Path
    label: str
    sha256: str = ""
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # the Corpus whose temporary folder holds `path`: alive as long as an item is (see load_corpora)
    owner: object = field(default=None, repr=False, hash=False, compare=False)

    def read(self) -> bytes:
        return self.path.read_bytes()

    def get(self, column: str, default: str = "") -> str:
        return self.meta.get(column, default)


class CorpusError(ValueError):
    pass


def _unpack(archive: Path, dest: Path) -> None:
    """Unpack a (possibly ZipCrypto or AES) ZIP, flat, members keeping their names."""
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("unzip"):
        cmd = ["unzip", "-qq", "-o", "-j", "-P", ZIP_PASSWORDS[0].decode(), str(archive), "-d", str(dest)]
        proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
        if proc.returncode in (0, 1):  # 1 = warnings only
            return
    with pyzipper.AESZipFile(archive) as zf:  # AES, or no unzip binary: slower but complete
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = Path(info.filename).name
            if not name or name.startswith("."):
                continue
            data = None
            for pwd in (None, *ZIP_PASSWORDS):
                try:
                    data = zf.read(info, pwd=pwd)
                    break
                except (RuntimeError, zipfile.BadZipFile):
                    continue
            if data is None:
                raise CorpusError(f"{archive}: cannot open {info.filename} with the known passwords")
            (dest / name).write_bytes(data)


class Corpus:
    """Iterate labelled `Item`s from `root`.

    Layouts understood, in this order:
      1. a manifest (`manifest.csv` / `labels.csv`) with `label` and `sha256` or `path` columns,
         files found beside it, in `<label>/`, or inside `<label>.zip` (password `infected` or none);
      2. label-named folders or ZIPs (`malicious/`, `benign.zip`, ...) without a manifest.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise CorpusError(f"{self.root}: no such corpus folder")
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _label_dir(self, label: str) -> Path | None:
        folder = self.root / label
        if folder.is_dir():
            return folder
        archive = self.root / f"{label}.zip"
        if archive.is_file():
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="maldoc-corpus-")
            dest = Path(self._tmp.name) / label
            if not dest.exists():
                _unpack(archive, dest)
            return dest
        return None

    def manifest(self) -> Path | None:
        return next((self.root / n for n in MANIFEST_NAMES if (self.root / n).is_file()), None)

    def items(self, labels: tuple[str, ...] = LABELS) -> Iterator[Item]:
        manifest = self.manifest()
        if manifest is not None:
            yield from self._from_manifest(manifest, labels)
            return
        for label in labels:
            folder = self._label_dir(label)
            if folder is None:
                continue
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                yield Item(path=path, label=label, owner=self)

    def _from_manifest(self, manifest: Path, labels: tuple[str, ...]) -> Iterator[Item]:
        with manifest.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in (reader.fieldnames or [])]
            if "label" not in columns:
                raise CorpusError(f"{manifest}: no 'label' column (have: {', '.join(columns) or 'no header'})")
            if not {"sha256", "path"} & set(columns):
                raise CorpusError(f"{manifest}: needs a 'sha256' or 'path' column")
            rows = [{(k or "").strip().lower(): (v or "") for k, v in row.items()} for row in reader]
        for row in rows:
            label = row["label"].strip().lower()
            if label not in labels:
                continue
            path = self._locate(row, label)
            if path is None:
                raise CorpusError(f"{manifest}: file for {row.get('sha256') or row.get('path')} not found")
            meta = {k: v for k, v in row.items() if k not in ("label",)}
            yield Item(path=path, label=label, sha256=row.get("sha256", "").strip().lower(), meta=meta, owner=self)

    def _locate(self, row: dict[str, str], label: str) -> Path | None:
        if row.get("path"):
            p = (self.root / row["path"]).resolve()
            return p if p.is_file() else None
        sha = row.get("sha256", "").strip()
        for folder in (self.root, self._label_dir(label)):
            if folder is not None and (folder / sha).is_file():
                return folder / sha
        return None


def load_corpora(paths: Iterable[str | Path], labels: tuple[str, ...] = LABELS, *,
                 log: Callable[[str], None] | None = None) -> list[Item]:
    """The items of every corpus in `paths`, the first copy of each sha256 only.

    Each item keeps its corpus open (`Item.owner`): a ZIP corpus' temporary folder is removed when
    the last of its items is garbage-collected, or at exit. Every item's meta gains `corpus` (the
    folder it came from). An empty result is an error: there is nothing to train or measure on.
    """
    out: list[Item] = []
    seen: set[str] = set()
    duplicates = 0
    paths = [Path(p) for p in paths]
    for root in paths:
        corpus = Corpus(root)
        count = 0
        for item in corpus.items(labels):
            count += 1
            sha = item.sha256 or _file_sha256(item.path)
            if sha in seen:
                duplicates += 1
                continue
            seen.add(sha)
            out.append(Item(item.path, item.label, sha, {**item.meta, "corpus": str(root)}, owner=corpus))
        if count == 0 and log and len(paths) > 1:  # alone, the error below says it
            log(f"warning: {root}: no {'/'.join(labels)} files")
    if duplicates and log:
        log(f"{duplicates} files appear in more than one corpus (or twice): each is used once")
    if not out:
        where = ", ".join(map(str, paths)) or "no corpus given"
        raise CorpusError(f"{where}: no labelled files ({', '.join(labels)}) found")
    return out


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def item_format(item) -> str:
    """The manifest's format, else the file extension (synthetic items), else empty."""
    fmt = (item.get("format") or item.get("extension") or "").strip().lower()
    return fmt or Path(str(item.path)).suffix.lstrip(".").lower()


def stratified_limit(items: list, n: int, seed: int = 0) -> list:
    """At most `n` items, each (label, format) stratum keeping its share (at least one file each
    while `n` allows), drawn reproducibly for `seed`. The order of `items` is kept."""
    import random

    if n <= 0:
        raise CorpusError("--limit must be a positive number of files")
    if n >= len(items):
        return list(items)
    strata: dict[tuple[str, str], list[int]] = {}
    for i, item in enumerate(items):
        strata.setdefault((item.label, item_format(item)), []).append(i)
    rng = random.Random(f"maldoc-limit/{seed}")
    keys = sorted(strata)
    quota = {k: 0 for k in keys}
    for k in sorted(keys, key=lambda k: -len(strata[k]))[:n]:  # one each, largest strata first
        quota[k] = 1
    left = n - sum(quota.values())
    if left > 0:  # the rest in proportion to what each stratum still holds (largest remainders)
        room = {k: len(strata[k]) - quota[k] for k in keys}
        total = sum(room.values())
        exact = {k: left * room[k] / total for k in keys}
        for k in keys:
            quota[k] += int(exact[k])
        rest = n - sum(quota.values())
        for k in sorted(keys, key=lambda k: -(exact[k] - int(exact[k])))[:rest]:
            quota[k] += 1
    chosen: list[int] = []
    for k in keys:
        chosen += rng.sample(strata[k], min(quota[k], len(strata[k])))
    return [items[i] for i in sorted(chosen)]


def shared_corpus() -> Path | None:
    """The development corpus: $MALDOC_CORPUS, or `../shared/corpus` beside the checkout."""
    env = os.environ.get("MALDOC_CORPUS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = Path(__file__).resolve()
    for parent in (Path.cwd(), *here.parents):
        candidate = parent.parent / "shared" / "corpus"
        if (candidate / "manifest.csv").is_file():
            return candidate
    return None


def shared_corpora() -> list[Path]:
    """The development corpora: the shared corpus and, beside it, `corpus2` when present."""
    first = shared_corpus()
    if first is None:
        return []
    return [p for p in (first, first.parent / "corpus2") if (p / "manifest.csv").is_file()]


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """A labelled file held in memory (synthetic samples): the `Item` interface without a disk file."""

    data: bytes = field(repr=False)
    label: str
    name: str = ""
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def path(self) -> Path:
        return Path(self.name)

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.data).hexdigest()

    def read(self) -> bytes:
        return self.data

    def get(self, column: str, default: str = "") -> str:
        return self.meta.get(column, default)
