"""HTTP overhead of the scanning service: the same files through `maldoc serve` and in-process.

    .venv/bin/python bench/bench_service.py [--files 48] [--requests 300] [--seconds 20]

For concurrency 1, 8 and 32 it sends a fixed mix of files (synthetic, inert: maldoc.samples when
present, else small docx/pdf/html/eml built here) to a real uvicorn on 127.0.0.1 with the cache
off, and scans the same sequence in-process with a ScanPool of the same size, scoring in the
parent like the service. It prints requests/s, p50/p95/p99 latency and errors side by side,
then the in-process batch throughput, the p99 of attachments without macros or JavaScript,
and the service time of cache hits (a second server with the cache on), checked against the
goals of issue 8. Every loop is bounded in count and time; traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import email.message
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field

PLAIN_MARKERS = (b"<script", b"/javascript", b"/js", b"vbaproject", b"_vba_project", b"vba", b"macro",
                 b"excel4", b"auto_open")


@dataclass(frozen=True)
class File:
    name: str
    data: bytes
    plain: bool  # no macros, JavaScript or encryption: the goal is p99 <= 100 ms for these


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered request
    plain: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


# -- the file mix ---------------------------------------------------------------------------
def _docx(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        zf.writestr("word/document.xml", f"<w:document><w:body><w:p>{text}</w:p></w:body></w:document>")
    return buf.getvalue()


def _pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n4 0 obj<</Length %d>>stream\n" % len(stream)
            + stream + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _eml(i: int) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.com", f"Report {i}"
    msg["Message-ID"] = f"<{i}@example.org>"
    msg.set_content(f"Please find report {i} attached.\n")
    msg.add_attachment(_docx(f"report {i}"), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename=f"r{i}.docx")
    return msg.as_bytes()


def _fallback_files(count: int) -> list[File]:
    out = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            out.append(File(f"{i}.docx", _docx(f"Quarterly figures {i} " * 20), True))
        elif kind == 1:
            out.append(File(f"{i}.pdf", _pdf(f"Invoice {i}"), True))
        elif kind == 2:
            out.append(File(f"{i}.html", f"<html><body><p>Newsletter {i}</p></body></html>".encode(), True))
        elif kind == 3:
            out.append(File(f"{i}.eml", _eml(i), True))
        else:
            script = f"<script>var s=atob('{'QUJD' * 50}');document.write(s + {i});</script>"
            out.append(File(f"{i}.html", f"<html><body>{script}</body></html>".encode(), False))
    return out


def build_files(count: int) -> list[File]:
    try:
        from maldoc.samples.generate import generate_samples
    except ImportError:
        return _fallback_files(count)
    out = []
    for s in generate_samples(count, seed=11):
        low = s.data.lower()
        # Password-protected documents are their own cost class: the agile-encryption key derivation
        # (100,000 SHA-512 rounds per password tried) is slow by design, macros or not.
        encrypted = any(k in s.family for k in ("encrypt", "aes", "crypt"))
        plain = s.label == "benign" and not encrypted and not any(m in low for m in PLAIN_MARKERS)
        out.append(File(s.name, s.data, plain))
    return out


# -- in-process: the same pool, scoring in the parent like the service ------------------------
async def inprocess_level(pool, scorer, files: list[File], concurrency: int, requests: int, seconds: float) -> Stats:
    from maldoc.scoring import build_verdict

    stats = Stats()
    sequence = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        for i in sequence:
            if time.monotonic() > deadline:
                return
            f = files[i % len(files)]
            started = time.perf_counter()
            node = await asyncio.wrap_future(pool.submit(f.data, f.name))
            build_verdict(node, scorer).model_dump_json()  # the service serialises too
            elapsed = time.perf_counter() - started
            stats.latencies.append(elapsed)
            if f.plain:
                stats.plain.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.wall = time.perf_counter() - started
    return stats


def batch_inprocess(pool, scorer, files: list[File], rounds: int) -> float:
    """Files/s when the whole mix is submitted at once (the CLI's batch mode)."""
    from maldoc.scoring import build_verdict

    started = time.perf_counter()
    futures = [pool.submit(f.data, f.name) for _ in range(rounds) for f in files]
    for fut in futures:
        build_verdict(fut.result(), scorer).model_dump_json()
    return len(futures) / (time.perf_counter() - started)


# -- over HTTP: a minimal keep-alive client (cheap, so the load generator steals little CPU) --
class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        payload = await self.reader.readexactly(length)
        if re.search(rb"(?i)\r\nconnection: *close", head):
            self.writer.close()
            self.writer = None
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def http_level(port: int, files: list[File], concurrency: int, requests: int, seconds: float,
                     service_times: list[float] | None = None) -> Stats:
    stats = Stats()
    sequence = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        conn = Connection(port)
        try:
            for i in sequence:
                if time.monotonic() > deadline:
                    return
                f = files[i % len(files)]
                started = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(conn.post(f"/v1/scan?filename={f.name}", f.data), 120)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, AttributeError):
                    stats.errors += 1
                    conn.close()
                    conn = Connection(port)
                    continue
                elapsed = time.perf_counter() - started
                if status != 200:
                    stats.errors += 1
                    continue
                stats.latencies.append(elapsed)
                if f.plain:
                    stats.plain.append(elapsed)
                if service_times is not None:
                    doc = json.loads(payload)
                    if doc["cached"]:
                        service_times.append(doc["service_ms"] / 1000)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.wall = time.perf_counter() - started
    return stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m maldoc.serving` on a free loopback port, for the duration of a `with`."""

    def __init__(self, workers: int, cache_size: int) -> None:
        self.port = free_port()
        self.args = [sys.executable, "-m", "maldoc.serving", "--host", "127.0.0.1", "--port", str(self.port),
                     "--workers", str(workers), "--cache-size", str(cache_size), "--max-queue", "1024"]

    def __enter__(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALDOC_")}
        self.proc = subprocess.Popen(self.args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the service exited during start-up")
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the service did not become ready in 120 s")

    def __exit__(self, *exc) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def row(label: str, s: Stats) -> str:
    return (f"{label:<22} {s.count:>5} {s.errors:>4} {s.rate():>8.1f} {s.pct(s.latencies, 50):>8.1f} "
            f"{s.pct(s.latencies, 95):>8.1f} {s.pct(s.latencies, 99):>8.1f} {s.pct(s.plain, 99):>10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=48, help="distinct files in the mix")
    parser.add_argument("--requests", type=int, default=300, help="requests per level (upper bound)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time per level (upper bound)")
    parser.add_argument("--workers", type=int, default=None, help="scan workers (default: one per core)")
    args = parser.parse_args()

    from maldoc.model import load_scorer
    from maldoc.pool import ScanPool, default_jobs

    workers = args.workers or default_jobs()
    files = build_files(args.files)
    levels = (1, 8, 32)
    scorer = load_scorer()
    print(f"{len(files)} files ({sum(f.plain for f in files)} without macros, JavaScript or encryption), "
          f"{sum(len(f.data) for f in files) / len(files) / 1024:.1f} KiB mean; {workers} scan workers; "
          f"model {scorer.version}; cores {os.cpu_count()}")

    inproc: dict[int, Stats] = {}
    with ScanPool(workers) as pool:
        for f in files:  # warm every worker and every extractor once
            pool.submit(f.data, f.name).result()
        batch = batch_inprocess(pool, scorer, files, rounds=max(1, min(3, args.requests // len(files))))
        for c in levels:
            inproc[c] = asyncio.run(inprocess_level(pool, scorer, files, c, args.requests, args.seconds))

    http: dict[int, Stats] = {}
    with Server(workers, cache_size=0) as server:
        asyncio.run(http_level(server.port, files, 2, len(files), 60))  # warm-up, not counted
        for c in levels:
            http[c] = asyncio.run(http_level(server.port, files, c, args.requests, args.seconds))

    hits: list[float] = []
    with Server(workers, cache_size=10_000) as server:
        asyncio.run(http_level(server.port, files, 2, len(files), 60))  # fill the cache
        cached = asyncio.run(http_level(server.port, files, 8, args.requests, args.seconds, service_times=hits))
        cached1 = asyncio.run(http_level(server.port, files, 1, args.requests, args.seconds))

    print(f"\n{'':<22} {'req':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'plain p99':>10}")
    for c in levels:
        print(row(f"c={c:<3} in-process", inproc[c]))
        print(row(f"c={c:<3} http", http[c]))
    print(row("c=8   http cache hits", cached))
    print(row("c=1   http cache hits", cached1))
    print(f"\nin-process batch throughput: {batch:.1f} files/s")
    hit_p50 = statistics.median(hits) * 1000 if hits else float("nan")
    hit_p99 = Stats.pct(hits, 99)
    print(f"cache hit service time: p50 {hit_p50:.3f} ms, p99 {hit_p99:.3f} ms over {len(hits)} hits")

    errors = sum(s.errors for s in (*http.values(), cached))
    goals = [
        ("zero errors", errors == 0, f"{errors} errors"),
        ("http c=8 throughput >= 90% of in-process batch", http[8].rate() >= 0.9 * batch,
         f"{http[8].rate():.1f} vs {batch:.1f} files/s ({http[8].rate() / batch:.0%})"),
        ("http p99 <= 1.2x in-process p99 (c=8)", http[8].pct(http[8].latencies, 99)
         <= 1.2 * inproc[8].pct(inproc[8].latencies, 99),
         f"{http[8].pct(http[8].latencies, 99):.1f} vs {inproc[8].pct(inproc[8].latencies, 99):.1f} ms"),
        ("plain attachments p99 <= 100 ms (http c=1)", http[1].pct(http[1].plain, 99) <= 100,
         f"{http[1].pct(http[1].plain, 99):.1f} ms"),
        ("cache hit service time < 1 ms (p99)", hit_p99 < 1.0, f"{hit_p99:.3f} ms"),
    ]
    print()
    for name, ok, detail in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {name}: {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
