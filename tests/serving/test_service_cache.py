"""The verdict cache: key, LRU bound, and Redis (through a fake client: no redis-server needed)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

from maldoc import scan
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.scoring import RuleScorer
from maldoc.serving.cache import KEY_VERSION, LRUCache, RedisCache, build_cache, cache_key

VERDICT = scan(b"hello", "a.txt", model=RuleScorer())
BLOB = VERDICT.model_dump_json().encode()


class FakeRedis:
    """The two calls the cache makes, on a dict; `broken` makes every call fail like a dead server."""

    def __init__(self, broken: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.broken = broken
        self.ttls: dict[str, int] = {}
        self.calls = 0

    async def get(self, key):
        self.calls += 1
        if self.broken:
            raise ConnectionError("connection refused")
        return self.data.get(key)

    async def set(self, key, value, ex=None):
        self.calls += 1
        if self.broken:
            raise ConnectionError("connection refused")
        self.data[key] = value
        self.ttls[key] = ex


def test_key_changes_with_model_options_limits_and_endpoint():
    base = cache_key("ab" * 32, "rules", Options(), Limits(), "file")
    assert base.startswith(f"maldoc:v{KEY_VERSION}:" + "ab" * 32 + ":rules:")
    assert base == cache_key("ab" * 32, "rules", Options(), Limits(), "file")
    others = {cache_key("ab" * 32, "m-2", Options(), Limits(), "file"),
              cache_key("ab" * 32, "rules", Options(passwords=("x",)), Limits(), "file"),
              cache_key("ab" * 32, "rules", Options(keep_macros=True), Limits(), "file"),
              cache_key("ab" * 32, "rules", Options(), Limits(max_depth=2), "file"),
              cache_key("ab" * 32, "rules", Options(), Limits(), "email")}
    assert base not in others and len(others) == 5


def test_model_identity_holds_the_thresholds_and_the_bundle(tmp_path):
    from serving_support import make_bundle

    from maldoc.model import ModelBundle
    from maldoc.serving.modelstore import Loaded

    def ident(scorer):
        return Loaded(scorer, source="x", generation=1).cache_id

    assert ident(RuleScorer()) == ident(RuleScorer())
    assert ident(RuleScorer()) != ident(RuleScorer(threshold=0.8))
    one = ModelBundle.load(make_bundle(tmp_path / "a", "same", seed=1))
    same_text = ModelBundle.load(make_bundle(tmp_path / "b", "same", seed=1, malicious=0.9))
    assert one.meta["model_sha256"] == same_text.meta["model_sha256"]  # same model text ...
    assert ident(one) != ident(same_text)  # ... other thresholds: other cache entries


def test_lru_evicts_the_least_recently_used():
    cache = LRUCache(2)
    cache.set_now("a", b"1")
    cache.set_now("b", b"2")
    assert cache.get_now("a") == b"1"  # a is now the most recent
    cache.set_now("c", b"3")
    assert cache.get_now("b") is None and cache.get_now("a") == b"1" and len(cache) == 2


def test_lru_is_bounded_in_bytes():
    cache = LRUCache(1000, max_bytes=1000)
    for i in range(10):
        cache.set_now(f"k{i}", bytes(200))
    assert cache.bytes <= 1000 and len(cache) == 5
    assert cache.get_now("k9") is not None and cache.get_now("k0") is None
    cache.set_now("huge", bytes(600))  # more than a quarter of the whole cache: not kept
    assert cache.get_now("huge") is None and cache.bytes <= 1000
    cache.new_generation()
    assert len(cache) == 0 and cache.bytes == 0


def test_redis_cache_shares_verdicts_between_replicas():
    shared = FakeRedis()
    one = RedisCache(shared, ttl_s=60, local_size=10, hmac_key=b"k" * 32)
    two = RedisCache(shared, ttl_s=60, local_size=10, hmac_key=b"k" * 32)
    asyncio.run(one.set("k", BLOB))
    assert shared.ttls["k"] == 60
    assert asyncio.run(two.get("k")) == BLOB
    assert two.local.get_now("k") == BLOB  # kept locally for the next hit
    large = b"x" * (3 << 20)  # sealed and checked in a thread
    asyncio.run(one.set("big", large))
    assert asyncio.run(RedisCache(shared, ttl_s=60, local_size=0, hmac_key=b"k" * 32).get("big")) == large


def test_redis_entries_that_fail_the_hmac_are_misses(caplog):
    shared = FakeRedis()
    writer = RedisCache(shared, ttl_s=60, local_size=0, hmac_key=b"k" * 32)
    asyncio.run(writer.set("k", BLOB))
    stranger = RedisCache(shared, ttl_s=60, local_size=0, hmac_key=b"other-key" * 4)
    with caplog.at_level("WARNING", logger="maldoc.serving"):
        assert asyncio.run(stranger.get("k")) is None
    assert "HMAC" in caplog.text
    # a planted value (no tag, or a tag moved from another key) is refused too
    shared.data["planted"] = BLOB
    shared.data["moved"] = shared.data["k"]
    assert asyncio.run(writer.get("planted")) is None
    assert asyncio.run(writer.get("moved")) is None
    tampered = bytearray(shared.data["k"])
    tampered[-3] ^= 1
    shared.data["k"] = bytes(tampered)
    assert asyncio.run(writer.get("k")) is None


def test_redis_outage_degrades_to_the_local_cache_and_retries_later(caplog):
    fake = FakeRedis(broken=True)
    cache = RedisCache(fake, ttl_s=60, local_size=10, hmac_key=b"k" * 32, retry_s=0.2)
    with caplog.at_level("INFO", logger="maldoc.serving"):
        assert asyncio.run(cache.get("k")) is None
        asyncio.run(cache.set("k", BLOB))  # does not raise; kept locally
        assert asyncio.run(cache.get("k")) == BLOB
        calls = fake.calls
        asyncio.run(cache.set("k2", BLOB))
        assert fake.calls == calls  # within the retry window redis is not tried at all
        assert caplog.text.count("in-process cache alone") == 1
        fake.broken = False
        deadline = time.monotonic() + 10
        while not cache.available and time.monotonic() < deadline:
            time.sleep(0.05)
        asyncio.run(cache.set("k3", BLOB))
    assert "k3" in fake.data and "reachable again" in caplog.text


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


def test_service_keeps_scanning_when_redis_is_down(make_client):
    c = make_client(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    for _ in range(2):
        r = c.post("/v1/scan", content=b"redis is down")
        assert r.status_code == 200 and r.json()["failure"] is None
    assert r.json()["cached"] is True  # from the in-process cache in front of it


def test_build_cache_picks_the_backend():
    assert build_cache(0, None, 60).backend == "none"
    assert build_cache(10, None, 60, max_bytes=0).backend == "none"
    assert build_cache(10, None, 60).backend == "memory"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on this machine; "
                    "the fake client above covers the cache's use of Redis")
def test_real_redis_round_trip(tmp_path):
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)

        async def round_trip():
            url = f"redis://127.0.0.1:{port}/0"
            cache = RedisCache.from_url(url, ttl_s=60, local_size=1, hmac_key=b"k" * 32)
            await cache.set("k", BLOB)
            other = RedisCache.from_url(url, ttl_s=60, local_size=1, hmac_key=b"k" * 32)
            got = await other.get("k")
            await cache.close()
            await other.close()
            return got

        assert asyncio.run(round_trip()) == BLOB
    finally:
        proc.terminate()
        proc.wait(10)


def _tree():
    from serving_support import message_with_attachments

    from maldoc import scan as scan_one

    return scan_one(message_with_attachments(), "mail.eml", model=RuleScorer())


def test_codec_round_trips_a_verdict_node_by_node():
    from maldoc.serving.codec import dump_json, pack, unpack

    verdict = _tree()
    assert len(list(verdict.walk())) > 2
    assert unpack(pack(verdict)) == verdict
    assert json.loads(dump_json(verdict)) == json.loads(verdict.model_dump_json())
    renamed = unpack(pack(verdict), "other.eml")
    assert renamed.name == renamed.path == "other.eml"
    assert [v.path.replace("other.eml", "mail.eml", 1) for v in renamed.walk()] == [v.path for v in verdict.walk()]
    for broken in (pack(verdict)[:-5], pack(verdict).split(b"\n", 1)[0], b"", b"x {}"):
        with pytest.raises(ValueError):
            unpack(broken)


def test_a_cache_hit_never_shows_the_first_senders_file_name():
    """Findings' and reasons' locations and error lines name the file too: renamed with the paths."""
    from maldoc.serving.codec import pack, unpack

    verdict = _tree()
    nodes = list(verdict.walk())
    assert any(f.location.startswith("mail.eml") for n in nodes for f in n.findings), "the tree names its file"
    nodes[-1].errors = ["mail.eml > x: parser failed (ValueError)"]
    shown = unpack(pack(verdict), "other.eml")
    texts = [t for n in shown.walk() for t in (*(f.location for f in (*n.findings, *n.reasons)), *n.errors, n.path)]
    assert texts and not any("mail.eml" in t for t in texts)
    assert any(t.startswith("other.eml") for n in shown.walk() for t in (f.location for f in n.findings))
