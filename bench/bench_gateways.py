"""The same files through REST, clamd INSTREAM and ICAP RESPMOD, beside the in-process engine.

    .venv/bin/python bench/bench_gateways.py [--files 48] [--requests 160] [--seconds 20] [--workers 2]

Each face runs as its own process on 127.0.0.1 (`maldoc serve`, `maldoc clamd`, `maldoc icap`),
one at a time, with the verdict cache off and the same number of scan workers; the baseline is
`Service.scan()` called in this process (the same engine, pool and scoring, no socket). For
concurrency 1 and 8 it prints files/s and p50/p99 latency per face in one table. Files are
synthetic and inert (maldoc.samples). Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0

    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def build_files(count: int) -> list[tuple[str, bytes]]:
    from maldoc.samples.generate import generate_samples

    return [(s.name, s.data) for s in generate_samples(count, seed=11)]


# -- one request per face ------------------------------------------------------------------------
class Rest:
    def __init__(self, port: int) -> None:
        self.port, self.rw = port, None

    async def send(self, name: str, data: bytes) -> bool:
        if self.rw is None:
            self.rw = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.rw
        writer.write(f"POST /v1/scan?filename={name} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        await reader.readexactly(length)
        return head.startswith(b"HTTP/1.1 200")

    async def close(self) -> None:
        if self.rw:
            self.rw[1].close()


class Clamd:
    """clamd clients open one connection per INSTREAM (rspamd, clamdscan --stream do)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def send(self, name: str, data: bytes) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            frames = b"".join(struct.pack(">I", len(data[i:i + 65536])) + data[i:i + 65536]
                              for i in range(0, len(data), 65536))
            writer.write(b"zINSTREAM\0" + frames + struct.pack(">I", 0))
            answer = await reader.readuntil(b"\0")
            return answer.startswith(b"stream: ") and not answer.endswith(b"ERROR\0")
        finally:
            writer.close()

    async def close(self) -> None:
        pass


class Icap:
    def __init__(self, port: int) -> None:
        self.port, self.rw = port, None

    async def send(self, name: str, data: bytes) -> bool:
        if self.rw is None:
            self.rw = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.rw
        res_hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
        writer.write(b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n"
                     + f"Encapsulated: res-hdr=0, res-body={len(res_hdr)}\r\n\r\n".encode() + res_hdr
                     + f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        if b"null-body" not in head:  # a detection: the replacement page, chunked
            await reader.readuntil(b"\r\n0\r\n\r\n")
        return head.startswith((b"ICAP/1.0 204", b"ICAP/1.0 200"))

    async def close(self) -> None:
        if self.rw:
            self.rw[1].close()


async def level(make, files, concurrency: int, requests: int, seconds: float) -> Stats:
    stats = Stats()
    sequence = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        client = make()
        try:
            for i in sequence:
                if time.monotonic() > deadline:
                    return
                name, data = files[i % len(files)]
                started = time.perf_counter()
                try:
                    ok = await asyncio.wait_for(client.send(name, data), 120)
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    ok = False
                    client = make()
                if ok:
                    stats.latencies.append(time.perf_counter() - started)
                else:
                    stats.errors += 1
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.wall = time.perf_counter() - started
    return stats


async def inprocess(files, workers: int, concurrencies, requests: int, seconds: float) -> dict[int, Stats]:
    from maldoc.serving.service import Service
    from maldoc.serving.settings import Settings

    service = Service(Settings(workers=workers, cache_size=0, max_queue=256))
    await service.start()

    class Direct:
        async def send(self, name: str, data: bytes) -> bool:
            await service.scan(data, name, kind="file")
            return True

        async def close(self) -> None:
            pass

    try:
        await level(Direct, files, 2, len(files), seconds)  # warm-up
        return {c: await level(Direct, files, c, requests, seconds) for c in concurrencies}
    finally:
        await service.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"nothing listening on {port}")


def run_face(face: str, files, workers: int, concurrencies, requests: int, seconds: float, log: Path):
    port = free_port()
    common = ["--workers", str(workers), "--cache-size", "0", "--max-queue", "256", "--log-level", "warning"]
    command = {"rest": ["serve", "--port", str(port)], "clamd": ["clamd", "--port", str(port)],
               "icap": ["icap", "--port", str(port)]}[face]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALDOC_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "maldoc.cli", *command, *common], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(port, proc)
        make = {"rest": lambda: Rest(port), "clamd": lambda: Clamd(port), "icap": lambda: Icap(port)}[face]
        if face == "rest":  # uvicorn listens before the lifespan finishes warming the workers
            time.sleep(1)
        asyncio.run(level(make, files, 2, len(files), seconds))  # warm-up
        return {c: asyncio.run(level(make, files, c, requests, seconds)) for c in concurrencies}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--requests", type=int, default=160, help="requests per face and concurrency")
    parser.add_argument("--seconds", type=float, default=20, help="time cap per face and concurrency")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = build_files(args.files)
    concurrencies = (1, 8)
    print(f"{len(files)} files, {statistics.mean(len(d) for _, d in files) / 1024:.1f} KiB on average; "
          f"{args.workers} scan workers; cache off; loopback", flush=True)
    results = {"in-process (baseline)": asyncio.run(inprocess(files, args.workers, concurrencies, args.requests,
                                                                args.seconds))}
    with tempfile.TemporaryDirectory() as tmp:
        for face, label in (("rest", "REST POST /v1/scan"), ("clamd", "clamd INSTREAM"), ("icap", "ICAP RESPMOD")):
            results[label] = run_face(face, files, args.workers, concurrencies, args.requests, args.seconds,
                                      Path(tmp) / f"{face}.log")
    print(f"\n{'face':<24} {'conc':>4} {'files/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'vs base':>8}")
    base = results["in-process (baseline)"]
    for label, per_level in results.items():
        for c, stats in per_level.items():
            ratio = stats.rate() / base[c].rate() if base[c].rate() else float("nan")
            print(f"{label:<24} {c:>4} {stats.rate():>8.1f} {stats.pct(50):>8.1f} {stats.pct(99):>8.1f} "
                  f"{stats.errors:>6} {ratio:>7.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
