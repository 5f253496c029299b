"""PDF speed: maldoc's PDF extractor next to a pdfid-style raw scan and a full pdfminer parse.

    .venv/bin/python bench/bench_pdf.py [--limit N] [--label benign|malicious|malformed]

All three run on the same corpus PDFs (../shared/corpus, or MALDOC_CORPUS), one after the other in
this process, one core. Columns: p50 / p90 / p99 / max seconds per file, files per second, files
that raised (or, for pdfminer, hit the 10 s alarm).

- raw scan:  `_pdf_raw.scan`, the keyword and structure pass alone (what pdfid does).
- extractor: `PdfExtractor.extract` (raw scan + bounded object walk + JS, actions, children).
- analyze:   `maldoc.engine.analyze`, the whole core on the file: detection, the PDF and URL
             extractors, and every embedded file scanned as a child.
- pdfminer:  PDFDocument + every object of every xref resolved and every stream decoded.
"""

from __future__ import annotations

import argparse
import io
import logging
import signal
import statistics
import time
from collections.abc import Callable

from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import PDFStream

from maldoc.engine import analyze
from maldoc.extractor import Context
from maldoc.extractors import _pdf_raw
from maldoc.extractors.pdf import PdfExtractor
from maldoc.limits import Budget, Limits
from maldoc.training.corpus import Corpus, shared_corpus
from maldoc.types import ExtractorResult, Sample

PDFMINER_ALARM_S = 10


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):  # SIGALRM is fine here: a single-threaded benchmark script
    raise _Alarm


def run_extractor(data: bytes) -> None:
    limits = Limits()
    PdfExtractor().extract(Sample(data, "bench.pdf"), Context(limits, Budget(limits)), ExtractorResult())


def run_analyze(data: bytes) -> None:
    analyze(data, "bench.pdf")


def run_pdfminer(data: bytes) -> None:
    signal.alarm(PDFMINER_ALARM_S)
    try:
        doc = PDFDocument(PDFParser(io.BytesIO(data)))
        for xref in doc.xrefs:
            for objid in xref.get_objids():
                try:
                    obj = doc.getobj(objid)
                except Exception:
                    continue
                if isinstance(obj, PDFStream):
                    try:
                        obj.get_data()
                    except Exception:
                        continue
    finally:
        signal.alarm(0)


def measure(name: str, fn: Callable[[bytes], None], blobs: list[bytes]) -> tuple[list[float], int]:
    times: list[float] = []
    failures = 0
    for data in blobs:
        start = time.perf_counter()
        try:
            fn(data)
        except Exception:  # the baseline may fail on broken files; count, keep going
            failures += 1
        times.append(time.perf_counter() - start)
    return times, failures


def row(name: str, times: list[float], failures: int) -> str:
    t = sorted(times)
    q = statistics.quantiles(t, n=100, method="inclusive") if len(t) > 1 else t * 99
    total = sum(t)
    return (f"{name:<11} {q[49]:>8.4f} {q[89]:>8.4f} {q[98]:>8.4f} {t[-1]:>8.3f} {len(t) / total:>9.1f} "
            f"{failures:>7}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N PDFs only")
    ap.add_argument("--label", default="", help="only this label")
    ap.add_argument("--skip-pdfminer", action="store_true")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # pdfminer logs every oddity of broken files
    signal.signal(signal.SIGALRM, _on_alarm)
    root = shared_corpus()
    if root is None:
        raise SystemExit("no corpus: ../shared/corpus absent and MALDOC_CORPUS unset")
    with Corpus(root) as corpus:
        items = [i for i in corpus.items() if i.get("format") == "pdf" and (not args.label or i.label == args.label)]
        if args.limit:
            items = items[: args.limit]
        blobs = [i.read() for i in items]
    size = sum(map(len, blobs))
    print(f"{len(blobs)} PDFs, {size / 1e6:.1f} MB, mean {size / max(len(blobs), 1) / 1024:.0f} KiB")
    print(f"{'':<11} {'p50 s':>8} {'p90 s':>8} {'p99 s':>8} {'max s':>8} {'files/s':>9} {'failed':>7}")
    runs = [("raw scan", _pdf_raw.scan), ("extractor", run_extractor), ("analyze", run_analyze)]
    if not args.skip_pdfminer:
        runs.append(("pdfminer", run_pdfminer))
    results = {}
    for name, fn in runs:
        results[name] = measure(name, fn, blobs)
        print(row(name, *results[name]), flush=True)
    ours = results["extractor"][0]
    slow = sorted(((t, i.sha256[:16], len(b)) for t, i, b in zip(ours, items, blobs, strict=True)), reverse=True)[:5]
    print("slowest (extractor):", ", ".join(f"{s[1]} {s[2] // 1024} KiB {s[0]:.3f}s" for s in slow))


if __name__ == "__main__":
    main()
