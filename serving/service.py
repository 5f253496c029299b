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
from dataclasses import dataclass

from pydantic import ValidationError

from maldoc.engine import Engine, QueueFull
from maldoc.extractor import Options
from maldoc.policy import FailMode, Policy
from maldoc.pool import TaskFn, analyze_task
from maldoc.types import Flag, Node, sha256
from maldoc.verdict import Label, Verdict

from .cache import build_cache, cache_key
from .codec import pack, unpack
from .drift import DriftMonitor
from .metrics import Metrics
from .modelstore import Loaded, ModelStore
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
        self.drift = DriftMonitor(self.metrics.registry)  # PSI per feature group and the verdict mix on /metrics
        self.models = ModelStore(settings.model, models_dir=settings.models_dir,
                                 check_timeout_s=settings.reload_timeout_s)
        key = settings.cache_hmac_key.get_secret_value().encode() if settings.cache_hmac_key else None
        self.cache = build_cache(settings.cache_size, settings.redis_url, settings.cache_ttl_s,
                                 max_bytes=settings.cache_max_bytes, hmac_key=key, retry_s=settings.redis_retry_s)
        self.uploads = UploadGate(max_uploads=settings.max_uploads, max_bytes=settings.max_buffered_bytes)
        self._task = task
        # The engine: admission (count and bytes), the worker pool, and scoring in one dedicated
        # thread off the event loop (one batched prediction per file, so one thread needs no lock).
        self.engine = Engine(limits=self.limits, options=self.options, jobs=settings.workers,
                             policy=Policy(fail_mode=FailMode(settings.fail_mode), cutoff_label=settings.cutoff_label),
                             max_tasks=settings.max_tasks_per_worker, task=task, max_queue=settings.max_queue,
                             max_queue_bytes=settings.max_queue_bytes)
        self.ready = False

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        loaded = await self.models.load(isolate=False)  # a broken configured model stops start-up, loudly
        self._announce("load", loaded)
        s = self.settings
        self.metrics.inflight.set_function(lambda: self.engine.inflight)
        self.metrics.inflight_bytes.set_function(lambda: self.engine.inflight_bytes)
        await self.engine.warm_up_async()  # workers load the extractors now, not on a gateway's request
        # Start-up objects (modules, the model, the app) live for good: out of the collector's
        # reach, a full collection triggered while a large verdict is decoded stays short.
        gc.collect()
        gc.freeze()
        self.ready = True
        log.info("ready: model %s (%s), %d scan workers, queue %d", loaded.version, loaded.source,
                 self.engine.workers, s.max_queue)

    @property
    def pool(self):
        return self.engine.pool

    async def stop(self) -> None:
        self.ready = False
        await asyncio.to_thread(self.engine.close)
        await self.cache.close()

    # -- model delivery --------------------------------------------------------------------
    def _announce(self, action: str, loaded: Loaded) -> None:
        self.cache.new_generation()  # verdicts of the model it replaces are not this one's
        self.metrics.set_model(loaded.version, loaded.source)
        self.drift.use_model(loaded.scorer)
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
        """The shared policy's fail mode: a finding above threshold stands even when the scan was cut
        short; an error (or no verdict at all) becomes what the fail mode says."""
        return self.engine.policy.decide(verdict.label if verdict is not None else None)

    async def _analyse_and_score(self, data: bytes, name: str, loaded: Loaded,
                                 options: Options) -> tuple[Verdict, Failure | None, Node]:
        """Bytes to a verdict through the engine (admission, worker pool, scoring thread), scored
        by the model this request started with. Raises QueueFull when the engine's front is full."""
        verdict, node = await self.engine.scan_async(data, name, options=options, scorer=loaded.scorer)
        return verdict, _failure(node), node

    async def scan(self, data: bytes, name: str, *, kind: str, options: Options | None = None) -> Outcome:
        """Scan one input (`kind` = "file" or "email"). Raises QueueFull, InternalScanError."""
        started = time.perf_counter()
        loaded = self.models.current
        options = options or self.options
        digest = await asyncio.to_thread(sha256, data) if len(data) > HASH_IN_THREAD else sha256(data)
        verdict: Verdict | None = None
        node: Node | None = None
        failure: Failure | None = None
        cached = False
        try:
            key = cache_key(digest, loaded.cache_id, options, self.limits, kind, secret=self.cache.secret)
            blob = await self.cache.get(key)
            if blob is not None:
                verdict = await asyncio.to_thread(_decode, blob, name)
                if verdict is None:
                    log.warning("verdict cache: an entry for sha256=%s did not decode; scanning again", digest)
            cached = verdict is not None
            self.metrics.cache.labels(backend=self.cache.backend, result="hit" if cached else "miss").inc()
            if verdict is None:
                verdict, failure, node = await self._analyse_and_score(data, name, loaded, options)
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
        self.drift.observe(node if failure is None else None, decision.value)
        log.info("scan sha256=%s type=%s size=%d decision=%s score=%s model=%s cached=%s failure=%s ms=%.1f",
                 digest, verdict.file_type if verdict else "?", len(data), decision.value,
                 f"{verdict.score:.3f}" if verdict else "-", loaded.version, cached, failure, elapsed * 1000,
                 extra={"scan": {"sha256": digest, "type": verdict.file_type if verdict else "?",
                                 "verdict": decision.value, "score": round(verdict.score, 4) if verdict else None,
                                 "ms": round(elapsed * 1000, 1)}})
        response = ScanResponse(decision=decision, sha256=digest, score=verdict.score if verdict else None,
                                model_version=loaded.version, cached=cached, failure=failure,
                                service_ms=round(elapsed * 1000, 3), verdict=verdict)
        return Outcome(response, cached)
