"""Encrypted 7z archives through py7zr (libarchive reads 7z but cannot decrypt it).

Only used when the archive is encrypted (member content, or the file list itself with `-mhe`),
so the common case stays on libarchive. py7zr derives the AES key with 2^19 SHA-256 rounds per
password (about 0.2 s), so a password that failed once is not tried again on the next member, and
an opened archive is reused (`reset()`) for every member it reads. Content is written into a
capped in-memory writer: nothing reaches the disk and no member grows past the cap.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

from maldoc.archive import Member, MemberError, WrongPassword
from maldoc.extractor import Context, TimeBudgetExceeded
from maldoc.types import Flag

try:
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory
except ImportError:  # pragma: no cover - py7zr is a declared dependency
    py7zr = None
    Py7zIO = object  # type: ignore[misc, assignment]
    WriterFactory = object  # type: ignore[misc, assignment]


class _Full(Exception):
    """The member reached the cap: stop inflating it."""


class _Capped(Py7zIO):  # type: ignore[misc]
    def __init__(self, cap: int, check: Callable[[], None]) -> None:
        self.buf = bytearray()
        self.cap = cap
        self.check = check

    def write(self, s: bytes | bytearray) -> int:
        self.check()
        self.buf += s[: self.cap + 1 - len(self.buf)]
        if len(self.buf) > self.cap:
            raise _Full
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.buf)

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.buf)


class _Factory(WriterFactory):  # type: ignore[misc]
    def __init__(self, cap: int, check: Callable[[], None]) -> None:
        self.cap = cap
        self.check = check
        self.products: dict[str, _Capped] = {}

    def create(self, filename: str) -> _Capped:
        product = self.products[filename] = _Capped(self.cap, self.check)
        return product


class SevenZip:
    """One encrypted 7z archive: opened once per working password."""

    def __init__(self, data: bytes, ctx: Context) -> None:
        self.data = data
        self.ctx = ctx
        self.bad: set[bytes | None] = set()
        self.open_with: dict[bytes | None, object] = {}

    def _open(self, password: bytes | None):
        if password in self.bad:
            raise WrongPassword
        archive = self.open_with.get(password)
        if archive is None:
            try:
                archive = py7zr.SevenZipFile(io.BytesIO(self.data), password=password.decode("utf-8", "replace")
                                             if password is not None else None)
            except py7zr.exceptions.PasswordRequired:
                raise WrongPassword from None
            except Exception:  # a wrong key garbles the encrypted header: any decode error may follow
                if password is None:
                    raise MemberError(Flag.PARSE_ERROR, "unreadable 7z header") from None
                self.bad.add(password)
                raise WrongPassword from None
            self.open_with[password] = archive
        return archive

    def list(self, passwords: list[bytes]) -> tuple[list[Member], bool]:
        """Members through the first password that opens the file list (header-encrypted archives);
        ([], False) when none does."""
        for password in (None, *passwords):
            try:
                archive = self._open(password)
            except (WrongPassword, MemberError):
                continue
            infos = [i for i in archive.list() if not i.is_directory][:10000]
            return [Member(i.filename, i.uncompressed if i.uncompressed is not None else -1,
                           len(self.data), bool(getattr(i, "encrypted", True)) or password is not None,
                           self._reader(i.filename, header_password=password)) for i in infos], True
        return [], False

    def _reader(self, name: str, header_password: bytes | None):
        def read(password: bytes | None, cap: int) -> bytes:
            pwd = header_password if header_password is not None else password
            archive = self._open(pwd)
            factory = _Factory(cap, self.ctx.check)
            try:
                archive.reset()
                archive.extract(targets=[name], factory=factory)
            except _Full:
                pass
            except TimeBudgetExceeded:
                raise
            except Exception:
                if pwd is None:
                    raise MemberError(Flag.PARSE_ERROR, "cannot be inflated") from None
                self.bad.add(pwd)
                self.open_with.pop(pwd, None)
                raise WrongPassword from None
            product = factory.products.get(name)
            return bytes(product.buf) if product is not None else b""
        return read

    def close(self) -> None:
        for archive in self.open_with.values():
            with contextlib.suppress(Exception):  # closing a half-read archive: nothing left to report
                archive.close()  # type: ignore[attr-defined]
