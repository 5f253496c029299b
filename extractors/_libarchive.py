"""libarchive (through libarchive-c) as a streaming `Member` source, read from memory only.

libarchive reads 7z, RAR 4/5, CAB, TAR, ISO 9660 and the single-file compressors from a buffer
(`memory_reader`), so member content never touches the disk. Entries come in archive order and
each must be read before the next header is parsed, which is how `maldoc.archive.unpack` consumes
them. It cannot decrypt 7z or RAR content (7z goes through py7zr for that, see `sevenzip.py`), so
an encrypted member answers `WrongPassword` to every password and ends up counted as unopened.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass

from maldoc.archive import Member, MemberError, WrongPassword
from maldoc.extractor import Context
from maldoc.types import Flag

_LOADED: tuple | None = None


def _load() -> tuple:
    """(libarchive, ffi, ArchiveError, None) or (None, None, OSError, reason); loaded on first use, since
    loading the C library costs tens of milliseconds in every worker that never sees an archive."""
    global _LOADED
    if _LOADED is None:
        try:
            import libarchive
            from libarchive import ffi
            from libarchive.exception import ArchiveError

            ffi.ffi("entry_is_encrypted", [ctypes.c_void_p], ctypes.c_int)
            _LOADED = (libarchive, ffi, ArchiveError, None)
        except (ImportError, OSError, AttributeError) as exc:  # libarchive13 (the C library) or libarchive-c
            _LOADED = (None, None, OSError, f"libarchive unavailable ({type(exc).__name__})")
    return _LOADED


def unavailable() -> str | None:
    """Why libarchive cannot be used here, or None when it can."""
    return _load()[3]


class Unreadable(Exception):
    """libarchive refused the archive or its next header (categorical text only)."""

    def __init__(self, flag: Flag, what: str) -> None:
        super().__init__(what)
        self.flag = flag
        self.what = what


def _categorise(exc: Exception) -> Unreadable:
    text = str(exc).lower()
    if "encrypt" in text:
        return Unreadable(Flag.ENCRYPTED, "headers are encrypted")
    if "truncat" in text or "premature" in text or "unexpected end" in text:
        return Unreadable(Flag.TRUNCATED, "ends before its directory does")
    if "unsupported" in text or "not supported" in text:
        return Unreadable(Flag.UNSUPPORTED, "uses a feature libarchive cannot read")
    return Unreadable(Flag.PARSE_ERROR, "unreadable header")


@dataclass(slots=True)
class Walk:
    """Counts of what was not a regular file, filled while `members()` is consumed."""

    dirs: int = 0
    links: int = 0
    error: Unreadable | None = None
    format_name: str = ""


def members(data: bytes, ctx: Context, walk: Walk, *, format_name: str, filter_name: str = "none",
            default_name: str = "data") -> Iterator[Member]:
    """The regular-file entries of `data` as Members, streaming. Errors end the walk into `walk.error`."""
    libarchive, ffi, archive_error, reason = _load()
    if libarchive is None:
        walk.error = Unreadable(Flag.UNSUPPORTED, reason or "libarchive unavailable")
        return
    try:
        with libarchive.memory_reader(data, format_name=format_name, filter_name=filter_name) as archive:
            for index, entry in enumerate(archive):
                ctx.check()
                if entry.isdir:
                    walk.dirs += 1
                    continue
                if entry.issym or entry.islnk:
                    walk.links += 1
                    continue
                if not entry.isfile:
                    continue
                try:
                    name = entry.pathname or default_name
                except (UnicodeDecodeError, ValueError):
                    name = f"member-{index}"
                encrypted = bool(ffi.entry_is_encrypted(entry._entry_p))
                size = entry.size if ffi.entry_size_is_set(entry._entry_p) else -1
                # libarchive gives no per-member compressed size; the whole archive bounds it, so
                # the ratio is a lower bound of the real one (never a false zip-bomb finding).
                yield Member(name, size if size is not None else -1, len(data), encrypted,
                             _reader(entry, encrypted, ctx, archive_error))
    except archive_error as exc:
        walk.error = _categorise(exc)


def _reader(entry, encrypted: bool, ctx: Context, archive_error: type[Exception]):
    used = [False]

    def read(password: bytes | None, cap: int) -> bytes:
        if encrypted:
            raise WrongPassword  # libarchive cannot decrypt 7z/RAR/CAB content
        if used[0]:
            raise MemberError(Flag.PARSE_ERROR, "read twice from a streaming archive")
        used[0] = True
        chunks: list[bytes] = []
        got = 0
        try:
            for block in entry.get_blocks():
                ctx.check()
                chunks.append(block)
                got += len(block)
                if got > cap:
                    break
        except archive_error as exc:
            err = _categorise(exc)
            raise MemberError(err.flag, "data " + err.what) from None
        return b"".join(chunks)[:cap + 1]

    return read
