"""The bounded archive reader: every container format's members pass through here.

A format module (ZIP, OOXML packages, 7z/RAR/TAR/ISO through libarchive, ...) describes its
members as `Member`s; `unpack()` applies the limits in one place: the member count
(`max_children`), the per-member compression ratio (`max_ratio`, with the zip-bomb finding),
the largest member (`max_bytes`) and the inflate budget shared by the whole scan tree. Encrypted
members are tried with the scan's passwords (those found in mail bodies included) and the
analysts' defaults. What was opened becomes a child sample; what was not is counted, and a
risky name among the unopened is still reported.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from maldoc.extractor import OVERFLOW_SNIFFS, Context
from maldoc.filetype import risky_name
from maldoc.types import ExtractorResult, Flag, Sample

DEFAULT_PASSWORDS = ("infected", "malware", "virus")  # analysts' conventions for sample archives
BOMB_MIN_BYTES = 1 << 20  # a high ratio on a tiny member (a run of spaces) is no bomb
PEEK_MEMBERS, PEEK_LEVELS, PEEK_BYTES = 64, 4, 1 << 20  # the cheap look past a limit, bounded


class WrongPassword(Exception):
    """This password does not open the member (try the next)."""


class MemberError(Exception):
    """The member cannot be read: `flag` says why (truncated, unsupported, parse_error)."""

    def __init__(self, flag: Flag, what: str) -> None:
        super().__init__(what)
        self.flag = flag
        self.what = what  # categorical: never the archive's own bytes


@dataclass(slots=True)
class Member:
    """One archive member as its format's directory describes it."""

    name: str
    size: int  # declared uncompressed size, -1 when unknown
    compressed: int  # declared compressed size, -1 when unknown
    encrypted: bool
    read: Callable[[bytes | None, int], bytes]  # (password, cap) -> at most cap + 1 bytes


@dataclass(slots=True)
class Unpacked:
    """What `unpack()` saw, for the format's own features."""

    members: int = 0
    encrypted: int = 0
    unopened: int = 0
    risky_names: int = 0
    max_ratio: float = 0.0
    total_size: int = 0
    children: list[str] = field(default_factory=list)


def _ratio(size: int, compressed: int) -> float:
    return size / max(compressed, 1) if size >= 0 and compressed >= 0 else 0.0


def _open(member: Member, passwords: list[bytes | None], cap: int, out: ExtractorResult,
          prefix: str) -> bytes | None:
    for pwd in passwords:
        try:
            return member.read(pwd, cap)
        except WrongPassword:
            continue
        except MemberError as exc:
            out.flag(exc.flag, f"{prefix}: member {exc.what}")
            return None
    return None


def read_member(ctx: Context, out: ExtractorResult, member: Member, *, prefix: str, cap: int | None = None,
                password: bytes | None = None) -> bytes | None:
    """One member by name (random access: package parts), within max_bytes, `cap`, the member ratio
    and the inflate budget. None when it is missing, broken or over a limit (flagged on `out`)."""
    limits = ctx.limits
    ratio = _ratio(member.size, member.compressed)
    if ratio > limits.max_ratio and member.size > BOMB_MIN_BYTES:
        out.add("CORE_ZIP_BOMB", f"{member.name}: {ratio:.0f}:1", member.name)
        out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: a member's compression ratio exceeds max_ratio")
        return None
    limit = min(limits.max_bytes, cap or limits.max_bytes)
    try:
        data = member.read(password, limit)
    except WrongPassword:
        out.flag(Flag.PARSE_ERROR, f"{prefix}: an encrypted part could not be read")
        return None
    except MemberError as exc:
        out.flag(exc.flag, f"{prefix}: member {exc.what}")
        return None
    if len(data) > limit:
        out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: a part larger than {limit} bytes was not read")
        return None
    real = _ratio(len(data), member.compressed)
    if real > limits.max_ratio and len(data) > BOMB_MIN_BYTES:
        out.add("CORE_ZIP_BOMB", f"{member.name}: {real:.0f}:1", member.name)
        out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: a member's compression ratio exceeds max_ratio")
        return None
    if not ctx.budget.allow_inflate(len(data)):
        out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: inflate budget spent")
        return None
    return data


