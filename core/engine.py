"""The engine: the one façade every face scans through (CLI, REST, milter, listeners, pipeline).

    engine = Engine(limits=Limits(), options=Options(), scorer=None, jobs=None, policy=Policy())
    engine.scan(data, name)                 -> Verdict   (one input)
    engine.scan_many(items, progress=...)   -> iterator of (key, Verdict, Node), input order
    engine.analyze_many(items)              -> iterator of (key, Node)   (the training table)
    await engine.scan_async(data, name)     -> Verdict   (the service: admission, warm workers)

`jobs=0` analyses in this process (cooperative time limits only: for tests, tools and one-off
scans); otherwise files are analysed in a `ScanPool` of worker processes (hard per-file timeout,
memory limit, crash isolation) and scored here, one batched prediction per file. The scorer is
loaded on first use (the shipped bundle, else the rule scorer), so commands that never score
never import LightGBM.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from maldoc.extractor import Options
from maldoc.hashing import hashes
from maldoc.limits import Limits
from maldoc.policy import Policy
from maldoc.scoring import Scorer, build_verdict
from maldoc.types import Flag, Node
from maldoc.verdict import Verdict
from maldoc.walk import analyze, failed_node

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

# asyncio and concurrent.futures are imported where the service's form needs them: a CLI scan of
# one small file never pays for them at start-up.

__all__ = ["Engine", "QueueFull", "analyze", "failed_node"]

K = TypeVar("K")
# The input's bytes; or (bytes, hashes of the whole input) when the bytes are only its first part
# (an input over max_bytes, hashed from disk); or a one-line reason it could not be read.
Loader = Callable[[], "bytes | tuple[bytes, dict[str, str]] | str"]
WARM_UP = (b"warm-up\n", "warm-up.txt")  # any non-empty input loads the extractors in a worker
SCORE_GRACE_S = 1.0  # scoring and hashing time allowed on top of an analysis that used all of timeout_s


class QueueFull(Exception):
    """The engine's admission bound (count or bytes) is reached: refuse now, retry later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"scan queue full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Unreadable:
    """An input that could not be read (missing, permission denied): carried to the output as such."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Engine:
    def __init__(self, *, limits: Limits | None = None, options: Options | None = None,
                 scorer: Scorer | None = None, jobs: int | None = None, policy: Policy | None = None,
                 max_tasks: int = 500, task=None, max_queue: int = 64, max_queue_bytes: int = 512 << 20) -> None:
        self.limits = limits or Limits()
        self.options = options or Options()
        self.policy = policy or Policy()
        if self.options.yara_dir:  # compile now: a bad rule is an error at start-up, never mid-scan
            from maldoc.yara_rules import load

            load(self.options.yara_dir)
        self.jobs = jobs
        self._scorer = scorer
        self._max_tasks = max_tasks
        self._task = task
        self._pool = None
        # admission (scan_async): bounded by count and bytes held
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.inflight = 0
        self.inflight_bytes = 0
        self._avg_s = 0.2  # moving average of one scan's pool time, for Retry-After
        self._scoring: ThreadPoolExecutor | None = None

    # -- parts --------------------------------------------------------------------------------
    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            from maldoc.model import load_scorer

            self._scorer = load_scorer()
        return self._scorer

    @scorer.setter
    def scorer(self, scorer: Scorer) -> None:
        self._scorer = scorer

    @property
    def in_process(self) -> bool:
        return self.jobs == 0

    @property
    def pool(self):
        """The worker pool, started on first use (never for `jobs=0`)."""
        if self._pool is None:
            from maldoc.pool import ScanPool, analyze_task

            self._pool = ScanPool(self.jobs, limits=self.limits, options=self.options, max_tasks=self._max_tasks,
                                  task=self._task or analyze_task)
        return self._pool

    @property
    def workers(self) -> int:
        return 0 if self.in_process else self.pool.jobs

    def warm_up(self, timeout_s: float = 120.0) -> None:
        """Start the workers and load the extractors in each now, not on the first real input
        (and, for the milter, from the main thread before libmilter blocks signals)."""
        if self.in_process:
            analyze(*WARM_UP, limits=self.limits, options=self.options)
            return
        futures = [self.pool.submit(*WARM_UP) for _ in range(self.pool.jobs)]
        for f in futures:
            f.result(timeout=timeout_s)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
        if self._scoring is not None:
            self._scoring.shutdown(wait=False)
            self._scoring = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one input ----------------------------------------------------------------------------
    def analyze(self, data: bytes, name: str = "", *, options: Options | None = None,
                digests: dict[str, str] | None = None) -> Node:
        opts = options or self.options
        if self.in_process:
            node = analyze(data, name, limits=self.limits, options=opts)
        else:
            node = self.pool.submit(data, name, opts).result()
        node.hashes = digests or node.hashes or hashes(data)  # a worker's task hashes the input itself
        return node

    def verdict(self, node: Node, *, options: Options | None = None) -> Verdict:
        opts = options or self.options
        return build_verdict(node, self.scorer, keep_macros=opts.keep_macros, policy=self.policy)

    def scan(self, data: bytes, name: str = "", *, options: Options | None = None) -> Verdict:
        return self.verdict(self.analyze(data, name, options=options), options=options)

    # -- batches ------------------------------------------------------------------------------
    def analyze_many(self, items: Iterable[tuple[K, Loader]], *, progress: bool | str = False,
                     total: int | None = None) -> Iterator[tuple[K, Node | Unreadable]]:
        """(key, Node) per input, in input order, with a bounded number of inputs in flight."""
        bar = _progress(total, progress if isinstance(progress, str) else "scanning") \
            if progress and (total or 0) > 1 else None
        try:
            if self.in_process:
                for key, load in items:
                    data, digests = _loaded(_call(load))
                    if isinstance(data, str):
                        yield key, Unreadable(data)
                    else:
                        node = analyze(data, _name(key), limits=self.limits, options=self.options)
                        node.hashes = digests
                        yield key, node
                    if bar:
                        bar.advance()
                return
            if total == 1 and self._pool is None and hasattr(os, "fork"):
                # One input and no pool yet (an analyst's single file): a forked child gives the same
                # hard timeout and isolation without a pool's start-up.
                from maldoc.pool import fork_analyze  # here: importing the engine never loads pebble
                for key, load in items:
                    data, digests = _loaded(_call(load), hash_bytes=False)
                    if isinstance(data, str):
                        yield key, Unreadable(data)
                        continue
                    node = fork_analyze(data, _name(key), self.limits, self.options,
                                        **({"task": self._task} if self._task else {}))
                    node.hashes = digests or node.hashes or hashes(data)
                    yield key, node
                return
            window = max(2, self.pool.jobs * 2)  # keeps workers busy, memory bounded
            pending: deque = deque()
            queue = iter(items)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    nxt = next(queue, None)
                    if nxt is None:
                        exhausted = True
                        break
                    key, load = nxt
                    data, digests = _loaded(_call(load), hash_bytes=False)  # the worker hashes the bytes
                    if isinstance(data, str):
                        pending.append((key, Unreadable(data), None, None))
                    else:
                        pending.append((key, self.pool.submit(data, _name(key)), digests, data))
                if not pending:
                    break
                key, job, digests, data = pending.popleft()
                if isinstance(job, Unreadable):
                    yield key, job
                else:
                    node = job.result()
                    # a killed or dead worker's node carries no hashes: computed here then
                    node.hashes = digests or node.hashes or hashes(data)
                    yield key, node
                if bar:
                    bar.advance()
        finally:
            if bar:
                bar.stop()

    def scan_many(self, items: Iterable[tuple[K, Loader]], *, progress: bool = False,
                  total: int | None = None) -> Iterator[tuple[K, Verdict | Unreadable, Node | None]]:
        """(key, Verdict, Node) per input, in input order; an unreadable input yields `Unreadable`."""
        for key, node in self.analyze_many(items, progress=progress, total=total):
            if isinstance(node, Unreadable):
                yield key, node, None
            else:
                yield key, self.verdict(node), node

    # -- the service's form -------------------------------------------------------------------
    def retry_after(self) -> int:
        """Seconds until the admitted work has likely drained: at least 1, at most 60."""
        return max(1, min(60, math.ceil(self._avg_s * max(self.inflight, 1) / max(self.workers, 1))))

    def admits(self, size: int) -> bool:
        if self.inflight >= self.max_queue:
            return False
        # One input larger than the byte bound still runs alone, or it could never be scanned.
        return self.inflight == 0 or self.inflight_bytes + size <= self.max_queue_bytes

    async def analyze_async(self, data: bytes, name: str, options: Options | None = None) -> Node:
        """Admit, hand to the pool, await the Node. Raises QueueFull. The event loop never scans."""
        import asyncio

        if not self.admits(len(data)):
            raise QueueFull(self.retry_after())
        loop = asyncio.get_running_loop()
        size = len(data)
        started = time.perf_counter()
        self.inflight += 1
        self.inflight_bytes += size
        try:
            future = self.pool.submit(data, name, options)
        except BaseException:
            self._release(size, started)
            raise

        def done(_) -> None:  # runs in the pool's thread
            with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
                loop.call_soon_threadsafe(self._release, size, started)

        future.add_done_callback(done)
        # shield: a client going away must not cancel the pool's Future (it always resolves to a Node);
        # the slot is released when the pool finishes the file, so the bound counts real work
        return await asyncio.shield(asyncio.wrap_future(future))

    async def verdict_async(self, node: Node, scorer: Scorer | None = None,
                            options: Options | None = None) -> Verdict:
        """Score off the event loop, in one dedicated thread (one LightGBM call per file, no lock needed)."""
        import asyncio

        opts = options or self.options
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._scorer_thread(), lambda: build_verdict(
            node, scorer or self.scorer, keep_macros=opts.keep_macros, policy=self.policy))

    async def scan_async(self, data: bytes, name: str, *, options: Options | None = None,
                         scorer: Scorer | None = None) -> tuple[Verdict, Node]:
        """Analyse and score within the per-scan deadline (`timeout_s`, scoring included): a tree whose
        scoring would run past it answers as timed out, with a verdict that says so."""
        import asyncio

        started = time.monotonic()
        node = await self.analyze_async(data, name, options)
        left = self.limits.timeout_s + SCORE_GRACE_S - (time.monotonic() - started)
        try:
            if node.hashes is None:
                node.hashes = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(
                    self._scorer_thread(), hashes, data), timeout=max(left, SCORE_GRACE_S))
            left = self.limits.timeout_s + SCORE_GRACE_S - (time.monotonic() - started)
            verdict = await asyncio.wait_for(self.verdict_async(node, scorer, options),
                                             timeout=max(left, SCORE_GRACE_S))
        except TimeoutError:
            node = failed_node(data, name, Flag.TIMED_OUT,
                               f"scoring did not finish within timeout_s={self.limits.timeout_s}")
            verdict = build_verdict(node, scorer or self.scorer, policy=self.policy)
        return verdict, node

    def _scorer_thread(self) -> ThreadPoolExecutor:
        if self._scoring is None:
            from concurrent.futures import ThreadPoolExecutor

            self._scoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maldoc-score")
        return self._scoring

    async def warm_up_async(self) -> None:
        import asyncio

        if self.in_process:
            return
        futures = [asyncio.wrap_future(self.pool.submit(*WARM_UP)) for _ in range(self.pool.jobs)]
        await asyncio.gather(*futures)

    def _release(self, size: int, started: float) -> None:
        self.inflight -= 1
        self.inflight_bytes -= size
        self._avg_s = 0.9 * self._avg_s + 0.1 * (time.perf_counter() - started)


def _call(load: Loader):
    try:
        return load()
    except OSError as exc:  # a loader that raises (Path.read_bytes) is an unreadable input, not a crash
        return f"{getattr(exc, 'filename', None) or 'input'}: {exc.strerror or type(exc).__name__}"


def _loaded(value, *, hash_bytes: bool = True) -> tuple[bytes | str, dict[str, str] | None]:
    """(bytes, hashes) of a loaded input; `hash_bytes=False` leaves whole-input bytes unhashed (None)
    for a worker to hash. Hashes of an input over max_bytes (computed from disk) are always kept."""
    if isinstance(value, tuple):
        return value[0], value[1]
    if isinstance(value, str):
        return value, None
    return value, hashes(value) if hash_bytes else None


def _name(key) -> str:
    """The display name of an input key: a path's name, a corpus item's sha256, else its text."""
    return getattr(key, "name", None) or getattr(key, "sha256", None) or str(key)[:255]


class _progress:
    """A rich progress bar on stderr, started on creation."""

    def __init__(self, total: int | None, what: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
        self._task = self._progress.add_task(what, total=total)
        self._progress.start()

    def advance(self) -> None:
        self._progress.advance(self._task)

    def stop(self) -> None:
        self._progress.stop()
