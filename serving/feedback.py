"""Analysts' labels: a small durable store of "this file is benign / malicious" corrections.

    FeedbackStore(path).add(sha256, label, note=..., location=..., ...) -> FeedbackRecord
    FeedbackStore(path).latest() -> {sha256: FeedbackRecord}     the newest label per file
    read_latest(path) -> {sha256: FeedbackRecord}                read-only, for the pipeline
    locate(records, quarantine_dir) -> {sha256: Path}            the labelled files found there
    default_db_path() -> Path                                    $MALDOC_FEEDBACK_DB, else the user data dir

SQLite, standard library only, so the CLI and the pipeline use it without the service's extras.
The store never holds sample bytes: a record is the hash, the label, the analyst's note, the
verdict it corrects and where the file can be found (a quarantine path). The retraining pipeline
reads the newest label per hash and takes the file from the quarantine folder by its sha256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

LABELS = ("benign", "malicious")
MAX_NOTE = 2000
MAX_LOCATION = 4096
MAX_QUARANTINE_FILES = 200_000  # a quarantine walk stops here rather than running for hours
MAX_QUARANTINE_BYTES = 64 << 20  # files larger than maldoc scans are not hashed
_SHA256 = re.compile(r"[0-9a-f]{64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('benign', 'malicious')),
    note TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    corrects TEXT NOT NULL DEFAULT '',
    score REAL,
    model_version TEXT NOT NULL DEFAULT '',
    analyst TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_sha256 ON feedback (sha256, id);
"""


class FeedbackError(ValueError):
    """A record that cannot be stored (bad hash, label, or an over-long field)."""


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    sha256: str
    label: str
    note: str = ""
    location: str = ""
    corrects: str = ""  # the verdict label the analyst corrects (clean, suspicious, malicious, error)
    score: float | None = None
    model_version: str = ""
    analyst: str = ""
    source: str = ""  # "api" or "cli"
    created_at: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def default_db_path() -> Path:
    """$MALDOC_FEEDBACK_DB, else `$XDG_DATA_HOME/maldoc/feedback.sqlite` (~/.local/share by default)."""
    if os.environ.get("MALDOC_FEEDBACK_DB"):
        return Path(os.environ["MALDOC_FEEDBACK_DB"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "maldoc" / "feedback.sqlite"


def normalize_sha256(value: str) -> str:
    sha = str(value).strip().lower()
    if not _SHA256.fullmatch(sha):
        raise FeedbackError("sha256 must be 64 hexadecimal characters")
    return sha


class FeedbackStore:
    """One SQLite file; safe to share between threads of one process (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers (the pipeline) never block the service
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, sha256: str, label: str, *, note: str = "", location: str = "", corrects: str = "",
            score: float | None = None, model_version: str = "", analyst: str = "",
            source: str = "") -> FeedbackRecord:
        sha = normalize_sha256(sha256)
        if label not in LABELS:
            raise FeedbackError(f"label must be one of {', '.join(LABELS)}")
        if len(note) > MAX_NOTE:
            raise FeedbackError(f"note longer than {MAX_NOTE} characters")
        if len(location) > MAX_LOCATION or "\x00" in location:
            raise FeedbackError(f"location must be a path of at most {MAX_LOCATION} characters")
        if score is not None and not 0.0 <= float(score) <= 1.0:
            raise FeedbackError("score must be within [0, 1]")
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        values = (sha, label, note, location, corrects, score, model_version, analyst[:200], source, created)
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO feedback (sha256, label, note, location, corrects, score, model_version, analyst, "
                "source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        return FeedbackRecord(int(cursor.lastrowid), *values)

    def latest(self) -> dict[str, FeedbackRecord]:
        with self._lock:
            return _latest(self._db)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])


def _latest(db: sqlite3.Connection) -> dict[str, FeedbackRecord]:
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT f.* FROM feedback f JOIN (SELECT sha256, MAX(id) AS id FROM feedback "
                      "GROUP BY sha256) newest ON f.id = newest.id ORDER BY f.sha256").fetchall()
    return {r["sha256"]: FeedbackRecord(**dict(r)) for r in rows}


def read_latest(path: str | Path) -> dict[str, FeedbackRecord]:
    """The newest label per file, opened read-only (the service may be writing at the same time)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no feedback store")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return _latest(db)
    finally:
        db.close()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate(records: dict[str, FeedbackRecord], quarantine_dir: str | Path) -> dict[str, Path]:
    """The labelled files found in the quarantine folder, by sha256 (always verified by hashing).

    A record's `location` is tried first when it lies inside the folder, then a file named by the
    hash; then the folder is walked (bounded) until every hash is found. Paths outside the folder
    are never read: a record cannot point the pipeline at an arbitrary file.
    """
    root = Path(quarantine_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no quarantine folder")
    wanted = set(records)
    found: dict[str, Path] = {}

    def take(path: Path) -> None:
        try:
            if path.is_file() and path.stat().st_size <= MAX_QUARANTINE_BYTES:
                sha = _sha256_file(path)
                if sha in wanted and sha not in found:
                    found[sha] = path
        except OSError:
            pass

    for sha, record in records.items():
        hints = [Path(record.location)] if record.location else []
        hints.append(root / sha)
        for hint in hints:
            candidate = (root / hint).resolve() if not hint.is_absolute() else hint.resolve()
            if candidate.is_relative_to(root) and sha not in found:
                take(candidate)
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if len(found) == len(wanted) or seen >= MAX_QUARANTINE_FILES:
                return found
            seen += 1
            take(Path(folder) / name)
    return found
