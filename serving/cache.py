"""The verdict cache: one scan per distinct file, however many recipients a campaign reaches.

Keyed by the input's sha256, the identity of the model that scored it (version, thresholds and
the bundle's hashes: `Loaded.cache_id`), and everything else that can change the answer
(options, limits, endpoint). A request's passwords change the answer (an encrypted archive opened
or not), so they are in the key too, as an HMAC under the cache's secret, never in clear. Values
are serialised verdicts (JSON bytes), so the in-process LRU is bounded by the bytes it really
holds as well as by entries, and every hit decodes a fresh verdict that the request may rename
without copying. A reload or rollback starts a new
generation: the in-process entries are dropped (Redis keys carry the model's identity, so
replicas keep sharing what is still valid).

With `MALDOC_REDIS_URL` a Redis shared by every replica sits behind the local LRU. Its entries
are authenticated with an HMAC (key from `MALDOC_CACHE_HMAC_KEY`, bound to the entry's key), so
whoever can write to Redis cannot plant a `clean` verdict; an entry that fails the check is a
miss. A Redis that fails is skipped for `retry_s` (the local cache answers alone, one log line),
then tried again: a cache failure is never a scan failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import asdict
from typing import Protocol

from maldoc import __version__
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.schema import SCHEMA

log = logging.getLogger("maldoc.serving")

KEY_VERSION = 2  # bump when the cached value's shape changes
MAX_ENTRY_SHARE = 4  # one verdict may take at most 1/4 of the in-process cache's bytes
IN_THREAD = 1 << 20  # HMAC larger entries off the event loop


_PROCESS_SECRET = secrets.token_bytes(32)  # for keys built without a cache's own secret


def password_tag(passwords: tuple[str, ...], secret: bytes) -> str:
    """What stands for the passwords in a key: an HMAC of them, in order (the order they are tried),
    so neither Redis keys nor a dump of them can be turned back into the passwords."""
    if not passwords:
        return ""
    text = "\0".join(passwords).encode("utf-8", "surrogatepass")
    return hmac.new(secret, b"maldoc-passwords\0" + text, hashlib.sha256).hexdigest()


def cache_key(sha256: str, model_id: str, options: Options, limits: Limits, kind: str, *,
              secret: bytes | None = None) -> str:
    """`model_id` is `Loaded.cache_id`; every option and limit is in the key, by name. The passwords
    are in it as an HMAC under `secret` (the cache's `secret`; a per-process one when None)."""
    opts = asdict(options)
    opts["passwords"] = password_tag(options.passwords, secret or _PROCESS_SECRET)
    extra = json.dumps({"options": opts, "limits": limits.as_dict(), "kind": kind,
                        "maldoc": __version__, "schema": SCHEMA.hash}, sort_keys=True, default=str)
    digest = hashlib.sha256(extra.encode()).hexdigest()[:24]
    return f"maldoc:v{KEY_VERSION}:{sha256}:{model_id}:{digest}"


class VerdictCache(Protocol):
    backend: str
    secret: bytes  # keys the password HMAC of `cache_key`; the same in every replica sharing a Redis

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, blob: bytes) -> None: ...

    def new_generation(self) -> None: ...

    async def close(self) -> None: ...


class LRUCache:
    """Serialised verdicts in memory, bounded by entries and by bytes."""

    backend = "memory"

    def __init__(self, size: int, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.generation = 0
        self.secret = secrets.token_bytes(32)  # in-process entries only: any secret of this process will do
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.max_bytes > 0

    def get_now(self, key: str) -> bytes | None:
        blob = self._items.get(key)
        if blob is not None:
            self._items.move_to_end(key)
        return blob

    def set_now(self, key: str, blob: bytes) -> None:
        if not self.enabled or len(blob) > self.max_bytes // MAX_ENTRY_SHARE:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old)
        self._items[key] = blob
        self.bytes += len(blob)
        while len(self._items) > self.size or self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped)

    def new_generation(self) -> None:
        self._items.clear()
        self.bytes = 0
        self.generation += 1

    async def get(self, key: str) -> bytes | None:
        return self.get_now(key)

    async def set(self, key: str, blob: bytes) -> None:
        self.set_now(key, blob)

    async def close(self) -> None:
        self._items.clear()
        self.bytes = 0


