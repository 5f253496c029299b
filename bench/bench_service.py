"""The scanning service beside the in-process engine: the same files, the same number of workers.

    .venv/bin/python bench/bench_service.py [--folder DIR] [--real 300] [--files 48] [--workers 2]

Two file sets, one after the other: real files (every file below `--folder`, or, by default, a
fixed sample of the corpus's files under 1 MB read through `maldoc.training.corpus` when
../shared/corpus is present; held in memory only) and a generated mix (synthetic, inert:
maldoc.samples when present, else small docx/pdf/html/eml built here). For each set:
  engine        the baseline: `maldoc.engine.Engine(jobs=N)` in this process, `scan_async` at each
                concurrency (what the service calls, without HTTP), and `scan_many` over the set
  http miss     a real uvicorn on 127.0.0.1 (`maldoc.serving`, N workers) with the cache off:
                every request a cache miss; each file sent once per round
  http hit      a second server with the cache on, filled first: every request a cache hit
The engine and the cache-off server are up together and their rounds alternate (three at
concurrency 8, the median by throughput shown). Rows: requests, errors, req/s, p50/p95/p99 ms,
and the p99 of attachments without macros or JavaScript. The goals (issue 18): at concurrency
8 the service's cache-miss throughput at least 0.9x the engine's, and its p99 at most 2x the
engine's p99 at the same concurrency. Every loop is bounded in count and time; traffic stays on
loopback.
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
    done: int = 0  # answers counted without a latency (a batch)

    @property
    def count(self) -> int:
        return len(self.latencies) + self.done + self.errors

    def rate(self) -> float:
        return (len(self.latencies) + self.done) / self.wall if self.wall else 0.0

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


MAX_REAL_BYTES = 1 << 20  # the service figure: real files under 1 MB


def _plain(name: str, data: bytes, label: str) -> bool:
    low = data.lower()
    return label != "malicious" and not any(m in low for m in PLAIN_MARKERS)


def folder_files(folder: str, limit: int) -> list[File]:
    """Every regular file below `folder` (sorted, at most `limit`, each under 1 MB), read into memory."""
    from pathlib import Path

    out: list[File] = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if len(out) >= limit:
            break
        if path.stat().st_size <= MAX_REAL_BYTES:
            data = path.read_bytes()
            out.append(File(path.name, data, _plain(path.name, data, "")))
    return out


def corpus_files(limit: int) -> list[File]:
    """A fixed sample (every k-th by sha256) of the shared corpora's files under 1 MB, read into
    memory; the corpus loader keeps its own temporary folder, nothing is written here."""
    from maldoc.training.corpus import load_corpora, shared_corpora

    roots = shared_corpora()
    if not roots:
        return []
    items = sorted((i for i in load_corpora(roots) if i.path.stat().st_size <= MAX_REAL_BYTES),
                   key=lambda i: i.sha256)
    step = max(1, len(items) // max(limit, 1))
    out = []
    for item in items[::step][:limit]:
        data = item.read()
        out.append(File(f"{item.sha256[:16]}.{item.get('format') or 'bin'}", data, _plain("", data, item.label)))
    return out


# -- in-process: the engine the service wraps, same workers, no HTTP ------------------------------
async def engine_level(engine, files: list[File], concurrency: int, requests: int, seconds: float) -> Stats:
    """`Engine.scan_async` (admission, pool, scoring thread) at `concurrency`, then JSON like the service."""
    stats = Stats()
    sequence = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        for i in sequence:
            if time.monotonic() > deadline:
                return
            f = files[i % len(files)]
            started = time.perf_counter()
            verdict, _node = await engine.scan_async(f.data, f.name)
            verdict.model_dump_json()  # the service serialises too
            elapsed = time.perf_counter() - started
            stats.latencies.append(elapsed)
            if f.plain:
                stats.plain.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.wall = time.perf_counter() - started
    return stats


def engine_batch(engine, files: list[File], rounds: int) -> Stats:
    """`Engine.scan_many` over the set (the CLI's batch form): files/s only (its in-order delivery
    has no per-request latency; the scan_async rows give that)."""
    stats = Stats()
    started = time.perf_counter()
    items = [(i, (lambda d=f.data: d)) for _ in range(rounds) for i, f in enumerate(files)]
    done = 0
    for _key, verdict, _node in engine.scan_many(items, total=len(items)):
        verdict.model_dump_json()
        done += 1
    stats.wall = time.perf_counter() - started
    stats.done = done
    return stats


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
    return (f"{label:<26} {s.count:>5} {s.errors:>4} {s.rate():>8.1f} {s.pct(s.latencies, 50):>8.1f} "
            f"{s.pct(s.latencies, 95):>8.1f} {s.pct(s.latencies, 99):>8.1f} {s.pct(s.plain, 99):>10.1f}")


HEADER = (f"{'':<26} {'req':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'plain p99':>10}")


def _median_run(runs: list[Stats]) -> Stats:
    return sorted(runs, key=Stats.rate)[(len(runs) - 1) // 2]


def measure(title: str, files: list[File], workers: int, levels: tuple[int, ...], requests: int,
            seconds: float, rounds: int = 3) -> list[tuple[str, bool, str]]:
    from maldoc.engine import Engine

    print(f"\n{title}: {len(files)} files ({sum(f.plain for f in files)} without macros, JavaScript or "
          f"encryption), {sum(len(f.data) for f in files) / len(files) / 1024:.1f} KiB mean; {workers} workers")
    requests = requests or len(files)
    # Both sides stay up together and their rounds alternate (engine, http, engine, http, ...): on a
    # shared machine the load changes from minute to minute, and a ratio of runs minutes apart
    # measures that rather than the service. Each row is the median round by throughput.
    inproc: dict[int, Stats] = {}
    http: dict[int, Stats] = {}
    with Engine(jobs=workers, max_queue=1024) as engine, Server(workers, cache_size=0) as server:
        engine.warm_up()
        engine.scorer  # noqa: B018 - loaded now, not inside the first measured scan
        for f in files[: 2 * workers]:  # every worker has scanned something
            engine.scan(f.data, f.name)
        asyncio.run(http_level(server.port, files[: 4 * workers], 2, 4 * workers, 60))  # warm-up, not counted
        batch = engine_batch(engine, files, rounds=max(1, requests // len(files)))
        for c in levels:
            pairs = [(asyncio.run(engine_level(engine, files, c, requests, seconds)),
                      asyncio.run(http_level(server.port, files, c, requests, seconds)))
                     for _ in range(rounds if c == 8 else 1)]
            inproc[c] = _median_run([p[0] for p in pairs])
            http[c] = _median_run([p[1] for p in pairs])
            if len(pairs) > 1:
                print(f"c={c} rounds, req/s engine / http: " + ", ".join(
                    f"{e.rate():.0f} / {h.rate():.0f}" for e, h in pairs))
    hits: list[float] = []
    with Server(workers, cache_size=10_000) as server:
        asyncio.run(http_level(server.port, files, 4, len(files), 120))  # fill the cache
        cached = asyncio.run(http_level(server.port, files, 8, requests, seconds, service_times=hits))
    print(HEADER)
    print(row("engine scan_many (batch)", batch))  # the baseline: the engine's own batch form
    for c in levels:
        print(row(f"c={c:<3} engine scan_async", inproc[c]))
        print(row(f"c={c:<3} http cache miss", http[c]))
    print(row("c=8   http cache hit", cached))
    hit_p50 = statistics.median(hits) * 1000 if hits else float("nan")
    print(f"cache hit service time: p50 {hit_p50:.3f} ms, p99 {Stats.pct(hits, 99):.3f} ms over {len(hits)} hits")
    c = 8 if 8 in levels else levels[-1]
    miss, base = http[c], inproc[c]
    base_rate = base.rate()  # the engine at the same concurrency, measured in the same minutes
    return [
        (f"{title}: zero errors", miss.errors + cached.errors == 0, f"{miss.errors + cached.errors} errors"),
        (f"{title}: http c={c} cache-miss throughput >= 0.9x the engine's", miss.rate() >= 0.9 * base_rate,
         f"{miss.rate():.1f} vs {base_rate:.1f} files/s ({miss.rate() / base_rate:.2f}x)"),
        (f"{title}: http c={c} p99 <= 2x the engine's p99 (c={c})",
         miss.pct(miss.latencies, 99) <= 2 * base.pct(base.latencies, 99),
         f"{miss.pct(miss.latencies, 99):.1f} vs {base.pct(base.latencies, 99):.1f} ms "
         f"({miss.pct(miss.latencies, 99) / base.pct(base.latencies, 99):.2f}x)"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", help="real files to send (default: the shared corpus's, when present)")
    parser.add_argument("--real", type=int, default=300, help="real files at most (each sent once per level)")
    parser.add_argument("--files", type=int, default=48, help="distinct files in the generated mix (0: none)")
    parser.add_argument("--requests", type=int, default=300, help="requests per level, generated mix (upper bound)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time per level (upper bound)")
    parser.add_argument("--workers", type=int, default=2, help="scan workers, service and engine alike")
    parser.add_argument("--rounds", type=int, default=3, help="alternating engine/http rounds at concurrency 8")
    args = parser.parse_args()

    from maldoc.model import load_scorer

    print(f"model {load_scorer().version}; cores {os.cpu_count()}; {args.workers} workers on both sides")
    goals: list[tuple[str, bool, str]] = []
    real = folder_files(args.folder, args.real) if args.folder else corpus_files(args.real)
    if real:
        goals += measure("real files" + (f" ({args.folder})" if args.folder else " (corpus)"), real, args.workers,
                         (1, 8), 0, args.seconds, args.rounds)
    else:
        print("no real files: --folder not given and ../shared/corpus is absent")
    if args.files:
        goals += measure("generated mix", build_files(args.files), args.workers, (1, 8, 32), args.requests,
                         args.seconds, args.rounds)
    print()
    for name, ok, detail in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {name}: {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
