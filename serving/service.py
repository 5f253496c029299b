"""The scanning service's state and its one operation: bytes in, a decision out.

Owns the model store, the worker pool behind its bounded front, the upload gate, the verdict
cache and the metrics; the routes (and any other listener) only translate their protocol to
`Service.scan()` and back. Logs carry the sha256, type, decision and timing of each scan, never
content or file names.

The event loop only routes: hashing, cache encoding and decoding, renaming a cached verdict and
scoring all run in threads, analysis in worker processes, so one large verdict cannot stall
every other request (and `/healthz`). Verdicts are encoded and decoded node by node
(`codec`): one pydantic call over megabytes would hold the GIL, and the loop with it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import ValidationError

from maldoc.extractor import Options
from maldoc.pool import ScanPool, TaskFn, analyze_task
from maldoc.scoring import build_verdict
from maldoc.types import Flag, Node, sha256
from maldoc.verdict import Label, Verdict

from .cache import build_cache, cache_key
from .codec import pack, unpack
from .metrics import Metrics
from .modelstore import Loaded, ModelStore
from .scanner import QueueFull, Scanner
from .schemas import Failure, ScanResponse
from .settings import Settings
from .uploads import UploadGate

log = logging.getLogger("maldoc.serving")

HASH_IN_THREAD = 1 << 20  # hashing a large body off the event loop


class InternalScanError(Exception):
    """A scan failed inside the service and the fail mode says to report it (HTTP 500)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    response: ScanResponse
    cached: bool


def _failure(node: Node) -> Failure | None:
    flags = node.result.flags
    if Flag.WORKER_DIED in flags:
        return "worker_died"
    if Flag.TIMED_OUT in flags:
        return "timeout"
    return None


def _decode(blob: bytes, name: str) -> Verdict | None:
    """A cached verdict under this request's name, decoded node by node (see `codec`); None when
    the entry does not decode (another version wrote it)."""
    try:
        return unpack(blob, name)
    except (ValidationError, ValueError):
        return None


def _encode(verdict: Verdict) -> bytes:
    return pack(verdict)


