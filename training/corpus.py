"""Labelled corpora: a folder with a manifest, label-named folders, or ZIPs (plain or `infected`).

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
from collections.abc import Iterator
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
                yield Item(path=path, label=label)

    def _from_manifest(self, manifest: Path, labels: tuple[str, ...]) -> Iterator[Item]:
        with manifest.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "label" not in rows[0]:
            raise CorpusError(f"{manifest}: needs a 'label' column")
        for row in rows:
            label = row["label"].strip().lower()
            if label not in labels:
                continue
            path = self._locate(row, label)
            if path is None:
                raise CorpusError(f"{manifest}: file for {row.get('sha256') or row.get('path')} not found")
            meta = {k: v for k, v in row.items() if k not in ("label",)}
            yield Item(path=path, label=label, sha256=row.get("sha256", ""), meta=meta)

    def _locate(self, row: dict[str, str], label: str) -> Path | None:
        if row.get("path"):
            p = (self.root / row["path"]).resolve()
            return p if p.is_file() else None
        sha = row.get("sha256", "").strip()
        for folder in (self.root, self._label_dir(label)):
            if folder is not None and (folder / sha).is_file():
                return folder / sha
        return None


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
