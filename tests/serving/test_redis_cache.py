"""The shared verdict cache against a real Redis: the test starts `redis-server` on a loopback port
(no persistence), and scanning services share it, in one process and as two `maldoc serve`
processes. A Redis that dies or hangs in the middle of a run must cost no scan.

Skips, with the reason, when redis-server is not installed (scripts/install-gateways.sh)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from contextlib import contextmanager

import httpx
import pytest
from gateway_env import CLEAN_DOCX, MALICIOUS_DOCM, clean_env, free_port, missing, process, wait_port
from serving_support import settings

from maldoc.serving.service import Service

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(missing("redis-server") is not None, reason=str(missing("redis-server")))]


@contextmanager
def redis_server(folder, port: int | None = None):
    port = port or free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), "--daemonize", "no"]
    with process(args, folder / f"redis-{port}.log") as proc:
        wait_port(port, proc=proc)
        yield proc, port


def keys(port: int) -> list[bytes]:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    try:
        return client.keys("maldoc:*")
    finally:
        client.close()


def scan(service: Service, data: bytes, name: str = "a.docm"):
    return asyncio.wait_for(service.scan(data, name, kind="file"), 60)


def test_two_services_share_verdicts(tmp_path):
    with redis_server(tmp_path) as (_, port):
        url = f"redis://127.0.0.1:{port}/0"

        async def go():
            shared = {"redis_url": url, "cache_hmac_key": "test-replicas-share-this-key"}  # as replicas must
            one, two = Service(settings(**shared)), Service(settings(**shared))
            await one.start()
            await two.start()
            try:
                first = await scan(one, MALICIOUS_DOCM.read_bytes())
                second = await scan(two, MALICIOUS_DOCM.read_bytes(), "renamed.docm")
            finally:
                await one.stop()
                await two.stop()
            return first.response, second.response

        first, second = asyncio.run(go())
        assert not first.cached and second.cached
        assert second.decision == first.decision and second.score == first.score
        assert second.verdict.name == "renamed.docm"  # the cached verdict shown under this request's name
        assert len(keys(port)) == 1


def test_two_service_processes_share_verdicts(tmp_path):
    with redis_server(tmp_path) as (_, redis_port):
        ports = [free_port(), free_port()]
        env = clean_env(MALDOC_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", MALDOC_WORKERS="1",
                        MALDOC_CACHE_HMAC_KEY="test-replicas-share-this-key")
        with process([sys.executable, "-m", "maldoc.serving", "--port", str(ports[0])], tmp_path / "a.log",
                     env=env) as a, \
             process([sys.executable, "-m", "maldoc.serving", "--port", str(ports[1])], tmp_path / "b.log",
                     env=env) as b:
            for port, proc in zip(ports, (a, b), strict=True):
                wait_port(port, proc=proc)
            answers = []
            for port in ports:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, trust_env=False) as client:
                    deadline = time.monotonic() + 60
                    while client.get("/readyz").status_code != 200:
                        assert time.monotonic() < deadline, "service not ready"
                        time.sleep(0.2)
                    answers.append(client.post("/v1/scan", params={"filename": "x.docm"},
                                               content=MALICIOUS_DOCM.read_bytes()).json())
        assert answers[0]["cached"] is False and answers[1]["cached"] is True
        assert answers[0]["decision"] == answers[1]["decision"] == "malicious"


def test_redis_dying_mid_run_degrades_to_the_local_cache(tmp_path, caplog):
    async def go(proc, port):
        service = Service(settings(redis_url=f"redis://127.0.0.1:{port}/0"))
        await service.start()
        try:
            before = await scan(service, MALICIOUS_DOCM.read_bytes())
            assert len(keys(port)) == 1
            proc.kill()  # Redis goes away in the middle of the run
            proc.wait(10)
            with caplog.at_level(logging.WARNING, logger="maldoc.serving"):
                during = await scan(service, CLEAN_DOCX.read_bytes(), "b.docx")
                again = await scan(service, CLEAN_DOCX.read_bytes(), "b.docx")
                old = await scan(service, MALICIOUS_DOCM.read_bytes())
            return before.response, during.response, again.response, old.response
        finally:
            await service.stop()

    with redis_server(tmp_path) as (proc, port):
        before, during, again, old = asyncio.run(go(proc, port))
    assert before.decision.value == "malicious" and during.decision.value == "clean"
    assert during.failure is None and not during.cached
    assert again.cached and old.cached  # answered from the in-process cache while Redis is gone
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "redis" in r.getMessage()]
    assert warnings, "no log line says that the verdict cache lost Redis"


def test_redis_coming_back_is_used_again(tmp_path):
    port = free_port()

    async def go():
        service = Service(settings(redis_url=f"redis://127.0.0.1:{port}/0"))
        await service.start()
        try:
            with redis_server(tmp_path, port):
                await scan(service, MALICIOUS_DOCM.read_bytes())
            await scan(service, CLEAN_DOCX.read_bytes(), "down.docx")  # Redis is down: still scanned
            with redis_server(tmp_path, port):
                deadline = time.monotonic() + 120
                while True:  # a new verdict must reach the restarted Redis (after any back-off)
                    await scan(service, f"<html><body>{time.monotonic()}</body></html>".encode(), "p.html")
                    if keys(port):
                        return True
                    assert time.monotonic() < deadline, "the service never used the restarted Redis"
                    await asyncio.sleep(1)
        finally:
            await service.stop()

    assert asyncio.run(go())


def test_a_hung_redis_is_not_asked_on_every_scan(tmp_path):
    """A Redis that stops answering (SIGSTOP: connections open, no replies) costs a socket timeout
    per call. After one such failure the cache should serve from the in-process LRU for a while,
    not wait on Redis again for each of the next scans."""

    async def go(proc, port):
        service = Service(settings(redis_url=f"redis://127.0.0.1:{port}/0"))
        await service.start()
        calls = 0
        client = service.cache.client
        original_get = client.get

        async def counted_get(*args, **kwargs):
            nonlocal calls
            calls += 1
            return await original_get(*args, **kwargs)

        client.get = counted_get
        try:
            await scan(service, MALICIOUS_DOCM.read_bytes())  # connection established and working
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                results = [await scan(service, f"<html><p>{i}</p></html>".encode(), f"{i}.html") for i in range(5)]
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            return calls, results
        finally:
            await service.stop()

    with redis_server(tmp_path) as (proc, port):
        calls, results = asyncio.run(go(proc, port))
    assert all(r.response.failure is None for r in results)  # scans never fail (this holds today)
    assert calls <= 2, f"Redis was asked {calls} times while it hung"