class Service:
    def __init__(self, settings: Settings, *, task: TaskFn = analyze_task) -> None:
        self.settings = settings
        self.limits = settings.limits()
        self.options = Options()
        self.metrics = Metrics()
        self.models = ModelStore(settings.model, models_dir=settings.models_dir,
                                 check_timeout_s=settings.reload_timeout_s)
        key = settings.cache_hmac_key.get_secret_value().encode() if settings.cache_hmac_key else None
        self.cache = build_cache(settings.cache_size, settings.redis_url, settings.cache_ttl_s,
                                 max_bytes=settings.cache_max_bytes, hmac_key=key, retry_s=settings.redis_retry_s)
        self.uploads = UploadGate(max_uploads=settings.max_uploads, max_bytes=settings.max_buffered_bytes)
        self._task = task
        self.pool: ScanPool | None = None
        self.scanner: Scanner | None = None
        # Scoring (LightGBM, ~1 ms per embedded item) runs off the event loop, one at a time: a
        # mail with dozens of parts must not stall other requests, and one thread needs no lock.
        self._scoring = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maldoc-score")
        self.ready = False

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        loaded = await self.models.load(isolate=False)  # a broken configured model stops start-up, loudly
        self._announce("load", loaded)
        s = self.settings
        self.pool = ScanPool(s.workers, limits=self.limits, options=self.options,
                             max_tasks=s.max_tasks_per_worker, task=self._task)
        self.scanner = Scanner(self.pool, max_queue=s.max_queue, max_queue_bytes=s.max_queue_bytes)
        self.metrics.inflight.set_function(lambda: self.scanner.inflight if self.scanner else 0)
        self.metrics.inflight_bytes.set_function(lambda: self.scanner.inflight_bytes if self.scanner else 0)
        await self._warm_up()
        # Start-up objects (modules, the model, the app) live for good: out of the collector's
        # reach, a full collection triggered while a large verdict is decoded stays short.
        gc.collect()
        gc.freeze()
        self.ready = True
        log.info("ready: model %s (%s), %d scan workers, queue %d", loaded.version, loaded.source,
                 self.pool.jobs, s.max_queue)

    async def _warm_up(self) -> None:
        """Workers import the engine and every extractor on their first non-empty file: do it now,
        not on a gateway's request."""
        futures = [asyncio.wrap_future(self.pool.submit(b"warm-up\n", "warm-up.txt")) for _ in range(self.pool.jobs)]
        await asyncio.gather(*futures)

    async def stop(self) -> None:
        self.ready = False
        if self.pool is not None:
            await asyncio.to_thread(self.pool.terminate)
        self._scoring.shutdown(wait=False)
        await self.cache.close()

    # -- model delivery --------------------------------------------------------------------
    def _announce(self, action: str, loaded: Loaded) -> None:
        self.cache.new_generation()  # verdicts of the model it replaces are not this one's
        self.metrics.set_model(loaded.version, loaded.source)
        self.metrics.reloads.labels(action=action, outcome="ok").inc()
        log.info("model %s: %s from %s (generation %d)", action, loaded.version, loaded.source, loaded.generation)

    async def reload(self, path: str | None = None) -> Loaded:
        try:
            loaded = await self.models.load(path)
        except Exception as exc:
            self.metrics.reloads.labels(action="reload", outcome="failed").inc()
            log.error("model reload failed, keeping %s: %s: %s",
                      self.models.current.version if self.models.current else None, type(exc).__name__, exc)
            raise
        self._announce("reload", loaded)
        return loaded

    async def rollback(self) -> Loaded:
        loaded = await self.models.rollback()
        self._announce("rollback", loaded)
        return loaded

    # -- scanning --------------------------------------------------------------------------
    def _decide(self, verdict: Verdict | None, failure: Failure | None) -> Label:
        if verdict is not None and (failure is None or verdict.label is not Label.ERROR):
            return verdict.label  # a finding above threshold stands even when the scan was cut short
        mode = self.settings.fail_mode
        return Label.CLEAN if mode == "open" else Label.MALICIOUS if mode == "closed" else Label.ERROR

    async def _analyse_and_score(self, data: bytes, name: str, loaded: Loaded,
                                 options: Options) -> tuple[Verdict, Failure | None]:
        """Bytes to a verdict: analysis in the worker pool, scoring in the scoring thread.
        Raises QueueFull when the pool's front is full."""
        node = await self.scanner.analyze(data, name, options)
        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(self._scoring, lambda: build_verdict(
            node, loaded.scorer, keep_macros=options.keep_macros))
        return verdict, _failure(node)

    async def scan(self, data: bytes, name: str, *, kind: str, options: Options | None = None) -> Outcome:
        """Scan one input (`kind` = "file" or "email"). Raises QueueFull, InternalScanError."""
        started = time.perf_counter()
        loaded = self.models.current
        options = options or self.options
        digest = await asyncio.to_thread(sha256, data) if len(data) > HASH_IN_THREAD else sha256(data)
        verdict: Verdict | None = None
        failure: Failure | None = None
        cached = False
        try:
            key = cache_key(digest, loaded.cache_id, options, self.limits, kind)
            blob = await self.cache.get(key)
            if blob is not None:
                verdict = await asyncio.to_thread(_decode, blob, name)
                if verdict is None:
                    log.warning("verdict cache: an entry for sha256=%s did not decode; scanning again", digest)
            cached = verdict is not None
            self.metrics.cache.labels(backend=self.cache.backend, result="hit" if cached else "miss").inc()
            if verdict is None:
                verdict, failure = await self._analyse_and_score(data, name, loaded, options)
                if failure is None and self.cache.backend != "none":
                    await self.cache.set(key, await asyncio.to_thread(_encode, verdict))
        except QueueFull:
            self.metrics.rejected.inc()
            log.warning("scan refused, queue full: sha256=%s size=%d", digest, len(data))
            raise
        except Exception as exc:
            failure = "internal_error"
            # Type and place only: exception messages (a pydantic error quoting evidence) may carry content.
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            log.error("scan failed: sha256=%s size=%d: %s at %s:%s", digest, len(data), type(exc).__name__,
                      where.filename if where else "?", where.lineno if where else "?")
            if self.settings.fail_mode == "report":
                self.metrics.errors.labels(kind=failure).inc()
                raise InternalScanError(f"internal error while scanning {digest}: {type(exc).__name__}") from None
            verdict = None
        if failure == "timeout":
            self.metrics.timeouts.inc()
        if failure is not None:
            self.metrics.errors.labels(kind=failure).inc()
        decision = self._decide(verdict, failure)
        elapsed = time.perf_counter() - started
        self.metrics.scan_latency.labels(endpoint=kind, cached=str(cached).lower()).observe(elapsed)
        self.metrics.verdicts.labels(endpoint=kind, label=decision.value).inc()
        log.info("scan sha256=%s type=%s size=%d decision=%s score=%s model=%s cached=%s failure=%s ms=%.1f",
                 digest, verdict.file_type if verdict else "?", len(data), decision.value,
                 f"{verdict.score:.3f}" if verdict else "-", loaded.version, cached, failure, elapsed * 1000)
        response = ScanResponse(decision=decision, sha256=digest, score=verdict.score if verdict else None,
                                model_version=loaded.version, cached=cached, failure=failure,
                                service_ms=round(elapsed * 1000, 3), verdict=verdict)
        return Outcome(response, cached)
