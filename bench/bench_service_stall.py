"""How long the service's event loop stalls while answering a cached re-scan of a huge verdict.

    .venv/bin/python bench/bench_service_stall.py [--members 4000]

A verdict of N members (ten findings each at the evidence cap, about 4 KB of JSON per member:
the shape of a ZIP with thousands of members) is cached, then asked for under a new name. The
baseline is the old path, on the loop: deep-copy the cached verdict to rename it, then serialise
the answer. Ours is the service's path: decode the cached bytes and rename in a thread, serialise
in a thread, both node by node (one pydantic call over the whole verdict would hold the GIL, so
a thread alone does not free the loop). For each, a ticker coroutine measures the loop's worst
lag (what `/healthz` waits) and the wall time of the whole answer.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from hostile_tasks import wide

from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.scoring import RuleScorer, build_verdict
from maldoc.serving.codec import dump_json
from maldoc.serving.service import _decode, _encode
from maldoc.verdict import Verdict


def old_renamed(verdict: Verdict, name: str) -> Verdict:
    """The service's rename before this change: a deep copy, on the event loop."""
    old = verdict.path
    copy = verdict.model_copy(deep=True)
    for node in copy.walk():
        if node is copy:
            node.path, node.name = name, name
            continue
        rest = node.path[len(old) + 3:] if old and node.path.startswith(old + " > ") else node.path
        node.path = f"{name} > {rest}" if name else rest
    return copy


async def measure(answer) -> tuple[float, float]:
    """(worst loop lag, wall time) while `answer()` runs."""
    worst, stop = 0.0, asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await answer()
    wall = time.perf_counter() - started
    stop.set()
    await task
    return worst, wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=4000)
    args = parser.parse_args()
    node = wide(f"WIDE {args.members}\n".encode(), "first.zip", Limits(), Options())
    blob = _encode(build_verdict(node, RuleScorer()))
    del node
    print(f"verdict: {args.members} members, {len(blob) / 2**20:.1f} MiB cached")
    # As in the service: what the cache holds is bytes, and start-up objects are frozen out of the GC.
    gc.collect()
    gc.freeze()

    async def ours() -> None:
        renamed = await asyncio.to_thread(_decode, blob, "second.zip")
        await asyncio.to_thread(dump_json, renamed)

    lag, wall = asyncio.run(measure(ours))
    print(f"{'ours (decode, rename, serialise in threads)':46} worst loop lag {lag * 1000:8.1f} ms   "
          f"answer {wall * 1000:8.1f} ms")
    cached = _decode(blob, "first.zip")  # the old cache held verdict objects

    async def baseline() -> None:
        old_renamed(cached, "second.zip").model_dump_json()

    lag, wall = asyncio.run(measure(baseline))
    print(f"{'baseline (copy + serialise on the loop)':46} worst loop lag {lag * 1000:8.1f} ms   "
          f"answer {wall * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
