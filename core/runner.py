"""Scan files from disk through the engine, in input order, with bounded memory (the CLI's loop)."""

from __future__ import annotations

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


def scan_files(paths: Iterable[Path], *, scorer: Scorer, limits: Limits, options: Options,
               jobs: int | None = None, progress: bool = False, errors: list[str] | None = None,
               policy: Policy | None = None) -> Iterator[tuple[Path, Verdict, Node]]:
    """Yield (path, verdict, node) per readable file, in input order. Unreadable ones go to `errors`."""
    errors = errors if errors is not None else []
    files = list(paths)
    items = ((path, lambda p=path: read_input(p, limits)) for path in files)
    with Engine(limits=limits, options=options, scorer=scorer, jobs=jobs, policy=policy) as engine:
        for path, verdict, node in engine.scan_many(items, progress=progress, total=len(files)):
            if isinstance(verdict, Unreadable):
                errors.append(verdict.reason)
                continue
            yield path, verdict, node
