"""The verdict cache: key, LRU bound, and Redis (through a fake client: no redis-server needed)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from maldoc import scan
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.scoring import RuleScorer
from maldoc.serving.cache import LRUCache, RedisCache, build_cache, cache_key

VERDICT = scan(b"hello", "a.txt", model=RuleScorer())


class FakeRedis:
    """The two calls the cache makes, on a dict; `broken` makes every call fail like a dead server."""

    def __init__(self, broken: bool = False) -> None:
        self.data: dict[str, str] = {}
        self.broken = broken
        self.ttls: dict[str, int] = {}

    async def get(self, key):
        if self.broken:
            raise ConnectionError("connection refused")
        return self.data.get(key)

    async def set(self, key, value, ex=None):
        if self.broken:
            raise ConnectionError("connection refused")
        self.data[key] = value
        self.ttls[key] = ex


def test_key_changes_with_model_options_limits_and_endpoint():
    base = cache_key("ab" * 32, "rules", Options(), Limits(), "file")
    assert base.startswith("maldoc:v1:" + "ab" * 32 + ":rules:")
    assert base == cache_key("ab" * 32, "rules", Options(), Limits(), "file")
    others = {cache_key("ab" * 32, "m-2", Options(), Limits(), "file"),
              cache_key("ab" * 32, "rules", Options(passwords=("x",)), Limits(), "file"),
              cache_key("ab" * 32, "rules", Options(), Limits(max_depth=2), "file"),
              cache_key("ab" * 32, "rules", Options(), Limits(), "email")}
    assert base not in others and len(others) == 4


def test_lru_evicts_the_least_recently_used():
    cache = LRUCache(2)
    cache.set_now("a", VERDICT)
    cache.set_now("b", VERDICT)
    assert cache.get_now("a") is VERDICT  # a is now the most recent
    cache.set_now("c", VERDICT)
    assert cache.get_now("b") is None and cache.get_now("a") is VERDICT and len(cache) == 2


def test_redis_cache_shares_verdicts_between_replicas():
    shared = FakeRedis()
    one = RedisCache(shared, ttl_s=60, local_size=10)
    two = RedisCache(shared, ttl_s=60, local_size=10)
    asyncio.run(one.set("k", VERDICT))
    assert shared.ttls["k"] == 60
    got = asyncio.run(two.get("k"))
    assert got == VERDICT
    assert two.local.get_now("k") == VERDICT  # kept locally for the next hit


def test_redis_outage_is_a_miss_not_an_error():
    cache = RedisCache(FakeRedis(broken=True), ttl_s=60, local_size=10)
    assert asyncio.run(cache.get("k")) is None
    asyncio.run(cache.set("k", VERDICT))  # does not raise


def test_service_uses_redis_when_configured(make_client):
    c = make_client(redis_url="redis://127.0.0.1:1/0")
    service = c.app.state.service
    assert isinstance(service.cache, RedisCache)
    fake = FakeRedis()
    service.cache = RedisCache(fake, ttl_s=60, local_size=0)  # local LRU off: every hit comes from Redis
    assert c.post("/v1/scan", content=b"campaign attachment").json()["cached"] is False
    assert len(fake.data) == 1
    r = c.post("/v1/scan", content=b"campaign attachment").json()
    assert r["cached"] is True
    assert 'maldoc_cache_lookups_total{backend="redis",result="hit"} 1.0' in c.get("/metrics").text


def test_build_cache_picks_the_backend():
    assert build_cache(0, None, 60).backend == "none"
    assert build_cache(10, None, 60).backend == "memory"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on this machine; "
                    "the fake client above covers the cache's use of Redis")
def test_real_redis_round_trip(tmp_path):
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)

        async def round_trip():
            cache = RedisCache.from_url(f"redis://127.0.0.1:{port}/0", ttl_s=60, local_size=1)
            await cache.set("k", VERDICT)
            other = RedisCache.from_url(f"redis://127.0.0.1:{port}/0", ttl_s=60, local_size=1)
            got = await other.get("k")
            await cache.close()
            await other.close()
            return got

        assert asyncio.run(round_trip()) == VERDICT
    finally:
        proc.terminate()
        proc.wait(10)