class Sealer:
    """HMAC-SHA256 over (key, value): `seal` prepends the tag, `open` returns the value or None."""

    PREFIX = b"m2."

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _tag(self, key: str, value: bytes) -> bytes:
        return hmac.new(self._secret, key.encode() + b"\0" + value, hashlib.sha256).hexdigest().encode()

    def seal(self, key: str, value: bytes) -> bytes:
        return self.PREFIX + self._tag(key, value) + b"." + value

    def open(self, key: str, sealed: bytes) -> bytes | None:
        if not sealed.startswith(self.PREFIX) or len(sealed) < len(self.PREFIX) + 65:
            return None
        tag, value = sealed[len(self.PREFIX):len(self.PREFIX) + 64], sealed[len(self.PREFIX) + 65:]
        return value if hmac.compare_digest(tag, self._tag(key, value)) else None


class RedisCache:
    """Redis (any client with async `get(key)` and `set(key, value, ex=seconds)`), behind a local LRU."""

    backend = "redis"

    def __init__(self, client, *, ttl_s: int, local: LRUCache | None = None, local_size: int = 1000,
                 hmac_key: bytes | None = None, retry_s: float = 30.0) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.local = local if local is not None else LRUCache(local_size)
        self.secret = hmac_key or secrets.token_bytes(32)
        self.sealer = Sealer(self.secret)
        self.retry_s = retry_s
        self._down_until = 0.0  # monotonic time before which Redis is not tried
        self._last_bad_entry = 0.0
        self._recovering = False  # a failure was logged; log the recovery too

    @classmethod
    def from_url(cls, url: str, *, ttl_s: int, local: LRUCache | None = None, local_size: int = 1000,
                 hmac_key: bytes | None = None, retry_s: float = 30.0) -> RedisCache:
        import redis.asyncio as redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, ttl_s=ttl_s, local=local, local_size=local_size, hmac_key=hmac_key, retry_s=retry_s)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, action: str, exc: Exception) -> None:
        if self.available:  # one line per outage window, not one per request
            log.warning("verdict cache: redis %s failed (%s); using the in-process cache alone, "
                        "retrying redis in %g s", action, type(exc).__name__, self.retry_s)
        self._down_until = time.monotonic() + self.retry_s
        self._recovering = True

    def _succeeded(self) -> None:
        if self._recovering:
            self._recovering = False
            log.info("verdict cache: redis reachable again")

    async def get(self, key: str) -> bytes | None:
        blob = self.local.get_now(key)
        if blob is not None or not self.available:
            return blob
        try:
            raw = await self.client.get(key)
        except Exception as exc:
            self._failed("get", exc)
            return None
        self._succeeded()
        if raw is None:
            return None
        raw = bytes(raw)
        blob = await asyncio.to_thread(self.sealer.open, key, raw) if len(raw) > IN_THREAD else \
            self.sealer.open(key, raw)
        if blob is None:
            now = time.monotonic()
            if now - self._last_bad_entry > 60:
                self._last_bad_entry = now
                log.warning("verdict cache: a redis entry failed its HMAC check (another MALDOC_CACHE_HMAC_KEY, "
                            "or written by something else); treated as a miss")
            return None
        self.local.set_now(key, blob)
        return blob

    async def set(self, key: str, blob: bytes) -> None:
        self.local.set_now(key, blob)
        if not self.available:
            return
        try:
            sealed = await asyncio.to_thread(self.sealer.seal, key, blob) if len(blob) > IN_THREAD else \
                self.sealer.seal(key, blob)
            await self.client.set(key, sealed, ex=self.ttl_s)
        except Exception as exc:
            self._failed("set", exc)
            return
        self._succeeded()

    def new_generation(self) -> None:
        self.local.new_generation()

    async def close(self) -> None:
        close = getattr(self.client, "aclose", None) or getattr(self.client, "close", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                log.info("verdict cache: closing redis failed (%s)", type(exc).__name__)


class NoCache:
    backend = "none"
    secret = _PROCESS_SECRET

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, blob: bytes) -> None:
        return None

    def new_generation(self) -> None:
        return None

    async def close(self) -> None:
        return None


def build_cache(size: int, redis_url: str | None, ttl_s: int, *, max_bytes: int = 256 * 1024 * 1024,
                hmac_key: bytes | None = None, retry_s: float = 30.0) -> VerdictCache:
    if size <= 0 or max_bytes <= 0:
        return NoCache()
    if redis_url:
        if hmac_key is None:
            log.warning("verdict cache: MALDOC_CACHE_HMAC_KEY is unset, so this process signs its redis entries "
                        "with a random key: replicas sharing this redis will not use each other's verdicts")
        local = LRUCache(min(size, 1000), max_bytes)
        return RedisCache.from_url(redis_url, ttl_s=ttl_s, local=local, hmac_key=hmac_key, retry_s=retry_s)
    return LRUCache(size, max_bytes)
