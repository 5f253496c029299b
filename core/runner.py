"""Scan many files from disk through the worker pool, in input order, with bounded memory.

Used by the CLI; the service and the training feature table drive `ScanPool` directly because
their inputs are not files on disk.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.pool import ScanPool
from maldoc.scoring import Scorer, build_verdict
from maldoc.types import Node
from maldoc.verdict import Verdict


def read_input(path: Path, limits: Limits) -> bytes | str:
    """The file's bytes, or a one-line reason it could not be read."""
    try:
        if path.stat().st_size > limits.max_bytes:
            # One byte past the limit is enough for the engine to refuse it; never load it all.
            with path.open("rb") as handle:
                return handle.read(limits.max_bytes + 1)
        return path.read_bytes()
    except PermissionError:
        return f"{path}: permission denied"
    except IsADirectoryError:
        return f"{path}: is a directory"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"


def scan_files(paths: Iterable[Path], *, scorer: Scorer, limits: Limits, options: Options,
               jobs: int | None = None, progress: bool = False,
               errors: list[str] | None = None) -> Iterator[tuple[Path, Verdict, Node]]:
    """Yield (path, verdict, node) per readable file, in input order. Unreadable ones go to `errors`."""
    errors = errors if errors is not None else []
    files = list(paths)
    bar = _progress(len(files)) if progress and len(files) > 1 else None
    try:
        if jobs == 0:
            for path in files:
                data = read_input(path, limits)
                if isinstance(data, str):
                    errors.append(data)
                else:
                    node = analyze(data, path.name, limits=limits, options=options)
                    yield path, build_verdict(node, scorer, keep_macros=options.keep_macros), node
                if bar:
                    bar.advance()
            return
        with ScanPool(jobs, limits=limits, options=options) as pool:
            window = max(2, pool.jobs * 2)  # files in flight: keeps workers busy, memory bounded
            pending: deque = deque()
            queue = iter(files)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    path = next(queue, None)
                    if path is None:
                        exhausted = True
                        break
                    data = read_input(path, limits)
                    if isinstance(data, str):
                        errors.append(data)
                        if bar:
                            bar.advance()
                        continue
                    pending.append((path, pool.submit(data, path.name)))
                if not pending:
                    break
                path, future = pending.popleft()
                node = future.result()
                if bar:
                    bar.advance()
                yield path, build_verdict(node, scorer, keep_macros=options.keep_macros), node
    finally:
        if bar:
            bar.stop()


class _progress:
    """A rich progress bar on stderr, started on creation."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
        self._task = self._progress.add_task("scanning", total=total)
        self._progress.start()

    def advance(self) -> None:
        self._progress.advance(self._task)

    def stop(self) -> None:
        self._progress.stop()
