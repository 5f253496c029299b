"""The verdict cache: one scan per distinct file, however many recipients a campaign reaches.

Keyed by the input's sha256, the model version that scored it, and everything else that can
change the answer (options, limits, endpoint). In-process LRU by default; with
`MALDOC_REDIS_URL` a Redis shared by every replica, fronted by the local LRU so that a hot
attachment costs no network round trip. A cache failure is never a scan failure: Redis errors
count as misses and are logged once in a while.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Protocol

from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.verdict import Verdict

log = logging.getLogger("maldoc.serving")

KEY_VERSION = 1  # bump when the cached value's shape changes


def cache_key(sha256: str, model_version: str, options: Options, limits: Limits, kind: str) -> str:
    extra = f"{options.cache_key()}|{sorted(limits.as_dict().items())}|{kind}"
    digest = hashlib.sha256(extra.encode()).hexdigest()[:16]
    return f"maldoc:v{KEY_VERSION}:{sha256}:{model_version}:{digest}"


class VerdictCache(Protocol):
    backend: str

    async def get(self, key: str) -> Verdict | None: ...

    async def set(self, key: str, verdict: Verdict) -> None: ...

    async def close(self) -> None: ...


class LRUCache:
    backend = "memory"

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Verdict] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get_now(self, key: str) -> Verdict | None:
        verdict = self._items.get(key)
        if verdict is not None:
            self._items.move_to_end(key)
        return verdict

    def set_now(self, key: str, verdict: Verdict) -> None:
        if self.size <= 0:
            return
        self._items[key] = verdict
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    async def get(self, key: str) -> Verdict | None:
        return self.get_now(key)

    async def set(self, key: str, verdict: Verdict) -> None:
        self.set_now(key, verdict)

    async def close(self) -> None:
        self._items.clear()


class RedisCache:
    """Redis (any client with async `get(key)` and `set(key, value, ex=seconds)`), behind a local LRU."""

    backend = "redis"

    def __init__(self, client, *, ttl_s: int, local_size: int = 1000) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.local = LRUCache(local_size)
        self._last_warning = 0.0

    @classmethod
    def from_url(cls, url: str, *, ttl_s: int, local_size: int) -> RedisCache:
        import redis.asyncio as redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, ttl_s=ttl_s, local_size=local_size)

    def _warn(self, action: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:  # an outage must not flood the log
            self._last_warning = now
            log.warning("verdict cache: redis %s failed (%s: %s); scanning without it",
                        action, type(exc).__name__, exc)

    async def get(self, key: str) -> Verdict | None:
        verdict = self.local.get_now(key)
        if verdict is not None:
            return verdict
        try:
            raw = await self.client.get(key)
        except Exception as exc:
            self._warn("get", exc)
            return None
        if raw is None:
            return None
        try:
            verdict = Verdict.model_validate_json(raw)
        except ValueError:
            return None  # written by another version: rescan
        self.local.set_now(key, verdict)
        return verdict

    async def set(self, key: str, verdict: Verdict) -> None:
        self.local.set_now(key, verdict)
        try:
            await self.client.set(key, verdict.model_dump_json(), ex=self.ttl_s)
        except Exception as exc:
            self._warn("set", exc)

    async def close(self) -> None:
        close = getattr(self.client, "aclose", None) or getattr(self.client, "close", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                self._warn("close", exc)


class NoCache:
    backend = "none"

    async def get(self, key: str) -> Verdict | None:
        return None

    async def set(self, key: str, verdict: Verdict) -> None:
        return None

    async def close(self) -> None:
        return None


def build_cache(size: int, redis_url: str | None, ttl_s: int) -> VerdictCache:
    if size <= 0:
        return NoCache()
    if redis_url:
        return RedisCache.from_url(redis_url, ttl_s=ttl_s, local_size=min(size, 1000))
    return LRUCache(size)