def _head(member: Member) -> bytes | None:
    """The first bytes of a member a limit keeps out (its magic says what it is), when unencrypted."""
    if member.encrypted:
        return None
    try:
        return member.read(None, 4096)[:4096]
    except (WrongPassword, MemberError):
        return None


def unpack(ctx: Context, out: ExtractorResult, sample: Sample, members: Iterable[Member], *,
           prefix: str, passwords: bool = True) -> Unpacked:
    """Emit every member that may be read within the limits as a child of `sample`."""
    limits = ctx.limits
    seen = Unpacked()
    tries = [p.encode() for p in (*ctx.passwords, *DEFAULT_PASSWORDS)] if passwords else []
    for member in members:
        ctx.check()
        seen.members += 1
        seen.total_size += max(member.size, 0)
        seen.encrypted += member.encrypted
        risky = risky_name(member.name)
        seen.risky_names += risky
        if len(seen.children) >= limits.max_children:
            sniff = out.features.get("_overflow", 0.0) < OVERFLOW_SNIFFS  # past that, only counted
            ctx.overflow(out, sample, member.name, _head(member) if sniff else None, "max_children")
            continue
        ratio = _ratio(member.size, member.compressed)
        seen.max_ratio = max(seen.max_ratio, ratio)
        if ratio > limits.max_ratio and member.size > BOMB_MIN_BYTES:
            out.add("CORE_ZIP_BOMB", f"{member.name}: {ratio:.0f}:1", member.name)
            out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: a member's compression ratio exceeds max_ratio")
            continue
        cap = max(0, min(limits.max_bytes, ctx.budget.remaining_inflate()))
        data = _open(member, tries if member.encrypted else [None], cap, out, prefix)
        if data is None:
            seen.unopened += 1
            if risky:
                out.add("CORE_SCRIPT_NAME", member.name, f"{sample.display_path} > {member.name}")
            continue
        if len(data) > cap:
            out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: inflate budget spent")
            ctx.overflow(out, sample, member.name, data[:4096], "max_decompressed_bytes")
            break
        real = _ratio(len(data), member.compressed)
        seen.max_ratio = max(seen.max_ratio, real)
        if real > limits.max_ratio and len(data) > BOMB_MIN_BYTES:
            out.add("CORE_ZIP_BOMB", f"{member.name}: {real:.0f}:1", member.name)
            out.flag(Flag.LIMIT_EXCEEDED, f"{prefix}: a member's compression ratio exceeds max_ratio")
            continue
        if ctx.emit(out, sample, data, member.name):
            seen.children.append(member.name)
    if seen.unopened and seen.encrypted:
        out.flag(Flag.ENCRYPTED, f"{prefix}: {seen.unopened} encrypted members not opened by any known password")
    elif seen.encrypted:
        out.flags.add(Flag.DECRYPTED)
    return seen


def peek_members(data: bytes, *, levels: int = PEEK_LEVELS) -> Iterator[tuple[str, bytes]]:
    """(path, first bytes) of the members of a ZIP (and of ZIPs inside it), for items a limit kept
    out of the scan: at most PEEK_MEMBERS members, PEEK_LEVELS levels and PEEK_BYTES inflated."""
    budget = [PEEK_BYTES, PEEK_MEMBERS]
    yield from _peek(data, levels, budget, "")


def _peek(data: bytes, levels: int, budget: list[int], prefix: str) -> Iterator[tuple[str, bytes]]:
    if levels <= 0 or not data.startswith(b"PK\x03\x04"):
        return
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return
    for info in infos:
        if budget[1] <= 0 or budget[0] <= 0:
            return
        budget[1] -= 1
        head = b""
        if not info.flag_bits & 0x1 and info.file_size <= budget[0]:
            try:
                with zf.open(info) as handle:
                    head = handle.read(min(info.file_size, budget[0]) + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
                head = b""
            budget[0] -= len(head)
        path = f"{prefix}{info.filename}"
        yield path, head[:4096]
        if head.startswith(b"PK\x03\x04"):
            yield from _peek(head, levels - 1, budget, f"{path} > ")
