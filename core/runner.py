"""Scan files from disk through the engine, in input order, with bounded memory (the CLI's loop)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from maldoc.engine import Engine, Unreadable
from maldoc.extractor import Options
from maldoc.hashing import hash_file
from maldoc.limits import Limits
from maldoc.policy import Policy
from maldoc.scoring import Scorer
from maldoc.types import Node
from maldoc.verdict import Verdict


def read_input(path: Path, limits: Limits) -> bytes | tuple[bytes, dict[str, str]] | str:
    """The file's bytes; for a file over max_bytes its first max_bytes + 1 bytes (enough for the
    engine to refuse it) with the hashes of the whole file, streamed; or why it could not be read."""
    try:
        if path.stat().st_size > limits.max_bytes:
            with path.open("rb") as handle:
                head = handle.read(limits.max_bytes + 1)
            return head, hash_file(path)
        return path.read_bytes()
    except PermissionError:
        return f"{path}: permission denied"
    except IsADirectoryError:
        return f"{path}: is a directory"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"


STDIN = Path("-")


def read_stdin(limits: Limits, stream=None) -> bytes | tuple[bytes, dict[str, str]]:
    """Standard input, hashed whole while its first max_bytes + 1 bytes are kept."""
    import hashlib

    from maldoc.hashing import CHUNK

    stream = stream or sys.stdin.buffer
    kept = bytearray()
    digests = {"md5": hashlib.md5(usedforsecurity=False), "sha1": hashlib.sha1(usedforsecurity=False),
               "sha256": hashlib.sha256()}
    over = False
    while chunk := stream.read(CHUNK):
        for h in digests.values():
            h.update(chunk)
        room = limits.max_bytes + 1 - len(kept)
        if room > 0:
            kept += chunk[:room]
        over |= len(chunk) > room
    data = bytes(kept)
    if not over:
        return data
    return data, {name: h.hexdigest() for name, h in digests.items()}


def _load(path: Path, limits: Limits):
    return read_stdin(limits) if path == STDIN else read_input(path, limits)


def scan_files(paths: Iterable[Path], *, scorer: Scorer, limits: Limits, options: Options,
               jobs: int | None = None, progress: bool = False, policy: Policy | None = None,
               ) -> Iterator[tuple[Path, Verdict | Unreadable, Node | None]]:
    """Yield (path, verdict, node) per input, in input order; an unreadable one as (path, Unreadable, None).

    `Path("-")` is standard input."""
    files = list(paths)
    items = ((path, lambda p=path: _load(p, limits)) for path in files)
    with Engine(limits=limits, options=options, scorer=scorer, jobs=jobs, policy=policy) as engine:
        yield from engine.scan_many(items, progress=progress, total=len(files))
