"""The worker pool: a file that hangs, hogs memory or kills its worker costs only itself."""

from __future__ import annotations

from maldoc.limits import Limits
from maldoc.pool import ScanPool
from maldoc.types import Flag

import crashers
from builders import make_zip

GOOD = make_zip({"a.txt": b"hello"})


def test_hard_timeout_kills_only_that_file():
    with ScanPool(1, limits=Limits(timeout_s=1.0), task=crashers.hang_or_scan) as pool:
        hung = pool.submit(GOOD, "hang")
        fine = pool.submit(GOOD, "ok.zip")
        assert Flag.TIMED_OUT in hung.result(timeout=60).result.flags
        node = fine.result(timeout=60)
        assert node.result.flags == set() and len(node.children) == 1


def test_dead_worker_is_flagged_and_pool_goes_on():
    with ScanPool(1, task=crashers.die_or_scan) as pool:
        dead = pool.submit(GOOD, "die").result(timeout=60)
        after = pool.submit(GOOD, "ok.zip").result(timeout=60)
    assert Flag.WORKER_DIED in dead.result.flags
    assert dead.sha256 == after.sha256 and len(after.children) == 1


def test_memory_limit_stops_a_hog():
    with ScanPool(1, limits=Limits(max_memory_mb=1024), task=crashers.hog_or_scan) as pool:
        hog = pool.submit(GOOD, "hog").result(timeout=60)
        after = pool.submit(GOOD, "ok.zip").result(timeout=60)
    assert hog.result.flags & {Flag.LIMIT_EXCEEDED, Flag.WORKER_DIED}
    assert len(after.children) == 1


def test_real_analysis_round_trips_through_workers():
    with ScanPool(2) as pool:
        futures = [pool.submit(make_zip({f"{i}.txt": b"x"}), f"{i}.zip") for i in range(6)]
        nodes = [f.result(timeout=60) for f in futures]
    assert [n.name for n in nodes] == [f"{i}.zip" for i in range(6)]
    assert all(n.children[0].name == f"{i}.txt" for i, n in enumerate(nodes))


def test_cancelling_a_scan_frees_its_worker():
    with ScanPool(1, limits=Limits(timeout_s=600), task=crashers.hang_or_scan) as pool:
        hung = pool.submit(GOOD, "hang")
        assert hung.cancel()
        # With the hung task still holding the only worker this would wait the full 600 s.
        after = pool.submit(GOOD, "ok.zip").result(timeout=60)
    assert len(after.children) == 1
