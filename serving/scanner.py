"""A bounded asyncio front to `maldoc.pool.ScanPool`.

The event loop never scans: it admits a file, hands it to the process pool and awaits the
Future. Admission is bounded by count and by bytes held, and a file over either bound is refused
at once (`QueueFull`, answered 503 with Retry-After) so a burst degrades into fast refusals the
gateway can retry, instead of everyone's latency growing without bound. A slot is released when
the pool finishes the file, not when the request goes away, so the bound counts real work.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

from maldoc.extractor import Options
from maldoc.pool import ScanPool
from maldoc.types import Node


class QueueFull(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"scan queue full; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Scanner:
    def __init__(self, pool: ScanPool, *, max_queue: int, max_queue_bytes: int) -> None:
        self.pool = pool
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.inflight = 0
        self.inflight_bytes = 0
        self._avg_s = 0.2  # moving average of one scan's pool time, for Retry-After

    def retry_after(self) -> int:
        """Seconds until the admitted work has likely drained: at least 1, at most 60."""
        return max(1, min(60, math.ceil(self._avg_s * max(self.inflight, 1) / self.pool.jobs)))

    def admits(self, size: int) -> bool:
        if self.inflight >= self.max_queue:
            return False
        # One file larger than the byte bound still runs alone, or it could never be scanned.
        return self.inflight == 0 or self.inflight_bytes + size <= self.max_queue_bytes

    async def analyze(self, data: bytes, name: str, options: Options | None = None) -> Node:
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
        # shield: a client going away must not cancel the pool's Future (it always resolves to a Node)
        return await asyncio.shield(asyncio.wrap_future(future))

    def _release(self, size: int, started: float) -> None:
        self.inflight -= 1
        self.inflight_bytes -= size
        self._avg_s = 0.9 * self._avg_s + 0.1 * (time.perf_counter() - started)
